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
        if self.history is None or len(self.history) != len(z):
            self.history = z[:, None].repeat(1, self.context, 1, 1, 1)
        first = torch.from_numpy(np.asarray(is_first)).to(self.device)
        shifted = torch.cat([self.history[:, 1:], z[:, None]], dim=1)
        restarted = z[:, None].expand_as(self.history)
        self.history = torch.where(first[:, None, None, None, None], restarted, shifted)
        logits = self.actor_critic.policy_logits(self.history).float()
        if greedy:
            return logits.argmax(-1).cpu().numpy()
        probs = Categorical(logits=logits).probs
        return torch.multinomial(probs, 1, generator=generator).squeeze(-1).cpu().numpy()
