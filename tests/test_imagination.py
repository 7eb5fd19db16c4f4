"""The actor-critic's learning signal: lambda-returns on scalars, the dream loss on tiny tensors."""
import dataclasses

import pytest
import torch

from agent.actor_critic import ActorCritic, ActorCriticConfig, lambda_returns
from agent.imagination import ReturnScale, imagination_loss
from world_model.sampler import Dream


def test_lambda_returns_one_step_td_at_lambda_0_and_discounted_sum_at_lambda_1():
    rewards, values = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 10.0, 20.0]])
    continues = torch.ones(1, 2)
    td = lambda_returns(rewards, values, continues, gamma=0.5, lam=0.0)
    assert torch.allclose(td, torch.tensor([[1 + 0.5 * 10, 2 + 0.5 * 20]]))
    monte_carlo = lambda_returns(rewards, values, continues, gamma=0.5, lam=1.0)
    assert torch.allclose(monte_carlo, torch.tensor([[1 + 0.5 * 2 + 0.25 * 20, 2 + 0.5 * 20]]))


def test_lambda_returns_stop_at_a_certain_end():
    rewards, values = torch.tensor([[1.0, 5.0]]), torch.tensor([[0.0, 10.0, 20.0]])
    returns = lambda_returns(rewards, values, torch.tensor([[0.0, 1.0]]), gamma=0.9, lam=0.7)
    assert returns[0, 0].item() == pytest.approx(1.0)


def test_return_scale_never_blows_up_small_returns():
    scale = ReturnScale(decay=0.0)
    assert scale.update(torch.linspace(0, 0.1, 100)) == 1.0
    assert scale.update(torch.linspace(0, 100, 101)) == pytest.approx(90.0)


def _dream(B=8, C=2, H=6, A=3, seed=0) -> Dream:
    g = torch.Generator().manual_seed(seed)
    return Dream(latents=torch.randn(B, C + H, 2, 2, 2, generator=g),
                 actions=torch.randint(0, A, (B, H), generator=g),
                 log_probs=torch.zeros(B, H), entropies=torch.zeros(B, H),
                 rewards=torch.randn(B, H, generator=g), end_probs=torch.rand(B, H, generator=g) * 0.1,
                 network_evals=1)


@pytest.mark.parametrize("actor_horizon, later_actions_count", [(2, False), (0, True)])
def test_actor_horizon_keeps_the_policy_from_learning_in_later_dreamed_decisions(actor_horizon, later_actions_count):
    torch.manual_seed(0)
    cfg = ActorCriticConfig(hidden=16, value_bins=9, value_limit=10.0, actor_horizon=actor_horizon)
    net = ActorCritic(cfg, (2, 2, 2), context=2, num_actions=3)
    torch.nn.init.normal_(net.actor[-1].weight)  # a policy that is not uniform, so actions matter
    dream = _dream()
    other = dataclasses.replace(dream, actions=dream.actions.clone())
    other.actions[:, 2:] = (other.actions[:, 2:] + 1) % 3  # different actions after the first two decisions

    loss, _ = imagination_loss(net, dream, ReturnScale(0.99), clip_rewards=False)
    other_loss, _ = imagination_loss(net, other, ReturnScale(0.99), clip_rewards=False)
    assert (loss.item() != pytest.approx(other_loss.item(), abs=1e-7)) == later_actions_count


def test_the_critic_learns_from_every_dreamed_decision_whatever_the_actor_horizon():
    losses = []
    for actor_horizon in (0, 2):
        cfg = ActorCriticConfig(hidden=16, value_bins=9, value_limit=10.0, actor_horizon=actor_horizon)
        torch.manual_seed(0)
        net = ActorCritic(cfg, (2, 2, 2), context=2, num_actions=3)
        _, logs = imagination_loss(net, _dream(), ReturnScale(0.99), clip_rewards=False)
        losses.append(logs["losses/critic"])
    assert losses[0] == pytest.approx(losses[1])
