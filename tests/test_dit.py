"""The trajectory DiT on tiny tensors: shapes, identity at initialisation, block-causality."""
import pytest
import torch

from world_model.dit import DiTConfig, TrajectoryDiT
from world_model.model import WorldModel, WorldModelConfig

LATENT = (4, 4, 4)


def tiny_dit(patch_size=2, **kw):
    torch.manual_seed(0)
    return TrajectoryDiT(DiTConfig(width=32, depth=2, heads=2, patch_size=patch_size, max_frames=8, **kw), LATENT, 3)


def test_every_block_is_the_identity_at_initialisation():
    dit = tiny_dit()
    x, cond = torch.randn(2, 12, 32), torch.randn(2, 12, 32)
    mask = torch.ones(12, 12, dtype=torch.bool)
    for block in dit.blocks:
        assert torch.equal(block(x, cond, mask), x)


@pytest.mark.parametrize("patch_size", [1, 2, 4])
def test_causality_future_frames_and_actions_never_change_the_past(patch_size):
    dit = tiny_dit(patch_size)
    # Move off the adaLN-Zero initialisation so every path carries signal.
    with torch.no_grad():
        for p in dit.parameters():
            p.add_(0.1 * torch.randn_like(p))
    T, k = 6, 2
    x, c_noise = torch.randn(2, T, *LATENT), torch.randn(2, T)
    actions_in = torch.randint(0, 3, (2, T))
    out = dit(x, c_noise, actions_in, num_context=2)
    x2, c2, a2 = x.clone(), c_noise.clone(), actions_in.clone()
    x2[:, k + 1:] += 1.0
    c2[:, k + 1:] += 1.0
    a2[:, k + 1:] = (a2[:, k + 1:] + 1) % 3  # a_k leads into frame k + 1
    out2 = dit(x2, c2, a2, num_context=2)
    for before, after in zip(out, out2):
        assert torch.allclose(before[:, :k + 1], after[:, :k + 1], atol=1e-5)
        assert not torch.allclose(before[:, k + 1:], after[:, k + 1:])


@pytest.mark.parametrize("context_skip", [True, False])
def test_at_initialisation_a_very_noisy_future_is_denoised_to_the_last_context_frame_or_to_zero(context_skip):
    torch.manual_seed(0)
    model = WorldModel(WorldModelConfig(context=2, horizon=3), DiTConfig(width=32, depth=1, heads=2, patch_size=4,
                                                                          max_frames=8, context_skip=context_skip),
                       LATENT, 3)
    z, actions_in = torch.randn(2, 5, *LATENT), torch.randint(0, 4, (2, 5))
    sigma = torch.tensor([0.0, 0.0, 80.0, 80.0, 80.0]).expand(2, -1)
    denoised = model.denoise(z, sigma, actions_in)[0][:, 2:]
    expected = z[:, 1:2].expand_as(denoised) if context_skip else torch.zeros_like(denoised)
    assert torch.allclose(denoised, expected, atol=0.02)


def test_world_model_loss_is_finite_and_gives_gradients_to_every_head():
    torch.manual_seed(0)
    model = WorldModel(WorldModelConfig(context=2, horizon=3), DiTConfig(width=32, depth=1, heads=2, patch_size=4,
                                                                          max_frames=8), LATENT, 3)
    B, T = 4, 5
    batch = {"latents": torch.randn(B, T, *LATENT), "actions": torch.randint(0, 3, (B, T)),
             "rewards": torch.randn(B, T), "terminated": torch.zeros(B, T, dtype=torch.bool),
             "mask": torch.ones(B, T, dtype=torch.bool)}
    batch["mask"][0, 3:] = False
    loss, logs = model(batch)
    loss.backward()
    assert torch.isfinite(loss) and set(logs) >= {"losses/denoise", "losses/reward", "losses/termination"}
    for head in (model.dit.reward_head, model.dit.end_head):
        assert head[-1].weight.grad.abs().sum() > 0


def test_reward_and_end_of_a_transition_never_read_the_frame_it_leads_into():
    dit = tiny_dit()
    with torch.no_grad():
        for p in dit.parameters():
            p.add_(0.1 * torch.randn_like(p))
    x, c_noise, actions_in = torch.randn(2, 5, *LATENT), torch.randn(2, 5), torch.randint(0, 3, (2, 5))
    out, reward, end = dit(x, c_noise, actions_in, num_context=2)
    x2 = x.clone()
    x2[:, 3] += 1.0  # frame 3 changes; the transition 2 -> 3 is judged from frame 2 and a_2
    out2, reward2, end2 = dit(x2, c_noise, actions_in, num_context=2)
    assert torch.allclose(reward[:, 3], reward2[:, 3], atol=1e-5) and torch.allclose(end[:, 3], end2[:, 3], atol=1e-5)
    assert not torch.allclose(out[:, 3], out2[:, 3])
    a2 = actions_in.clone()
    a2[:, 3] = (a2[:, 3] + 1) % 3
    assert not torch.allclose(end, dit(x, c_noise, a2, num_context=2)[2])  # ... but it does depend on the action


def test_clean_segments_train_the_heads_at_the_sampler_s_last_noise_level_and_leave_the_denoising_loss():
    cfg = WorldModelConfig(context=2, horizon=3, clean_segment_prob=0.5)
    torch.manual_seed(0)
    model = WorldModel(cfg, DiTConfig(width=32, depth=1, heads=2, patch_size=4, max_frames=8), LATENT, 3)
    B, T = 64, 5
    torch.manual_seed(1)
    sigma, clean = model.training_sigmas(B, "cpu")
    clean = clean.squeeze(1)
    assert 16 < clean.sum() < 48
    assert (sigma[clean, 2:] <= cfg.context_noise_max).all() and (sigma[~clean, 2:] > cfg.context_noise_max).any()
    batch = {"latents": torch.randn(B, T, *LATENT), "actions": torch.randint(0, 3, (B, T)),
             "rewards": torch.randn(B, T), "terminated": torch.zeros(B, T, dtype=torch.bool),
             "mask": torch.ones(B, T, dtype=torch.bool)}
    torch.manual_seed(1)
    logs = model(batch)[1]
    batch["latents"][clean, 2:] += 5.0  # the clean segments' future frames change
    torch.manual_seed(1)
    changed = model(batch)[1]
    assert changed["losses/denoise"] == pytest.approx(logs["losses/denoise"])
    assert changed["losses/reward"] != pytest.approx(logs["losses/reward"])
