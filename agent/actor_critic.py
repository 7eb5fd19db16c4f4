"""Actor-critic on latent histories (the last C latents, the world model's context window)."""
from dataclasses import dataclass

import torch
import torch.nn as nn

from world_model.edm import reward_bins, twohot_mean


@dataclass
class ActorCriticConfig:
    hidden: int = 256
    """width of the actor's and the critic's MLPs"""
    layers: int = 2
    """hidden layers of each MLP"""
    value_bins: int = 65
    """bins of the two-hot critic (symlog spaced)"""
    value_limit: float = 5000.0
    """largest absolute return the critic's bins cover"""
    gamma: float = 0.985
    """discount"""
    lam: float = 0.95
    """lambda of the lambda-returns"""
    entropy_coef: float = 3e-3
    """entropy bonus (advantages are normalised, so this is scale-free)"""
    actor_horizon: int = 0
    """the policy learns from the first N dreamed decisions only, where the dreamed frames are still sharp; the
    critic learns from all of them; 0: every decision of the horizon. On Defend the Center (N = 3) the policy aimed
    better but shot at nothing more, and with the action screen three fresh seeds fell below the preset
    (benchmarks/EXPERIMENTS.md)"""
    lr: float = 3e-4
    """Adam learning rate of actor and critic"""
    anneal_lr: bool = False
    """the learning rate falls linearly to 0 at the last game step, as the PPO baseline's does, so that the last
    iterations move the policy less. On Defend the Center (seeds 11-13) it steadied the evaluations but did not lift
    the mean (benchmarks/EXPERIMENTS.md)"""
    return_norm_decay: float = 0.99
    """EMA decay of the 5th-95th percentile range of returns"""


def _mlp(n_in: int, hidden: int, layers: int, n_out: int) -> nn.Sequential:
    mods, width = [], n_in
    for _ in range(layers):
        mods += [nn.Linear(width, hidden), nn.LayerNorm(hidden), nn.SiLU()]
        width = hidden
    return nn.Sequential(*mods, nn.Linear(width, n_out))


class ActorCritic(nn.Module):
    def __init__(self, cfg: ActorCriticConfig, latent_shape, context: int, num_actions: int):
        super().__init__()
        self.cfg = cfg
        n_in = context * int(torch.tensor(latent_shape).prod())
        self.actor = _mlp(n_in, cfg.hidden, cfg.layers, num_actions)
        self.critic = _mlp(n_in, cfg.hidden, cfg.layers, cfg.value_bins)
        self.register_buffer("value_bins", reward_bins(cfg.value_bins, cfg.value_limit))
        # Start from the uniform policy and a zero value.
        for head in (self.actor[-1], self.critic[-1]):
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    def forward(self, windows: torch.Tensor):
        """(..., C, c, h, w) latent windows -> action logits (..., A) and value logits (..., bins)."""
        flat = windows.flatten(-4)
        return self.actor(flat), self.critic(flat)

    def policy_logits(self, windows: torch.Tensor) -> torch.Tensor:
        """(..., C, c, h, w) latent windows -> (..., A) action logits."""
        return self.actor(windows.flatten(-4))

    def value(self, value_logits: torch.Tensor) -> torch.Tensor:
        return twohot_mean(value_logits, self.value_bins)


def lambda_returns(rewards: torch.Tensor, values: torch.Tensor, continues: torch.Tensor,
                   gamma: float, lam: float) -> torch.Tensor:
    """TD(lambda) returns (B, H) from rewards (B, H), values (B, H + 1) and continue probabilities (B, H).

    R_k = r_k + gamma * c_k * ((1 - lam) * V_{k+1} + lam * R_{k+1}), bootstrapped with R_H = V_H.
    """
    returns = torch.empty_like(rewards)
    next_return = values[:, -1]
    for k in reversed(range(rewards.shape[1])):
        blend = (1 - lam) * values[:, k + 1] + lam * next_return
        next_return = rewards[:, k] + gamma * continues[:, k] * blend
        returns[:, k] = next_return
    return returns
