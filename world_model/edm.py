"""EDM diffusion math (Karras et al. 2022) as small pure functions.

Noise levels `sigma` broadcast against the latents they scale, so the same
functions serve one shared level per sample or one level per frame.
"""
import math

import torch


def edm_scalings(sigma: torch.Tensor, sigma_data: float, sigma_floor: float = 2e-3):
    """Preconditioning (c_skip, c_out, c_in, c_noise) for noise level `sigma`.

    At sigma = 0 the denoiser is the identity (c_skip = 1, c_out = 0). The log in
    c_noise is floored because clean context frames carry sigma = 0.
    """
    var = sigma**2 + sigma_data**2
    c_skip = sigma_data**2 / var
    c_out = sigma * sigma_data / var.sqrt()
    c_in = 1.0 / var.sqrt()
    c_noise = sigma.clamp(min=sigma_floor).log() / 4
    return c_skip, c_out, c_in, c_noise


def sample_training_sigmas(shape, p_mean: float = -0.4, p_std: float = 1.2, generator=None, device=None):
    """Log-normal training noise levels: log(sigma) ~ N(p_mean, p_std^2)."""
    normal = torch.randn(shape, generator=generator, device=device)
    return (p_mean + p_std * normal).exp()


def karras_sigmas(num_steps: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> torch.Tensor:
    """The `num_steps` noise levels of Karras' schedule, descending, then a final 0: (K + 1,)."""
    ramp = torch.linspace(0, 1, num_steps) if num_steps > 1 else torch.zeros(1)
    inv_max, inv_min = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    sigmas = (inv_max + ramp * (inv_min - inv_max)) ** rho
    return torch.cat([sigmas, torch.zeros(1)])


def pyramid_sigmas(num_steps: int, horizon: int, sigma_min: float, sigma_max: float,
                   lag: float = 0.0, rho: float = 7.0) -> torch.Tensor:
    """Per-frame schedules (K + 1, H): frame k lags `lag * (K - 1) * k / (H - 1)` steps behind frame 0.

    With lag = 0 every column is `karras_sigmas`; with lag > 0 far frames stay
    noisier than near ones ("pyramid") yet all reach 0 after the same K steps.
    """
    base = karras_sigmas(num_steps, sigma_min, sigma_max, rho)  # (K + 1,)
    step = torch.arange(num_steps + 1, dtype=torch.float32)[:, None]  # (K + 1, 1)
    frac = torch.arange(horizon, dtype=torch.float32) / max(horizon - 1, 1)  # (H,)
    delay = lag * (num_steps - 1) * frac  # (H,)
    position = (step * (num_steps + delay) / num_steps - delay).clamp(0, num_steps)  # (K + 1, H)
    low = position.floor().long().clamp(max=num_steps - 1)
    weight = position - low
    # Interpolate in sigma^(1/rho) space, where Karras' schedule is linear.
    inv = base ** (1 / rho)
    return ((1 - weight) * inv[low] + weight * inv[low + 1]) ** rho


def ode_slope(x: torch.Tensor, denoised: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """dx/dsigma of the probability-flow ODE; 0 where sigma is 0 (clean frames do not move)."""
    return torch.where(sigma > 0, (x - denoised) / torch.where(sigma > 0, sigma, torch.ones_like(sigma)), 0.0)


def euler_step(x: torch.Tensor, denoised: torch.Tensor, sigma: torch.Tensor, sigma_next: torch.Tensor):
    """One Euler step of the probability-flow ODE from `sigma` to `sigma_next`."""
    return torch.where(sigma > 0, x + ode_slope(x, denoised, sigma) * (sigma_next - sigma), denoised)


def heun_step(x, denoised, sigma, sigma_next, denoise_fn):
    """One Heun (2nd-order) step; `denoise_fn(x, sigma)` is called once more unless sigma_next is 0."""
    x_euler = euler_step(x, denoised, sigma, sigma_next)
    if bool((sigma_next == 0).all()):
        return x_euler
    slope = ode_slope(x, denoised, sigma)
    slope_next = ode_slope(x_euler, denoise_fn(x_euler, sigma_next), sigma_next)
    return torch.where(sigma_next > 0, x + 0.5 * (slope + slope_next) * (sigma_next - sigma), x_euler)


def edm_loss_weight(sigma: torch.Tensor, sigma_data: float) -> torch.Tensor:
    """EDM's lambda(sigma), which makes the denoising loss unit-scaled at every level."""
    return (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2


def symlog(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.log1p(x.abs())


def symexp(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * (torch.exp(x.abs()) - 1)


def twohot(values: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """Spread each value over its two nearest bins (symlog space) so the mean decodes exactly: (..., n_bins)."""
    x = symlog(values).clamp(bins[0], bins[-1])
    upper = torch.searchsorted(bins, x.contiguous()).clamp(1, len(bins) - 1)
    lower = upper - 1
    w_upper = (x - bins[lower]) / (bins[upper] - bins[lower])
    target = torch.zeros(*values.shape, len(bins), device=values.device)
    target.scatter_(-1, lower[..., None], (1 - w_upper)[..., None])
    target.scatter_add_(-1, upper[..., None], w_upper[..., None])
    return target


def twohot_mean(logits: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """The real-scale value that a distribution over symlog bins predicts."""
    return symexp((logits.softmax(-1) * bins).sum(-1))


def reward_bins(num_bins: int, limit: float) -> torch.Tensor:
    """Bins evenly spaced in symlog space covering rewards in [-limit, limit]."""
    edge = math.log1p(limit)
    return torch.linspace(-edge, edge, num_bins)
