"""Pure diffusion math on scalars and tiny tensors."""
import torch

from world_model.edm import (edm_scalings, euler_step, karras_sigmas, pyramid_sigmas, reward_bins, twohot,
                             twohot_mean)


def test_karras_schedule_descends_to_zero():
    sigmas = karras_sigmas(6, 0.002, 5.0)
    assert sigmas.shape == (7,)
    assert torch.isclose(sigmas[0], torch.tensor(5.0)) and torch.isclose(sigmas[-2], torch.tensor(0.002))
    assert sigmas[-1] == 0
    assert (sigmas[1:] < sigmas[:-1]).all()


def test_edm_scalings_identity_at_zero_noise():
    c_skip, c_out, c_in, c_noise = edm_scalings(torch.tensor([0.0, 1e-8]), sigma_data=0.5)
    assert torch.allclose(c_skip, torch.ones(2)) and torch.allclose(c_out, torch.zeros(2), atol=1e-7)
    assert torch.isfinite(c_noise).all()


def test_edm_scalings_unit_variance_input():
    sigma = torch.tensor(3.0)
    _, _, c_in, _ = edm_scalings(sigma, sigma_data=1.0)
    # A unit-variance latent plus noise of std 3 has variance 10; c_in brings it back to 1.
    assert torch.isclose(c_in**2 * (1 + sigma**2), torch.tensor(1.0))


def test_euler_step_reaches_the_denoised_value_at_zero():
    x, denoised = torch.randn(4), torch.randn(4)
    assert torch.allclose(euler_step(x, denoised, torch.tensor(2.0), torch.tensor(0.0)), denoised)
    assert torch.allclose(euler_step(x, denoised, torch.tensor(2.0), torch.tensor(2.0)), x)


def test_pyramid_without_lag_is_karras_and_with_lag_keeps_far_frames_noisier():
    flat = pyramid_sigmas(4, 8, 0.002, 5.0, lag=0.0)
    assert torch.allclose(flat, karras_sigmas(4, 0.002, 5.0)[:, None].expand(5, 8))
    lagged = pyramid_sigmas(4, 8, 0.002, 5.0, lag=1.0)
    assert (lagged[-1] == 0).all() and torch.allclose(lagged[0], torch.full((8,), 5.0))
    assert (lagged[1:-1, 1:] >= lagged[1:-1, :-1] - 1e-6).all()
    assert (lagged[2, -1] > lagged[2, 0])


def test_twohot_decodes_exactly():
    bins = reward_bins(33, 100.0)
    values = torch.tensor([-3.0, 0.0, 0.5, 4.0, 37.0])
    target = twohot(values, bins)
    assert torch.allclose(target.sum(-1), torch.ones(5))
    assert torch.allclose(twohot_mean(target.clamp(min=1e-30).log(), bins), values, atol=1e-4)
