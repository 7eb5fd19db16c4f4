"""Latents of every stored episode, encoded once by the (frozen) autoencoder.

Encoding the frames of every training segment at every DiT update would cost
more than the update itself on a CPU; once the autoencoder is frozen each frame
is encoded exactly once.
"""
import numpy as np
import torch

from envs.store import EpisodeStore
from world_model.autoencoder import Autoencoder


class LatentCache:
    def __init__(self):
        self.latents: list[torch.Tensor] = []  # per episode: (T + 1, c, h, w)

    @torch.no_grad()
    def update(self, store: EpisodeStore, autoencoder: Autoencoder, device, chunk: int = 256) -> None:
        """Encode the episodes added to `store` since the last call."""
        for i in range(len(self.latents), len(store)):
            frames = torch.from_numpy(store.episode(i)["frames"])
            parts = [autoencoder.encode(part.to(device)).cpu() for part in frames.split(chunk)]
            self.latents.append(torch.cat(parts))

    def segments(self, store: EpisodeStore, batch_size: int, length: int, rng: np.random.Generator,
                 device, **sampling) -> dict:
        """A segment batch like `store.sample_segments` (`sampling`: its end_fraction, end_at), with latents
        (B, L, c, h, w) in place of frames."""
        batch = store.sample_segments(batch_size, length, rng, include_frames=False, **sampling)
        latents = torch.stack([self.latents[e][idx] for e, idx in zip(batch["episode"], batch["frame_index"])])
        out = {key: torch.from_numpy(batch[key]).to(device) for key in ("actions", "rewards", "terminated", "mask")}
        out["latents"] = latents.to(device)
        return out
