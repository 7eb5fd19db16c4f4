"""Finished episodes on disk and in RAM, sampled as fixed-length segments.

Every episode is one compressed file, ``episode_000042.npz``, written to a
temporary name and renamed, so a killed run loses at most the episode it was
collecting and a resumed run reads everything back.

Memory: episodes are kept in RAM as uint8 frames. One 64x64 RGB frame is
12,288 bytes, so 100k transitions hold about 1.23 GB (measured: nbytes
1.231 GB, peak RSS 1.28 GB for 100k steps in 1,000-step episodes; actions
and rewards add 12 bytes a step, the extra final frame of each episode
12 KB). Sampling 64 segments of 20 steps from that store takes about 3 ms;
reading it back from disk about 4 s.
"""
import os
import re
import zipfile
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np

from envs.errors import DreamditError

_NAME = re.compile(r"episode_(\d+)\.npz")
_TMP_SUFFIX = ".tmp"
# Every way np.load can fail on a truncated or overwritten file.
_READ_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)


def _checked_episode(frames, actions, rewards, terminated) -> dict:
    """The episode as canonical arrays; ValueError says what is inconsistent."""
    frames, actions, rewards = np.asarray(frames), np.asarray(actions), np.asarray(rewards)
    if frames.dtype != np.uint8 or frames.ndim < 2:
        raise ValueError(f"frames must be uint8 (T+1, ...), got {frames.dtype} {frames.shape}")
    steps = len(frames) - 1
    if steps < 1:
        raise ValueError("an episode needs at least one transition (two frames)")
    if actions.shape != (steps,) or not np.issubdtype(actions.dtype, np.integer):
        raise ValueError(f"actions must be integers of shape ({steps},), got {actions.dtype} {actions.shape}")
    if actions.min() < 0:
        raise ValueError("actions must be non-negative indices")
    if rewards.shape != (steps,) or not np.issubdtype(rewards.dtype, np.number):
        raise ValueError(f"rewards must be numbers of shape ({steps},), got {rewards.dtype} {rewards.shape}")
    if not np.all(np.isfinite(rewards)):
        raise ValueError("rewards must be finite")
    return dict(
        frames=np.ascontiguousarray(frames).copy(),
        actions=actions.astype(np.int64),
        rewards=rewards.astype(np.float32),
        terminated=bool(terminated),
    )


class EpisodeStore:
    """Episodes of one run: appended as they finish, sampled as segments.

    An episode of T transitions has frames obs_0..obs_T (T+1 frames), the
    action taken at obs_t and its reward for t < T, and a ``terminated`` flag
    that says whether its last transition was a real end (death, game over)
    rather than a time limit or a cut.
    """

    def __init__(self, directory: str | os.PathLike, reader: bool = False):
        """Open ``directory`` (created if missing) and load every episode file in it.

        A ``reader`` (another process of a distributed run) leaves temporary files alone,
        since the writer may be writing them, and picks up new episodes with ``refresh``.
        """
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._episodes: list[dict] = []
        self._lengths: list[int] = []
        self._terminated: list[bool] = []  # kept beside the lengths: sampling reads them at every batch
        self._next_index = 0
        if not reader:
            for tmp in self.directory.glob(f"episode_*{_TMP_SUFFIX}"):
                tmp.unlink()  # an episode whose writer was killed mid-write
        self.refresh()

    def refresh(self) -> None:
        """Load the episode files written since the store was opened or last refreshed."""
        files = [(int(m[1]), p) for p in self.directory.iterdir() if (m := _NAME.fullmatch(p.name))]
        for index, path in sorted(files):
            if index >= self._next_index:
                self._append(self._read(path))
                self._next_index = index + 1

    def __len__(self) -> int:
        """Number of episodes."""
        return len(self._episodes)

    @property
    def num_steps(self) -> int:
        """Total number of transitions over all episodes."""
        return sum(self._lengths)

    @property
    def nbytes(self) -> int:
        """Bytes of episode data held in memory."""
        return sum(a.nbytes for ep in self._episodes for a in (ep["frames"], ep["actions"], ep["rewards"]))

    def episode(self, i: int) -> dict:
        """Episode ``i`` (in the order written) as dict(frames, actions, rewards, terminated)."""
        return dict(self._episodes[i])

    def add_episode(self, frames, actions, rewards, terminated: bool) -> Path:
        """Store a finished episode in RAM and on disk; return its file's path.

        frames: uint8 (T+1, 3, 64, 64), obs_0..obs_T; actions: int (T,);
        rewards: (T,), stored as float32; terminated: the last transition was
        a real end of the episode.
        """
        episode = _checked_episode(frames, actions, rewards, terminated)
        known = self._episodes[0]["frames"].shape[1:] if self._episodes else None
        if known is not None and episode["frames"].shape[1:] != known:
            raise ValueError(f"frame shape {episode['frames'].shape[1:]} differs from the store's {known}")
        path = self.directory / f"episode_{self._next_index:06d}.npz"
        tmp = path.with_name(path.name + _TMP_SUFFIX)
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **episode)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        self._next_index += 1
        self._append(episode)
        return path

    def sample_segments(
        self,
        batch_size: int,
        length: int,
        rng: np.random.Generator,
        episodes: Sequence[int] | None = None,
        include_frames: bool = True,
        end_fraction: float = 0.0,
        end_at: range | None = None,
    ) -> dict:
        """Segments of ``length`` steps, each starting at a transition drawn uniformly.

        Returns frames (B, L, *frame) uint8, actions (B, L) int64, rewards
        (B, L) float32, terminated (B, L) bool, mask (B, L) bool. Row b starts
        at frame s of its episode: frames[b, t] = obs_{s+t}, actions and
        rewards are those of the transition leaving obs_{s+t}, terminated
        marks a real end at that transition, mask says obs_{s+t} exists. Past
        the end frames repeat the last one and the rest is zero/False.

        Also returns where each frame came from, episode (B,) and frame_index
        (B, L), so a caller can gather its own per-frame data (e.g. cached
        latents) and skip the frames with ``include_frames=False``.
        ``episodes`` restricts sampling to those episode indices.

        ``end_fraction`` of the rows (rounded) are drawn instead among the
        segments whose real end, the last transition of a terminated episode,
        falls at a step in ``end_at`` (by default anywhere in the segment),
        so that rare ends are seen more often; an episode too short for the
        step drawn is read from its first frame, its end earlier. Without
        terminated episodes every row is uniform.
        """
        if length < 1:
            raise ValueError(f"segment length must be positive, got {length}")
        if not 0 <= end_fraction <= 1:
            raise ValueError(f"end_fraction must be between 0 and 1, got {end_fraction}")
        ep, start = self._sample_starts(batch_size, rng, episodes)
        end_ep, end_start = self._sample_end_starts(round(end_fraction * batch_size), rng,
                                                    end_at if end_at is not None else range(length), episodes)
        ep[:len(end_ep)], start[:len(end_ep)] = end_ep, end_start
        ends = np.asarray(self._lengths)[ep][:, None]  # (B, 1) = T of each row's episode
        pos = start[:, None] + np.arange(length)  # (B, L) frame index inside the episode
        frame_pos, step_pos, in_episode = np.minimum(pos, ends), np.minimum(pos, ends - 1), pos < ends
        out = dict(episode=ep, frame_index=frame_pos)
        out["actions"] = np.stack([self._episodes[e]["actions"][p] for e, p in zip(ep, step_pos)]) * in_episode
        out["rewards"] = np.stack([self._episodes[e]["rewards"][p] for e, p in zip(ep, step_pos)]) * in_episode
        real_end = np.asarray(self._terminated, dtype=bool)[ep][:, None]
        out["terminated"] = (pos == ends - 1) & real_end
        out["mask"] = pos <= ends
        if include_frames:
            out["frames"] = self._gather_frames(ep, frame_pos)
        return out

    def _gather_frames(self, ep: np.ndarray, frame_pos: np.ndarray) -> np.ndarray:
        """frames[b, t] = frame frame_pos[b, t] of episode ep[b]: (B, L, *frame) uint8."""
        frames = np.empty(frame_pos.shape + self._episodes[ep[0]]["frames"].shape[1:], np.uint8)
        for b, e in enumerate(ep):  # one gather per row: rows come from different arrays
            frames[b] = self._episodes[e]["frames"][frame_pos[b]]
        return frames

    def _sample_starts(self, batch_size, rng, episodes) -> tuple[np.ndarray, np.ndarray]:
        """(episode index, start frame) per row, uniform over the transitions of ``episodes``."""
        candidates = self._candidates(episodes)
        if len(candidates) == 0:
            raise ValueError("cannot sample segments: no episodes to sample from")
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        steps = np.asarray(self._lengths)[candidates]
        ends = np.cumsum(steps)
        flat = rng.integers(ends[-1], size=batch_size)  # one transition among all candidates
        row = np.searchsorted(ends, flat, side="right")
        return candidates[row], flat - (ends[row] - steps[row])

    def _sample_end_starts(self, count, rng, end_at: range, episodes) -> tuple[np.ndarray, np.ndarray]:
        """(episode index, start frame) of `count` rows whose real end falls at a step in `end_at`."""
        none = np.zeros(0, np.int64), np.zeros(0, np.int64)
        if count == 0:
            return none
        candidates = self._candidates(episodes)
        ended = candidates[np.asarray(self._terminated, dtype=bool)[candidates]]
        if len(ended) == 0:
            return none
        ep = rng.choice(ended, size=count)
        last = np.asarray(self._lengths)[ep] - 1  # the terminal transition
        # An episode shorter than the step drawn starts at its first frame: its end then falls earlier.
        return ep, np.maximum(last - rng.integers(end_at.start, end_at.stop, size=count), 0)

    def _candidates(self, episodes: Sequence[int] | None) -> np.ndarray:
        return np.arange(len(self)) if episodes is None else np.asarray(episodes, dtype=np.int64)

    def _append(self, episode: dict) -> None:
        self._episodes.append(episode)
        self._lengths.append(len(episode["actions"]))
        self._terminated.append(episode["terminated"])

    @staticmethod
    def _read(path: Path) -> dict:
        """An episode file's content; DreamditError naming the file when unreadable."""
        fix = f"move or delete {path} to continue without it"
        try:
            with np.load(path) as data:
                return _checked_episode(data["frames"], data["actions"], data["rewards"], data["terminated"])
        except _READ_ERRORS as e:
            reason = " ".join(f"{type(e).__name__}: {e}".split())  # the CLI prints one line
            raise DreamditError(f"corrupt episode file {path} ({reason}); {fix}") from None
