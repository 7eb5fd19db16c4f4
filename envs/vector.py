"""Vector envs, and the collector that turns their steps into stored episodes.

Gymnasium 1.x vector envs reset an env on the step after its episode ended
("next-step autoreset"): that step ignores the action and returns the reset
observation with reward 0. It is not a transition, so the collector never
stores or counts it; it starts the env's next episode from that observation.
"""
from functools import partial

import gymnasium as gym
import numpy as np
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv

from envs.factory import make_env
from envs.store import EpisodeStore


def make_vector_env(
    spec: str, num_envs: int, seed: int, *, train: bool = True, asynchronous: bool = False
) -> gym.vector.VectorEnv:
    """``num_envs`` copies of ``make_env(spec, seed=seed + i, train=train)``.

    ``asynchronous`` runs each env in its own subprocess (AsyncVectorEnv);
    otherwise they step one after another in this process (SyncVectorEnv).
    Both use next-step autoreset.
    """
    if num_envs < 1:
        raise ValueError(f"num_envs must be positive, got {num_envs}")
    env_fns = [partial(make_env, spec, seed + i, train=train) for i in range(num_envs)]
    vector_class = AsyncVectorEnv if asynchronous else SyncVectorEnv
    return vector_class(env_fns, autoreset_mode=AutoresetMode.NEXT_STEP)


class EpisodeCollector:
    """Steps a vector env, stores every finished episode, reports episode stats.

    Attributes:
        obs: (N, 3, 64, 64) uint8, the current observation of every env.
        is_first: (N,) bool, True where ``obs`` is the first frame of an
            episode, so an agent resets its history there.
        num_steps: real transitions taken so far (reset steps not counted).
    """

    def __init__(self, vec: gym.vector.VectorEnv, store: EpisodeStore | None):
        """Reset ``vec``; finished episodes go to ``store`` (None: keep nothing)."""
        if vec.metadata.get("autoreset_mode") != AutoresetMode.NEXT_STEP:
            raise ValueError("EpisodeCollector needs a vector env with next-step autoreset")
        self.vec, self.store = vec, store
        self.obs, _ = vec.reset()
        self.is_first = np.ones(vec.num_envs, dtype=bool)
        self.num_steps = 0
        self._resetting = np.zeros(vec.num_envs, dtype=bool)  # the env's next step is a reset step
        self._episodes = [self._new_episode(frame) for frame in self.obs]

    def step(self, actions: np.ndarray) -> list[dict]:
        """Take one step in every env; return dict(return, length) of real episodes that ended.

        Returns and lengths come from the env's ``info["episode"]``, not from
        the rewards seen here: an Atari env in training mode ends an episode
        at every life lost but reports a game's statistics only at its end.
        """
        obs, rewards, terminated, truncated, infos = self.vec.step(actions)
        for i in range(self.vec.num_envs):
            if self._resetting[i]:
                self._episodes[i] = self._new_episode(obs[i])
            else:
                self._record(i, obs[i], actions[i], rewards[i], terminated[i], truncated[i])
        self.num_steps += int(np.sum(~self._resetting))
        self.is_first = self._resetting
        self._resetting = terminated | truncated
        self.obs = obs
        return finished_episodes(infos)

    def _new_episode(self, frame: np.ndarray) -> dict | None:
        if self.store is None:
            return None
        # A copy, so the episode does not keep the whole batched observation alive.
        return dict(frames=[np.array(frame)], actions=[], rewards=[])

    def _record(self, i: int, frame, action, reward, terminated: bool, truncated: bool) -> None:
        """Append env ``i``'s transition; store the episode if it just ended."""
        episode = self._episodes[i]
        if episode is None:
            return
        episode["frames"].append(np.array(frame))
        episode["actions"].append(int(action))
        episode["rewards"].append(float(reward))
        if terminated or truncated:
            self.store.add_episode(
                np.stack(episode["frames"]),
                np.array(episode["actions"], dtype=np.int64),
                np.array(episode["rewards"], dtype=np.float32),
                terminated=bool(terminated),
            )


def finished_episodes(infos: dict) -> list[dict]:
    """Return and length of each episode reported in batched ``infos``.

    Gymnasium batches the envs' infos: ``infos["episode"]["r"][i]`` is env
    ``i``'s only where the mask ``infos["_episode"][i]`` is set.
    """
    if "episode" not in infos:
        return []
    stats = infos["episode"]
    ended = np.flatnonzero(infos["_episode"])
    return [{"return": float(stats["r"][i]), "length": int(stats["l"][i])} for i in ended]
