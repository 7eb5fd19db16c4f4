"""Dreaming: generate imagined trajectories from real contexts, with the policy in the loop.

Whole-trajectory mode denoises all H future frames jointly in K network
evaluations. At every denoising step the policy re-chooses every action from
the current prediction of the clean frames, inverting its cumulative
distribution at one uniform number per slot that is fixed for the whole
sampling, so an action only changes when the policy's distribution really moves.
Autoregressive mode runs the same sampler with H = 1, frame after frame, each
new frame conditioned on the model's own previous outputs: H*K evaluations.
"""
from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch.distributions import Categorical

from world_model.edm import euler_step, heun_step, pyramid_sigmas
from world_model.model import WorldModel

# latent windows (B, N, C, c, h, w) -> action logits (B, N, A)
Policy = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class SamplerConfig:
    num_steps: int = 4
    """K: denoising steps (network evaluations per Euler sampling)"""
    sigma_min: float = 2e-3
    """smallest nonzero noise level of the schedule"""
    sigma_max: float = 5.0
    """noise level the future frames start from"""
    rho: float = 7.0
    """Karras schedule curvature"""
    pyramid_lag: float = 0.0
    """0: all frames share one schedule; >0: far frames lag behind near ones (pyramid)"""
    solver: str = "euler"
    """euler (K evaluations) or heun (about 2K evaluations)"""


@dataclass
class Dream:
    latents: torch.Tensor
    """(B, C + H, c, h, w): the real context followed by the dreamed frames"""
    actions: torch.Tensor
    """(B, H): action k is taken at frame C - 1 + k of `latents` and leads into frame C + k"""
    log_probs: torch.Tensor
    """(B, H) log-probability of each action under the policy when it was chosen (0 without a policy)"""
    entropies: torch.Tensor
    """(B, H) entropy of the policy at each step (0 without a policy)"""
    rewards: torch.Tensor
    """(B, H) predicted reward of transition k (into frame C + k), real scale"""
    end_probs: torch.Tensor
    """(B, H) predicted probability that each transition ends the episode"""
    network_evals: int
    """DiT evaluations used for the whole batch"""

    def split(self, parts: int) -> list["Dream"]:
        """The batch cut into `parts` dreams of (nearly) equal size, in order; [self] for one part."""
        if parts == 1:
            return [self]
        fields = ("latents", "actions", "log_probs", "entropies", "rewards", "end_probs")
        chunks = zip(*(getattr(self, name).tensor_split(parts) for name in fields))
        return [Dream(*chunk, network_evals=self.network_evals) for chunk in chunks]


def stable_categorical(probs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Inverse-CDF sample: the action whose cumulative-probability interval holds u. probs (..., A), u (...)."""
    cdf = probs.cumsum(-1)
    return (cdf < u[..., None]).sum(-1).clamp(max=probs.shape[-1] - 1)


def history_windows(latents: torch.Tensor, context: int) -> torch.Tensor:
    """(B, T, c, h, w) -> (B, T - C + 1, C, c, h, w): window n holds frames n .. n + C - 1."""
    return latents.unfold(1, context, 1).permute(0, 1, 5, 2, 3, 4)


def _choose_actions(policy: Policy, context, future_hat, u):
    """Actions at frames C-1 .. C+H-2, chosen by the policy on the predicted trajectory."""
    C, H = context.shape[1], future_hat.shape[1]
    windows = history_windows(torch.cat([context, future_hat], dim=1), C)[:, :H]  # (B, H, C, c, h, w)
    dist = Categorical(logits=policy(windows).float())  # (B, H, A)
    actions = stable_categorical(dist.probs, u)
    return actions, dist.log_prob(actions), dist.entropy()


@torch.no_grad()
def dream(model: WorldModel, context: torch.Tensor, context_actions: torch.Tensor, cfg: SamplerConfig,
          policy: Optional[Policy] = None, actions: Optional[torch.Tensor] = None,
          horizon: Optional[int] = None, generator: Optional[torch.Generator] = None) -> Dream:
    """Denoise H future frames jointly from C real latents `context` (B, C, c, h, w).

    `context_actions` (B, C - 1) are the actions taken between the context frames. Give either a
    `policy` (actions chosen inside the denoising loop) or the `actions` (B, H) to follow (open loop).
    """
    if (policy is None) == (actions is None):
        raise ValueError("dream needs exactly one of policy and actions")
    B, C = context.shape[:2]
    H = horizon or model.cfg.horizon
    device = context.device
    sigmas = pyramid_sigmas(cfg.num_steps, H, cfg.sigma_min, cfg.sigma_max, cfg.pyramid_lag, cfg.rho).to(device)
    noise = torch.randn(B, H, *context.shape[2:], generator=generator, device=device)
    x = noise * sigmas[0][None, :, None, None, None]
    u = torch.rand(B, H, generator=generator, device=device)
    # Before the first prediction the best guess of the future is the last real frame, repeated.
    future_hat = context[:, -1:].expand(-1, H, -1, -1, -1)
    zeros = torch.zeros(B, H, device=device)
    log_probs, entropies = zeros, zeros
    none = torch.full((B, 1), model.num_actions, dtype=torch.long, device=device)
    context_sigma = torch.zeros(B, C, device=device)
    evals = 0

    def denoise(x_future, sigma_future):
        nonlocal evals
        evals += 1
        sigma = torch.cat([context_sigma, sigma_future.expand(B, H)], dim=1)
        denoised, reward_logits, end_logits = model.denoise(torch.cat([context, x_future], 1), sigma, actions_in)
        return denoised[:, C:], reward_logits[:, C:], end_logits[:, C:]

    for i in range(cfg.num_steps):
        if policy is not None:
            actions, log_probs, entropies = _choose_actions(policy, context, future_hat, u)
        actions_in = torch.cat([none, context_actions, actions], dim=1)  # (B, C + H)
        future_hat, reward_logits, end_logits = denoise(x, sigmas[i])
        sigma, sigma_next = (s[None, :, None, None, None] for s in (sigmas[i], sigmas[i + 1]))
        if cfg.solver == "heun":
            x = heun_step(x, future_hat, sigma, sigma_next, lambda z, s: denoise(z, s.view(1, H))[0])
        else:
            x = euler_step(x, future_hat, sigma, sigma_next)
    return Dream(latents=torch.cat([context, x], dim=1), actions=actions, log_probs=log_probs,
                 entropies=entropies, rewards=model.reward(reward_logits),
                 end_probs=end_logits.sigmoid(), network_evals=evals)


@torch.no_grad()
def dream_autoregressive(model: WorldModel, context: torch.Tensor, context_actions: torch.Tensor,
                         cfg: SamplerConfig, policy: Optional[Policy] = None,
                         actions: Optional[torch.Tensor] = None, horizon: Optional[int] = None,
                         generator: Optional[torch.Generator] = None) -> Dream:
    """The step-by-step baseline: H one-frame dreams, each from the last C frames (real or dreamed)."""
    C, H = context.shape[1], horizon or model.cfg.horizon
    latents, taken = context, context_actions
    steps = []
    for k in range(H):
        step_actions = None if actions is None else actions[:, k:k + 1]
        window_actions = taken[:, taken.shape[1] - (C - 1):]  # (B, C - 1), also right when C = 1
        step = dream(model, latents[:, -C:], window_actions, cfg, policy, step_actions, horizon=1,
                     generator=generator)
        latents = torch.cat([latents, step.latents[:, -1:]], dim=1)
        taken = torch.cat([taken, step.actions], dim=1)
        steps.append(step)
    cat = lambda name: torch.cat([getattr(s, name) for s in steps], dim=1)  # noqa: E731
    return Dream(latents=latents, actions=cat("actions"), log_probs=cat("log_probs"),
                 entropies=cat("entropies"), rewards=cat("rewards"), end_probs=cat("end_probs"),
                 network_evals=sum(s.network_evals for s in steps))
