"""Frame autoencoder: a (3, 64, 64) uint8 frame <-> a small latent (c, h, w).

The DiT works on these latents; the decoder exists to show dreams to people.
Latents handed to the diffusion model are normalised per channel to zero mean
and unit variance, with statistics tracked during training.
"""
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class AutoencoderConfig:
    latent_channels: int = 8
    """channels c of the latent (c, h, w)"""
    latent_size: int = 8
    """spatial size h = w of the latent; 64 must be divisible by it"""
    width: int = 32
    """channels of the first convolution, doubled at each downsampling"""
    stats_momentum: float = 0.01
    """EMA momentum of the latent mean / std used for normalisation"""
    detail_weight: float = 20.0
    """extra loss weight of a pixel per unit of its local contrast (0: every pixel weighs the same)"""

    def num_downsamples(self) -> int:
        steps = {32: 1, 16: 2, 8: 3, 4: 4}.get(self.latent_size)
        if steps is None:
            raise ValueError(f"latent_size must be one of 4, 8, 16, 32, not {self.latent_size}")
        return steps


class ResBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(nn.GroupNorm(8, channels), nn.SiLU(), nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Autoencoder(nn.Module):
    """Strided convolutions straight from 64x64 (no full-resolution layers, which dominate CPU cost),
    a residual block at each lower resolution."""

    def __init__(self, cfg: AutoencoderConfig):
        super().__init__()
        self.cfg = cfg
        widths = [3] + [cfg.width * 2**i for i in range(cfg.num_downsamples())]
        down = []
        for i, (w_in, w_out) in enumerate(zip(widths, widths[1:])):
            down += [nn.Conv2d(w_in, w_out, 4, stride=2, padding=1), nn.SiLU()]
            down += [ResBlock(w_out)] if i > 0 else []
        down += [nn.Conv2d(widths[-1], cfg.latent_channels, 3, padding=1)]
        self.encoder = nn.Sequential(*down)
        up = [nn.Conv2d(cfg.latent_channels, widths[-1], 3, padding=1), nn.SiLU()]
        for i, (w_in, w_out) in enumerate(zip(widths[::-1], widths[::-1][1:])):
            up += [ResBlock(w_in)] if w_out != 3 else []
            up += [nn.ConvTranspose2d(w_in, w_out, 4, stride=2, padding=1)]
            up += [nn.SiLU()] if w_out != 3 else []
        self.decoder = nn.Sequential(*up)
        self.register_buffer("latent_mean", torch.zeros(cfg.latent_channels))
        self.register_buffer("latent_std", torch.ones(cfg.latent_channels))

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        return (self.cfg.latent_channels, self.cfg.latent_size, self.cfg.latent_size)

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 frames (..., 3, 64, 64) -> normalised latents (..., c, h, w)."""
        lead = frames.shape[:-3]
        x = frames.reshape(-1, *frames.shape[-3:]).float() / 127.5 - 1
        z = self.encoder(x)
        z = (z - self.latent_mean[:, None, None]) / self.latent_std[:, None, None]
        return z.reshape(*lead, *z.shape[1:])

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Normalised latents (..., c, h, w) -> uint8 frames (..., 3, 64, 64)."""
        return to_uint8(self.decode_float(latents))

    def decode_float(self, latents: torch.Tensor) -> torch.Tensor:
        lead = latents.shape[:-3]
        z = latents.reshape(-1, *latents.shape[-3:])
        z = z * self.latent_std[:, None, None] + self.latent_mean[:, None, None]
        x = self.decoder(z)
        return x.reshape(*lead, *x.shape[1:])

    def forward(self, frames: torch.Tensor):
        """Reconstruction loss on uint8 frames (N, 3, 64, 64) -> (loss, logs)."""
        target = frames.float() / 127.5 - 1
        z = self.encoder(target)  # (N, c, h, w), unnormalised
        self._update_stats(z.detach())
        recon = self.decoder(z)
        error = recon - target
        # Small objects (a distant fireball, a monster) cover a few pixels of flat floor and wall; weighed like
        # every other pixel they are averaged away, and neither the world model nor the policy ever sees them.
        weight = 1 + self.cfg.detail_weight * local_contrast(target)
        reconstruction = (weight * (error.abs() + error.pow(2))).mean() / weight.mean()
        # A light penalty keeps the latent scale from drifting while the DiT learns on it.
        loss = reconstruction + 1e-4 * z.pow(2).mean()
        psnr = 10 * torch.log10(4.0 / error.detach().pow(2).mean().clamp(min=1e-10))
        return loss, {"losses/autoencoder": loss.item(), "autoencoder/psnr": psnr.item()}

    @torch.no_grad()
    def _update_stats(self, z: torch.Tensor) -> None:
        m = self.cfg.stats_momentum
        self.latent_mean.lerp_(z.mean(dim=(0, 2, 3)), m)
        self.latent_std.lerp_(z.std(dim=(0, 2, 3)).clamp(min=1e-3), m)

    @torch.no_grad()
    def calibrate(self, frames: torch.Tensor) -> None:
        """Set the latent statistics from a batch at once (used before the first DiT update)."""
        z = self.encoder(frames.float() / 127.5 - 1)
        self.latent_mean.copy_(z.mean(dim=(0, 2, 3)))
        self.latent_std.copy_(z.std(dim=(0, 2, 3)).clamp(min=1e-3))


def local_contrast(frames: torch.Tensor, size: int = 7) -> torch.Tensor:
    """(N, 3, H, W) frames in [-1, 1] -> (N, 1, H, W): mean absolute difference from the size x size neighbourhood."""
    neighbourhood = F.avg_pool2d(frames, size, stride=1, padding=size // 2, count_include_pad=False)
    return (frames - neighbourhood).abs().mean(dim=1, keepdim=True)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Decoder output in [-1, 1] -> uint8 pixels."""
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
