"""The action screen: one action acts only where the world model dreams it paying.

In Defend the Center a shot that misses costs nothing in a dream but a decision in the real game, and
the policies learn to shoot where no monster is in their sights; yet one decision ahead of real frames
the world model sees well whether a shot kills (benchmarks/shot_choice.py). With the screen
(`--screen-action ATTACK`) the agent asks its world model before each real decision where the policy
chose that action: one dream of one decision takes it from the real context, and unless the dreamed
reward is above `--screen-reward` the policy's likeliest other action acts instead. Until an episode
has C real frames the policy acts alone. Training is unchanged: the option only sets how the agent
acts in evaluation, the evaluations of a training run and those of `dreamdit eval`.
"""
import torch

from agent.acting import DreamingActor
from agent.checkpoint import Agent
from envs import DreamditError, action_names
from world_model.sampler import dream


def screened_index(spec: str, name: str, names: list[str] | None = None) -> int:
    """The index of the action `name` of the env `spec`, whose action `names` are read from a fresh env
    unless given; a one-line error where it has none of that name."""
    names = action_names(spec) if names is None else names
    if name not in names:
        raise DreamditError(f"--screen-action {name} is not an action of {spec} (its actions: {', '.join(names)})")
    return names.index(name)


def dreamed_reward(agent: Agent, windows: torch.Tensor, between: torch.Tensor, action: int,
                   seed: int) -> torch.Tensor:
    """(n,): the dreamed reward of `action` taken after latent windows (n, C, c, h, w), with the actions
    `between` (n, C - 1) taken between their frames; the dream's noise is drawn from `seed`.

    The screen passes the same seed at every decision, so it answers alike for the same window and
    actions whenever they come (with several envs, a window's noise still depends on which other envs
    ask at that decision)."""
    first = torch.full((len(windows), 1), action, dtype=torch.long, device=windows.device)
    noise = torch.Generator(device=windows.device).manual_seed(seed)
    return dream(agent.world_model, windows, between, agent.config.sampler, actions=first, horizon=1,
                 generator=noise).rewards[:, 0]


class ScreenActor(DreamingActor):
    def __init__(self, agent: Agent, action: int, threshold: float, seed: int, device="cpu"):
        super().__init__(agent.autoencoder, agent.actor_critic, agent.config.world_model.context, device)
        self.agent, self.action, self.threshold, self.seed = agent, action, threshold, seed
        self.screened = 0  # choices of the screened action that another action replaced

    def revise(self, windows: torch.Tensor, between: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
        asked = chosen == self.action
        if not asked.any():
            return chosen
        held = asked.clone()
        rewards = dreamed_reward(self.agent, windows[asked], between[asked], self.action, self.seed)
        held[asked] = rewards <= self.threshold
        if not held.any():
            return chosen
        logits = self.actor_critic.policy_logits(windows[held]).float()
        logits[:, self.action] = -torch.inf
        chosen = chosen.clone()
        chosen[held] = logits.argmax(1)
        self.screened += int(held.sum())
        return chosen
