"""Trajectory DiT: a diffusion transformer over spacetime patches of latent frames.

Each frame of a trajectory carries its own noise level and the action that led
into it; both condition every token of the frame through adaLN-Zero. Attention
is block-causal in time, so frame k never sees frames or actions after it. The
last context frame also reaches every future frame's output directly, past the
tokens (the context skip).
Letters: B batch, T frames, P patches per frame, D width, A actions.
"""
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange


@dataclass
class DiTConfig:
    width: int = 256
    """token width D"""
    depth: int = 6
    """number of transformer blocks"""
    heads: int = 4
    """attention heads"""
    patch_size: int = 8
    """latent patch side; equal to the latent size gives one token per frame (the CPU default)"""
    max_frames: int = 32
    """longest trajectory (context + horizon) the temporal embedding covers"""
    num_reward_bins: int = 33
    """bins of the two-hot reward head (symlog spaced)"""
    reward_limit: float = 100.0
    """largest absolute reward the bins cover"""
    context_skip: bool = True
    """add to every future frame's output a copy of the last context frame, scaled per channel by its condition"""


def per_token(frame_values: torch.Tensor, num_tokens: int) -> torch.Tensor:
    """(B, T, X) values of each frame -> (B, T*P, X) for each of its P tokens.

    The condition is the same for every token of a frame, so the modulation layers run once per frame and
    only their outputs are repeated for the tokens."""
    B, T = frame_values.shape[:2]
    P = num_tokens // T
    return frame_values[:, :, None].expand(B, T, P, -1).reshape(B, num_tokens, -1)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


class NoiseEmbedding(nn.Module):
    """Fourier features of c_noise followed by an MLP: (...,) -> (..., D)."""

    def __init__(self, width: int, num_freqs: int = 64):
        super().__init__()
        self.register_buffer("freqs", torch.randn(num_freqs) * 4)
        self.mlp = nn.Sequential(nn.Linear(2 * num_freqs, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, c_noise: torch.Tensor) -> torch.Tensor:
        angles = 2 * torch.pi * c_noise[..., None] * self.freqs
        return self.mlp(torch.cat([angles.cos(), angles.sin()], dim=-1))


class Block(nn.Module):
    """Pre-norm transformer block whose norms and residual gates are set per token by the condition."""

    def __init__(self, cfg: DiTConfig):
        super().__init__()
        self.heads = cfg.heads
        self.norm1 = nn.LayerNorm(cfg.width, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(cfg.width, 3 * cfg.width)
        self.proj = nn.Linear(cfg.width, cfg.width)
        self.norm2 = nn.LayerNorm(cfg.width, elementwise_affine=False, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(cfg.width, 4 * cfg.width), nn.GELU(approximate="tanh"),
                                 nn.Linear(4 * cfg.width, cfg.width))
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(cfg.width, 6 * cfg.width))

    def forward(self, x: torch.Tensor, cond: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # x: (B, T*P, D); cond: (B, T, D), one per frame; mask: (T*P, T*P) bool, True where attention is allowed
        shift1, scale1, gate1, shift2, scale2, gate2 = per_token(self.modulation(cond), x.shape[1]).chunk(6, dim=-1)
        h = modulate(self.norm1(x), shift1, scale1)
        q, k, v = rearrange(self.qkv(h), "b n (three h d) -> three b h n d", three=3, h=self.heads)
        attn = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, heads, N, D / heads)
        x = x + gate1 * self.proj(rearrange(attn, "b h n d -> b n (h d)"))
        return x + gate2 * self.mlp(modulate(self.norm2(x), shift2, scale2))


class TrajectoryDiT(nn.Module):
    """Predicts, for every frame, the EDM network output F, a reward distribution and a termination logit."""

    def __init__(self, cfg: DiTConfig, latent_shape: tuple[int, int, int], num_actions: int):
        super().__init__()
        c, h, w = latent_shape
        if h % cfg.patch_size or w % cfg.patch_size:
            raise ValueError(f"patch_size {cfg.patch_size} must divide the latent size {h}x{w}")
        self.cfg, self.latent_shape, self.num_actions = cfg, latent_shape, num_actions
        self.grid = (h // cfg.patch_size, w // cfg.patch_size)
        num_patches = self.grid[0] * self.grid[1]
        patch_dim = c * cfg.patch_size**2
        self.patch_in = nn.Linear(patch_dim, cfg.width)
        self.time_pos = nn.Parameter(torch.zeros(cfg.max_frames, cfg.width))
        self.space_pos = nn.Parameter(torch.zeros(num_patches, cfg.width))
        # One extra action index stands for "no action led here" (the first frame).
        self.action_emb = nn.Embedding(num_actions + 1, cfg.width)
        self.noise_emb = NoiseEmbedding(cfg.width)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.final_norm = nn.LayerNorm(cfg.width, elementwise_affine=False, eps=1e-6)
        self.final_modulation = nn.Sequential(nn.SiLU(), nn.Linear(cfg.width, 2 * cfg.width))
        self.patch_out = nn.Linear(cfg.width, patch_dim)
        # One token of width D cannot carry a whole frame's detail; this path hands the model the last real frame
        # at full resolution, so it only has to predict what changes.
        self.context_gate = nn.Linear(cfg.width, c) if cfg.context_skip else None
        self.reward_head = nn.Sequential(nn.Linear(cfg.width, cfg.width), nn.SiLU(),
                                         nn.Linear(cfg.width, cfg.num_reward_bins))
        self.end_head = nn.Sequential(nn.Linear(cfg.width, cfg.width), nn.SiLU(), nn.Linear(cfg.width, 1))
        self.initialize_weights()

    def initialize_weights(self) -> None:
        def basic(module):
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        self.apply(basic)
        nn.init.normal_(self.time_pos, std=0.02)
        nn.init.normal_(self.space_pos, std=0.02)
        nn.init.normal_(self.action_emb.weight, std=0.02)
        # adaLN-Zero: every block starts as the identity and the output as zero.
        for block in self.blocks:
            nn.init.zeros_(block.modulation[-1].weight)
            nn.init.zeros_(block.modulation[-1].bias)
        for layer in (self.final_modulation[-1], self.patch_out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        if self.context_gate is not None:
            # At high noise the output F is the clean-frame estimate, so the model starts as "repeat the last frame".
            nn.init.zeros_(self.context_gate.weight)
            nn.init.ones_(self.context_gate.bias)

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor, actions_in: torch.Tensor, num_context: int):
        """x: (B, T, c, h, w) preconditioned latents, the first `num_context` of them the context; c_noise: (B, T);
        actions_in: (B, T) action into each frame (num_actions for none). Returns F (B, T, c, h, w) and, for the
        transition into each frame, reward logits (B, T, bins) and end logits (B, T)."""
        B, T = x.shape[:2]
        p = self.cfg.patch_size
        patches = rearrange(x, "b t c (gh p1) (gw p2) -> b t (gh gw) (c p1 p2)", p1=p, p2=p)
        P = patches.shape[2]
        action = self.action_emb(actions_in)  # (B, T, D)
        tokens = self.patch_in(patches) + self.time_pos[:T, None] + self.space_pos + action[:, :, None]  # (B, T, P, D)
        cond = self.noise_emb(c_noise) + action  # (B, T, D)
        h = tokens.reshape(B, T * P, -1)
        mask = block_causal_mask(T, P, x.device)
        for block in self.blocks:
            h = block(h, cond, mask)
        shift, scale = per_token(self.final_modulation(cond), T * P).chunk(2, dim=-1)
        out = self.patch_out(modulate(self.final_norm(h), shift, scale))  # (B, T*P, patch_dim)
        gh, gw = self.grid
        out = rearrange(out, "b (t gh gw) (c p1 p2) -> b t c (gh p1) (gw p2)", t=T, gh=gh, gw=gw, p1=p, p2=p)
        if self.context_gate is not None:
            # Context frames are (nearly) clean, so their preconditioned latent is (nearly) the latent itself.
            C = num_context
            skip = self.context_gate(cond[:, C:])[..., None, None] * x[:, C - 1:C]
            out = torch.cat([out[:, :C], out[:, C:] + skip], dim=1)
        # The transition into frame k is judged from frame k-1 and the action taken there, never from frame k
        # itself: a game's terminal frame can be an artifact (ViZDoom repeats the last frame at death) that
        # a dream would never reproduce, so a head reading it would not fire in dreams.
        frame_features = h.reshape(B, T, P, -1).mean(dim=2)  # (B, T, D)
        transition = frame_features[:, :-1] + action[:, 1:]  # (B, T-1, D): transition k-1 -> k at index k-1
        reward_logits = F.pad(self.reward_head(transition), (0, 0, 1, 0))  # (B, T, bins); nothing leads into frame 0
        end_logits = F.pad(self.end_head(transition).squeeze(-1), (1, 0), value=-20.0)  # (B, T)
        return out, reward_logits, end_logits


def block_causal_mask(num_frames: int, patches_per_frame: int, device=None) -> torch.Tensor:
    """(T*P, T*P) bool: a token may attend to every token of its own and earlier frames."""
    frame = torch.arange(num_frames, device=device).repeat_interleave(patches_per_frame)
    return frame[:, None] >= frame[None, :]
