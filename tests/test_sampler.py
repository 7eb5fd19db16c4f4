"""The dream sampler: stable categorical sampling, network-evaluation counts, policy in the loop."""
import torch

from world_model.dit import DiTConfig
from world_model.model import WorldModel, WorldModelConfig
from world_model.sampler import SamplerConfig, dream, dream_autoregressive, stable_categorical

LATENT, A, C, H = (4, 4, 4), 3, 2, 5


def tiny_model():
    torch.manual_seed(0)
    return WorldModel(WorldModelConfig(context=C, horizon=H),
                      DiTConfig(width=32, depth=1, heads=2, patch_size=4, max_frames=8), LATENT, A)


def count_calls(model):
    calls = []
    original = model.dit.forward
    model.dit.forward = lambda *args: calls.append(1) or original(*args)
    return calls


def test_stable_categorical_is_deterministic_and_monotone_in_u():
    probs = torch.tensor([0.2, 0.5, 0.3])
    assert stable_categorical(probs, torch.tensor(0.1)) == 0
    assert stable_categorical(probs, torch.tensor(0.69)) == 1
    assert stable_categorical(probs, torch.tensor(0.71)) == 2
    us = torch.linspace(0, 1, 101)
    actions = stable_categorical(probs.expand(101, 3), us)
    assert (actions[1:] >= actions[:-1]).all()
    assert torch.equal(actions, stable_categorical(probs.expand(101, 3), us))
    # Moving probability mass towards later actions never lowers the chosen action.
    shifted = torch.tensor([0.1, 0.5, 0.4])
    assert (stable_categorical(shifted.expand(101, 3), us) >= actions).all()


def test_whole_trajectory_dream_uses_k_network_calls_for_h_frames():
    model = tiny_model()
    calls = count_calls(model)
    policy = torch.nn.Sequential(torch.nn.Flatten(2), torch.nn.Linear(C * 64, A))
    context = torch.randn(3, C, *LATENT)
    result = dream(model, context, torch.zeros(3, C - 1, dtype=torch.long), SamplerConfig(num_steps=4), policy)
    assert len(calls) == 4 == result.network_evals
    assert result.latents.shape == (3, C + H, *LATENT) and result.actions.shape == (3, H)
    assert torch.equal(result.latents[:, :C], context)
    for name in ("log_probs", "entropies", "rewards", "end_probs"):
        assert getattr(result, name).shape == (3, H)


def test_autoregressive_dream_uses_h_times_k_calls():
    model = tiny_model()
    calls = count_calls(model)
    actions = torch.randint(0, A, (2, H))
    result = dream_autoregressive(model, torch.randn(2, C, *LATENT), torch.zeros(2, C - 1, dtype=torch.long),
                                  SamplerConfig(num_steps=3), actions=actions)
    assert len(calls) == H * 3 == result.network_evals
    assert torch.equal(result.actions, actions)


def test_policy_sees_the_predicted_frames_at_every_denoising_step():
    model = tiny_model()
    seen = []

    def policy(windows):
        seen.append(windows.clone())
        return torch.zeros(*windows.shape[:2], A)

    dream(model, torch.randn(1, C, *LATENT), torch.zeros(1, C - 1, dtype=torch.long), SamplerConfig(num_steps=3),
          policy)
    assert len(seen) == 3
    # The first choice sees the last real frame repeated; later ones see the model's predictions.
    assert not torch.equal(seen[0], seen[1])
