"""Training the actor-critic on dreamed trajectories only.

The dream sampler hands over latents, actions and predicted rewards and ends;
no gradient flows into the world model. The actor follows the policy gradient
with the critic as baseline and an entropy bonus; advantages are divided by a
running 5th-95th percentile range of the returns, floored at 1 so small returns
are not blown up.
"""
import torch

from agent.actor_critic import ActorCritic, lambda_returns
from world_model.edm import twohot
from world_model.sampler import Dream, history_windows


class ReturnScale:
    """EMA of the 5th-95th percentile range of lambda-returns."""

    def __init__(self, decay: float):
        self.decay, self.range = decay, None

    def update(self, returns: torch.Tensor) -> float:
        low, high = torch.quantile(returns.detach().flatten().float(), torch.tensor([0.05, 0.95],
                                                                                  device=returns.device))
        spread = (high - low).item()
        self.range = spread if self.range is None else self.decay * self.range + (1 - self.decay) * spread
        return max(1.0, self.range)

    def state_dict(self) -> dict:
        return {"range": self.range}

    def load_state_dict(self, state: dict) -> None:
        self.range = state["range"]


def imagination_loss(actor_critic, dream: Dream, return_scale: ReturnScale, clip_rewards: bool):
    """Actor and critic losses on one batch of dreams -> (loss, logs).

    `actor_critic` is an ActorCritic, or one wrapped in DistributedDataParallel (hence one call of it).
    """
    net: ActorCritic = getattr(actor_critic, "module", actor_critic)
    cfg = net.cfg
    C, H = dream.latents.shape[1] - dream.actions.shape[1], dream.actions.shape[1]
    windows = history_windows(dream.latents, C)  # (B, H + 1, C, c, h, w): state before each step, then the last
    logits, value_logits = actor_critic(windows)  # (B, H + 1, A), (B, H + 1, bins)
    logits = logits[:, :H]  # no action is taken at the last frame
    values = net.value(value_logits)  # (B, H + 1)
    rewards = dream.rewards.sign() if clip_rewards else dream.rewards
    continues = 1 - dream.end_probs
    with torch.no_grad():
        returns = lambda_returns(rewards, values, continues, cfg.gamma, cfg.lam)  # (B, H)
        # Steps after a predicted end weigh as much as the chance of still being alive there.
        alive = torch.cumprod(torch.cat([torch.ones_like(continues[:, :1]), continues[:, :-1]], 1), 1)
        scale = return_scale.update(returns)
        advantages = (returns - values[:, :H]) / scale

    log_probs = logits.log_softmax(-1)
    taken = log_probs.gather(-1, dream.actions[..., None]).squeeze(-1)
    entropy = -(log_probs.exp() * log_probs).sum(-1)
    # Later dreamed frames lose what a decision hinges on (Defend the Center: the monsters), yet their rewards
    # still pay an action's average worth; `actor_horizon` keeps the policy from learning in them.
    N = cfg.actor_horizon or H
    actor_loss = -(alive * (taken * advantages + cfg.entropy_coef * entropy))[:, :N].mean()
    value_ce = -(twohot(returns, net.value_bins) * value_logits[:, :H].log_softmax(-1)).sum(-1)
    critic_loss = (alive * value_ce).mean()
    logs = {"losses/actor": actor_loss.item(), "losses/critic": critic_loss.item(),
            "dream/entropy": entropy.mean().item(), "dream/return": returns[:, 0].mean().item(),
            "dream/reward": dream.rewards.mean().item(), "dream/end_prob": dream.end_probs.mean().item(),
            "dream/return_scale": scale}
    return actor_loss + critic_loss, logs
