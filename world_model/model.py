"""The world model: EDM-preconditioned trajectory DiT with its training loss.

A training segment holds C context frames followed by H future frames. Future
frames are noised (one level per frame part of the time, one shared level the
rest); context frames get only a small augmentation. Rewards and terminations
of frame k are those of the transition that led into it.
"""
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from world_model.dit import DiTConfig, TrajectoryDiT
from world_model.edm import (edm_loss_weight, edm_scalings, reward_bins, sample_training_sigmas, twohot,
                             twohot_mean)


@dataclass
class WorldModelConfig:
    context: int = 4
    """C: real frames the dream starts from (also the policy's window)"""
    horizon: int = 16
    """H: future frames generated jointly"""
    sigma_data: float = 1.0
    """EDM's data standard deviation (latents are normalised to unit variance)"""
    p_mean: float = -0.4
    """mean of log(sigma) during training"""
    p_std: float = 1.2
    """std of log(sigma) during training"""
    independent_noise_prob: float = 0.5
    """fraction of segments whose future frames get independent noise levels"""
    context_noise_max: float = 0.1
    """context frames get noise uniform in [0, this] (augmentation against drift)"""
    clean_segment_prob: float = 0.0
    """fraction of segments whose future frames are noised like the context, for the reward and end heads only"""
    reward_weight: float = 1.0
    """weight of the reward cross-entropy"""
    end_weight: float = 1.0
    """weight of the termination cross-entropy"""

    def transition_steps(self) -> range:
        """Steps of a segment whose transitions lead into the future frames: those the reward and end heads learn."""
        return range(self.context - 1, self.context + self.horizon - 1)


def actions_into_frames(actions: torch.Tensor, num_actions: int) -> torch.Tensor:
    """Actions taken at each frame (B, T) -> the action that led into each frame (B, T); none into frame 0."""
    none = torch.full_like(actions[:, :1], num_actions)
    return torch.cat([none, actions[:, :-1]], dim=1)


class WorldModel(nn.Module):
    def __init__(self, cfg: WorldModelConfig, dit_cfg: DiTConfig, latent_shape, num_actions: int):
        super().__init__()
        self.cfg, self.num_actions = cfg, num_actions
        if cfg.context + cfg.horizon > dit_cfg.max_frames:
            raise ValueError(f"context + horizon ({cfg.context + cfg.horizon}) exceeds max_frames {dit_cfg.max_frames}")
        self.dit = TrajectoryDiT(dit_cfg, latent_shape, num_actions)
        self.register_buffer("reward_bins", reward_bins(dit_cfg.num_reward_bins, dit_cfg.reward_limit))

    def denoise(self, z: torch.Tensor, sigma: torch.Tensor, actions_in: torch.Tensor):
        """Denoised latents (B, T, c, h, w), reward logits (B, T, bins) and end logits (B, T)
        for latents `z` (B, T, c, h, w) at noise levels `sigma` (B, T); the first C frames are the context."""
        c_skip, c_out, c_in, c_noise = edm_scalings(sigma, self.cfg.sigma_data)
        expand = lambda s: s[:, :, None, None, None]  # noqa: E731  (B, T) -> broadcast over (c, h, w)
        out, reward_logits, end_logits = self.dit(expand(c_in) * z, c_noise, actions_in, self.cfg.context)
        return expand(c_skip) * z + expand(c_out) * out, reward_logits, end_logits

    def reward(self, reward_logits: torch.Tensor) -> torch.Tensor:
        """Real-scale reward predicted by the reward head."""
        return twohot_mean(reward_logits, self.reward_bins)

    def training_sigmas(self, batch_size: int, device) -> tuple[torch.Tensor, torch.Tensor]:
        """Noise levels (B, T): small augmentation on context, EDM levels on the future; and which segments
        (B, 1) are clean, their future noised like the context."""
        C, H = self.cfg.context, self.cfg.horizon
        independent = sample_training_sigmas((batch_size, H), self.cfg.p_mean, self.cfg.p_std, device=device)
        shared = sample_training_sigmas((batch_size, 1), self.cfg.p_mean, self.cfg.p_std, device=device)
        use_independent = torch.rand(batch_size, 1, device=device) < self.cfg.independent_noise_prob
        future = torch.where(use_independent, independent, shared.expand(-1, H))
        # The sampler reads rewards and ends at its last, nearly clean step (sigma_min), a level the EDM
        # distribution almost never draws; clean segments train the heads there. (No draws when off, so
        # runs without them keep their random streams.)
        clean = torch.zeros(batch_size, 1, dtype=torch.bool, device=device)
        if self.cfg.clean_segment_prob > 0:
            clean = torch.rand(batch_size, 1, device=device) < self.cfg.clean_segment_prob
            future = torch.where(clean, torch.rand(batch_size, H, device=device) * self.cfg.context_noise_max, future)
        context = torch.rand(batch_size, C, device=device) * self.cfg.context_noise_max
        return torch.cat([context, future], dim=1), clean

    def forward(self, batch: dict):
        """EDM-weighted denoising loss + reward and termination losses on a segment batch -> (loss, logs).

        batch: latents (B, C+H, c, h, w), actions (B, C+H) taken at each frame, rewards and terminated
        (B, C+H) of the transition that followed each frame, mask (B, C+H) True where the frame is real.
        """
        z, mask = batch["latents"], batch["mask"].float()
        B, C = z.shape[0], self.cfg.context
        sigma, clean = self.training_sigmas(B, z.device)  # (B, T), (B, 1)
        noisy = z + sigma[:, :, None, None, None] * torch.randn_like(z)
        actions_in = actions_into_frames(batch["actions"], self.num_actions)
        denoised, reward_logits, end_logits = self.denoise(noisy, sigma, actions_in)

        future_mask = mask[:, C:]  # (B, H)
        # Nearly clean frames leave nothing to denoise but the noise itself, so clean segments are left out.
        denoised_mask = future_mask * ~clean
        weight = edm_loss_weight(sigma[:, C:], self.cfg.sigma_data)  # (B, H)
        per_frame = (denoised[:, C:] - z[:, C:]).pow(2).mean(dim=(2, 3, 4))  # (B, H)
        # lambda(sigma) * MSE(D, z) is the same as the unit-weighted loss on the raw network output F.
        denoise_loss = masked_mean(weight * per_frame, denoised_mask)

        # Targets for future frame k come from the transition k-1 -> k.
        transitions = self.cfg.transition_steps()
        steps = slice(transitions.start, transitions.stop)
        reward_target = twohot(batch["rewards"][:, steps], self.reward_bins)  # (B, H, bins)
        reward_ce = -(reward_target * reward_logits[:, C:].log_softmax(-1)).sum(-1)
        reward_loss = masked_mean(reward_ce, future_mask)
        end_target = batch["terminated"][:, steps].float()
        end_ce = F.binary_cross_entropy_with_logits(end_logits[:, C:], end_target, reduction="none")
        end_loss = masked_mean(end_ce, future_mask)

        loss = denoise_loss + self.cfg.reward_weight * reward_loss + self.cfg.end_weight * end_loss
        logs = {"losses/world_model": loss.item(), "losses/denoise": denoise_loss.item(),
                "losses/reward": reward_loss.item(), "losses/termination": end_loss.item(),
                "world_model/latent_mse": masked_mean(per_frame, denoised_mask).item()}
        return loss, logs


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (values * mask).sum() / mask.sum().clamp(min=1)
