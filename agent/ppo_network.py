"""PPO's network and loss (CleanRL's ppo_atari.py), on dreamdit's frame encoder trained end to end.

The policy sees what dreamdit's policy sees: the last C frames (C = world_model.context),
each encoded by the autoencoder's encoder architecture into a (c, h, w) latent, the C latents
flattened together. A window rather than one frame because one frame hides motion (the ball's
direction in Pong, a fireball's in Take Cover) that dreamdit's window shows its policy. There is
no decoder and no reconstruction loss: the encoder learns from the PPO loss alone.
"""
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.distributions import Categorical

from agent.acting import LatentActor
from envs.errors import DreamditError
from world_model.autoencoder import Autoencoder, AutoencoderConfig


@dataclass
class PPOConfig:
    num_envs: int = 8
    """parallel envs of PPO's rollouts (evaluation uses env.num_envs, like dreamdit's)"""
    num_steps: int = 128
    """steps of each env per rollout"""
    lr: float = 2.5e-4
    """Adam learning rate at the start of the run"""
    anneal_lr: bool = True
    """decay the learning rate linearly to 0 over the run's real steps"""
    gamma: float = 0.99
    """discount"""
    gae_lambda: float = 0.95
    """lambda of generalised advantage estimation"""
    num_minibatches: int = 4
    """minibatches each rollout is split into"""
    update_epochs: int = 4
    """passes over each rollout"""
    norm_adv: bool = True
    """normalise advantages within each minibatch"""
    clip_coef: float = 0.1
    """clipping of the probability ratio (and of the value change)"""
    clip_vloss: bool = True
    """clip the value loss around the rollout's values"""
    ent_coef: float = 0.01
    """entropy bonus"""
    vf_coef: float = 0.5
    """weight of the value loss"""
    max_grad_norm: float = 0.5
    """gradient norm clip"""
    target_kl: float = 0.0
    """stop a rollout's epochs once the approximate KL exceeds this; 0 never stops"""
    hidden_size: int = 512
    """width of the layer between the encoder and the actor and critic heads"""


def layer_init(layer: nn.Linear, std: float = math.sqrt(2), bias: float = 0.0) -> nn.Linear:
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias)
    return layer


class PPONetwork(nn.Module):
    """Encoder on each frame of the window, then CleanRL's ReLU layer, actor head and critic head.

    It offers `encode` and `policy_logits`, so dreamdit's LatentActor acts with it in the real env.
    """

    def __init__(self, cfg: PPOConfig, autoencoder: AutoencoderConfig, context: int, num_actions: int):
        super().__init__()
        frames = Autoencoder(autoencoder)
        self.encoder = frames.encoder  # keeps PyTorch's default init, as in dreamdit's autoencoder
        width = context * math.prod(frames.latent_shape)
        self.trunk = nn.Sequential(layer_init(nn.Linear(width, cfg.hidden_size)), nn.ReLU())
        # CleanRL's head scales: a near-uniform first policy, a value of unit scale.
        self.actor = layer_init(nn.Linear(cfg.hidden_size, num_actions), std=0.01)
        self.critic = layer_init(nn.Linear(cfg.hidden_size, 1), std=1.0)

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 frames (..., 3, 64, 64) -> latents (..., c, h, w)."""
        x = frames.reshape(-1, *frames.shape[-3:]).float() / 127.5 - 1
        z = self.encoder(x)
        return z.reshape(*frames.shape[:-3], *z.shape[1:])

    def policy_logits(self, latents: torch.Tensor) -> torch.Tensor:
        """Latent windows (..., C, c, h, w) -> action logits (..., A)."""
        return self.actor(self.trunk(latents.flatten(-4)))

    def forward(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 frame windows (B, C, 3, 64, 64) -> action logits (B, A), values (B,)."""
        hidden = self.trunk(self.encode(windows).flatten(-4))
        return self.actor(hidden), self.critic(hidden).squeeze(-1)


def gae(rewards, values, next_value, terminated, ended, gamma: float, lam: float) -> torch.Tensor:
    """Advantages (T, N) by generalised advantage estimation.

    values (T, N) are V(s_t) and next_value (N,) the value after the last step. A termination
    stops the bootstrap; any end (termination or truncation) stops the recursion. A truncated
    step still bootstraps from values[t + 1]: with next-step autoreset, the step after an end
    sees the episode's last frame, so values[t + 1] is its value.
    """
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(next_value)
    for t in reversed(range(len(rewards))):
        following = next_value if t == len(rewards) - 1 else values[t + 1]
        delta = rewards[t] + gamma * (1 - terminated[t]) * following - values[t]
        running = delta + gamma * lam * (1 - ended[t]) * running
        advantages[t] = running
    return advantages


def ppo_loss(network: PPONetwork, batch: dict, cfg: PPOConfig) -> tuple[torch.Tensor, dict]:
    """Clipped surrogate + clipped value loss - entropy bonus on one minibatch -> (loss, logs)."""
    logits, values = network(batch["windows"])
    dist = Categorical(logits=logits)
    logratio = dist.log_prob(batch["actions"]) - batch["logprobs"]
    ratio = logratio.exp()
    with torch.no_grad():
        approx_kl = ((ratio - 1) - logratio).mean()  # the low-variance estimator CleanRL logs
        clipfrac = ((ratio - 1).abs() > cfg.clip_coef).float().mean()
    advantages = batch["advantages"]
    if cfg.norm_adv:
        # CleanRL's normalisation, but with the population std: the budget's last rollout can be so short
        # that a minibatch holds one transition, whose sample std is undefined.
        advantages = (advantages - advantages.mean()) / (advantages.std(correction=0) + 1e-8)
    policy_loss = torch.max(-advantages * ratio,
                            -advantages * ratio.clamp(1 - cfg.clip_coef, 1 + cfg.clip_coef)).mean()
    value_loss = (values - batch["returns"]) ** 2
    if cfg.clip_vloss:
        clipped = batch["values"] + (values - batch["values"]).clamp(-cfg.clip_coef, cfg.clip_coef)
        value_loss = torch.max(value_loss, (clipped - batch["returns"]) ** 2)
    value_loss = 0.5 * value_loss.mean()
    entropy = dist.entropy().mean()
    loss = policy_loss - cfg.ent_coef * entropy + cfg.vf_coef * value_loss
    return loss, {"policy_loss": policy_loss.item(), "value_loss": value_loss.item(), "entropy": entropy.item(),
                  "old_approx_kl": (-logratio).mean().item(), "approx_kl": approx_kl.item(),
                  "clipfrac": clipfrac.item()}


def explained_variance(values: torch.Tensor, returns: torch.Tensor) -> float:
    """1 - Var(returns - values) / Var(returns): 1 is a perfect critic, 0 a constant one."""
    var = returns.var().item()
    return float("nan") if var == 0 else 1 - (returns - values).var().item() / var


def load_network_state(network: PPONetwork, payload: dict, source: str) -> None:
    """Load a checkpoint's PPO weights, with a one-line error for a dreamdit run or another architecture."""
    algo = payload["config"]["train"]["algo"]
    if algo != "ppo":
        raise DreamditError(f"checkpoint {source} is a {algo} run, not a ppo run")
    try:
        network.load_state_dict(payload["state"]["network"])
    except (RuntimeError, KeyError) as err:
        raise DreamditError(f"checkpoint {source} has another PPO network than the config "
                            f"({str(err).splitlines()[0]})") from err


def load_ppo_actor(payload: dict, source: str, device) -> LatentActor:
    """The policy of a PPO checkpoint, acting through the same LatentActor as dreamdit's policy."""
    saved = payload["config"]
    context = saved["world_model"]["context"]
    network = PPONetwork(PPOConfig(**saved["ppo"]), AutoencoderConfig(**saved["autoencoder"]), context,
                         payload["num_actions"])
    load_network_state(network, payload, source)
    network.to(device).eval()
    return LatentActor(network, network, context, device)
