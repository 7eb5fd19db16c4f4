"""Acting in the real environment: frames -> latents -> the last C latents -> the policy."""
import numpy as np
import torch
from torch.distributions import Categorical

from agent.actor_critic import ActorCritic
from world_model.autoencoder import Autoencoder


class LatentActor:
    """Keeps each real env's last C latents; a new episode's first frame fills the whole window."""

    def __init__(self, autoencoder: Autoencoder, actor_critic: ActorCritic, context: int, device):
        self.autoencoder, self.actor_critic = autoencoder, actor_critic
        self.context, self.device = context, torch.device(device)
        self.history = None  # (N, C, c, h, w)

    @torch.no_grad()
    def act(self, obs: np.ndarray, is_first: np.ndarray, greedy: bool = False,
            generator: torch.Generator | None = None) -> np.ndarray:
        """Actions (N,) for observations (N, 3, 64, 64) uint8; `is_first` (N,) marks new episodes."""
        z = self.autoencoder.encode(torch.from_numpy(obs).to(self.device))  # (N, c, h, w)
        self.history = slide_window(self.history, z, torch.from_numpy(np.asarray(is_first)).to(self.device),
                                    self.context)
        logits = self.actor_critic.policy_logits(self.history).float()
        if greedy:
            return logits.argmax(-1).cpu().numpy()
        probs = Categorical(logits=logits).probs
        return torch.multinomial(probs, 1, generator=generator).squeeze(-1).cpu().numpy()


class DreamingActor(LatentActor):
    """The policy, its choice then revised by dreams from the real context (lookahead, the action screen).

    A dream from a window of C real frames needs the C - 1 actions taken between them, so this actor also
    keeps those; until an episode has C real frames the policy acts alone.
    """

    def __init__(self, autoencoder: Autoencoder, actor_critic: ActorCritic, context: int, device):
        super().__init__(autoencoder, actor_critic, context, device)
        self.taken = None  # (N, C - 1): the actions between the frames of each env's window; -1: not yet taken
        self.decisions = 0  # decisions with C real frames, where the dreams were consulted

    @torch.no_grad()
    def act(self, obs: np.ndarray, is_first: np.ndarray, greedy: bool = False,
            generator: torch.Generator | None = None) -> np.ndarray:
        chosen = torch.from_numpy(super().act(obs, is_first, greedy, generator)).to(self.device)
        if self.taken is None or len(self.taken) != len(obs):
            self.taken = torch.full((len(obs), self.context - 1), -1, device=self.device)
        self.taken[torch.from_numpy(np.asarray(is_first)).to(self.device)] = -1
        ready = (self.taken >= 0).all(1)
        if ready.any():
            chosen[ready] = self.revise(self.history[ready], self.taken[ready], chosen[ready])
            self.decisions += int(ready.sum())
        self.taken = torch.cat([self.taken, chosen[:, None]], 1)[:, 1:]  # also right for C = 1
        return chosen.cpu().numpy()

    def revise(self, windows: torch.Tensor, between: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
        """(n,) the actions to take after latent windows (n, C, c, h, w), with the actions between their
        frames (n, C - 1), where the policy chose `chosen` (n,)."""
        raise NotImplementedError


class RandomActor:
    """Uniformly random actions: the baseline a trained policy's return is read against."""

    def __init__(self, num_actions: int):
        self.num_actions, self.device, self.history = num_actions, torch.device("cpu"), None

    def act(self, obs: np.ndarray, is_first: np.ndarray, greedy: bool = False,
            generator: torch.Generator | None = None) -> np.ndarray:
        return torch.randint(self.num_actions, (len(obs),), generator=generator).numpy()


def slide_window(window: torch.Tensor | None, item: torch.Tensor, is_first: torch.Tensor,
                 context: int) -> torch.Tensor:
    """The last `context` items of each env (N, C, ...) after `item` (N, ...); a first item fills the window."""
    if window is None or len(window) != len(item):
        return item[:, None].repeat(1, context, *[1] * (item.dim() - 1))
    shifted = torch.cat([window[:, 1:], item[:, None]], dim=1)
    restarted = item[:, None].expand_as(window)
    return torch.where(is_first.view(-1, *[1] * (window.dim() - 1)), restarted, shifted)


class HoldExplorer:
    """Temporally extended exploration for collecting data: now and then hold one random action for a while.

    An env that is not holding starts a hold with probability `prob` at each step; the hold repeats one
    uniformly random action for a geometric number of steps with mean `mean_steps`, and ends with the
    episode. Other steps take `actor`'s action. A random policy that picks afresh every step jitters in
    place; holds carry the agent further (across the room, in Take Cover), so the world model also
    learns long movements and what they lead to.
    """

    def __init__(self, actor, num_actions: int, prob: float, mean_steps: float, seed):
        self.actor, self.num_actions, self.prob, self.mean_steps = actor, num_actions, prob, mean_steps
        self.device = actor.device
        self.rng = np.random.default_rng(seed)
        self.held = self.left = None  # per env: the held action and the steps left of its hold

    def act(self, obs: np.ndarray, is_first: np.ndarray, greedy: bool = False,
            generator: torch.Generator | None = None) -> np.ndarray:
        chosen = self.actor.act(obs, is_first, greedy, generator)
        if self.left is None or len(self.left) != len(obs):
            self.held, self.left = np.zeros(len(obs), np.int64), np.zeros(len(obs), np.int64)
        self.left[np.asarray(is_first)] = 0
        start = (self.left == 0) & (self.rng.random(len(obs)) < self.prob)
        self.held[start] = self.rng.integers(self.num_actions, size=start.sum())
        self.left[start] = self.rng.geometric(1 / self.mean_steps, size=start.sum())
        holding = self.left > 0
        self.left[holding] -= 1
        return np.where(holding, self.held, chosen)
