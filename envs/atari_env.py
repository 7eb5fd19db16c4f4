"""Atari games under the Atari 100k protocol, as (3, 64, 64) RGB frames."""
import ale_py
import gymnasium as gym
import numpy as np

from envs.resize import AreaResize

gym.register_envs(ale_py)

FRAME_SKIP = 4
NOOP_MAX = 30
MAX_FRAMES = 108_000  # emulator frames in a game, no-ops included: 27,000 steps at most


def names() -> dict[str, str]:
    """Accepted game names, lower-cased -> canonical name (the ALE's: Pong, MsPacman, ...)."""
    games = [env_id[4:-3] for env_id in gym.registry if env_id.startswith("ALE/") and env_id.endswith("-v5")]
    return {game.lower(): game for game in games}


def make(name: str, seed: int | None, *, train: bool) -> "AtariEnv":
    """The factory's entry point."""
    return AtariEnv(name, seed, train=train)


class AtariEnv(gym.Env):
    """One ALE game: minimal action set, no sticky actions, each step 4 emulator frames.

    The observation is the pixel-wise max of the step's last two frames (some
    games draw sprites on alternate frames), area-resized. A new game starts
    with 1 to 30 random no-op frames and is truncated after ``max_frames``
    frames (108,000).
    Rewards are never clipped. With ``train=True`` a lost life ends the
    episode (terminated) but not the game: the next ``reset()`` goes on with
    one no-op step, and ``info["episode"]`` (return and length of the whole
    game, that step included) comes only when the game is over.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 60 / FRAME_SKIP}

    def __init__(
        self,
        game: str,
        seed: int | None = None,
        *,
        train: bool = False,
        max_frames: int = MAX_FRAMES,
        render_mode=None,
    ):
        self.render_mode = render_mode
        self._train = train
        self._emulator = gym.make(
            f"ALE/{game}-v5",
            frameskip=1,
            repeat_action_probability=0.0,
            full_action_space=False,
            max_num_frames_per_episode=max_frames,
        ).unwrapped
        self._ale = self._emulator.ale
        self._action_set = self._ale.getMinimalActionSet()
        self.action_names = self._emulator.get_action_meanings()
        self.action_space = gym.spaces.Discrete(len(self._action_set))
        height, width = self._ale.getScreenDims()
        self._resize = AreaResize((height, width))
        self.observation_space = gym.spaces.Box(0, 255, self._resize.shape, np.uint8)
        self._frames = np.zeros((2, height, width, 3), np.uint8)  # the last two frames of a step
        self._pooled = np.zeros((height, width, 3), np.uint8)
        self._initial_seed = seed
        self._game_over = True

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """A new game, or in training after a lost life, the same game one no-op step later."""
        seed, self._initial_seed = (self._initial_seed if seed is None else seed), None
        super().reset(seed=seed)
        if seed is not None or self._game_over:
            self._new_game(seed)
        else:
            self._return += self._play(ale_py.Action.NOOP)
            self._steps += 1
            self._lives = self._ale.lives()
            if self._ale.game_over():  # rare: the no-op lost the last life
                self._new_game(None)
        return self._observe(), {}

    def step(self, action):
        """Play ``action`` for 4 frames; the reward is their sum, unclipped."""
        reward = self._play(self._action_set[action])
        self._steps += 1
        self._return += reward
        lives = self._ale.lives()
        life_lost = self._train and lives < self._lives
        self._lives = lives
        self._game_over = self._ale.game_over()  # at the frame cap too
        terminated = life_lost or (self._game_over and self._ale.game_over(with_truncation=False))
        truncated = self._game_over and not terminated
        info = {"episode": {"r": self._return, "l": self._steps}} if self._game_over else {}
        return self._observe(), reward, terminated, truncated, info

    def render(self) -> np.ndarray | None:
        """The last (max-pooled) frame at the ALE's resolution, (210, 160, 3) uint8, in rgb_array mode."""
        return self._pooled.copy() if self.render_mode == "rgb_array" else None

    def close(self):
        """Release the emulator."""
        self._emulator.close()

    def _new_game(self, seed: int | None) -> None:
        if seed is not None:  # reseeds the ALE and reloads the ROM, so only when asked to
            self._emulator.reset(seed=int(self.np_random.integers(2**31)))
        else:
            self._ale.reset_game()
        for _ in range(self.np_random.integers(1, NOOP_MAX + 1)):
            self._ale.act(ale_py.Action.NOOP)
            if self._ale.game_over():
                self._ale.reset_game()
        self._grab_last_frame()
        self._steps, self._return, self._lives = 0, 0.0, self._ale.lives()
        self._game_over = False

    def _play(self, ale_action: ale_py.Action) -> float:
        """Repeat ``ale_action`` for 4 frames (fewer if the game ends); keep the last two frames."""
        reward = 0.0
        for frame in range(FRAME_SKIP):
            reward += self._ale.act(ale_action)
            if self._ale.game_over():
                self._grab_last_frame()
                break
            if frame >= FRAME_SKIP - 2:
                self._ale.getScreenRGB(self._frames[frame - FRAME_SKIP + 2])
        return reward

    def _grab_last_frame(self) -> None:
        """Both frame slots hold the current screen, so the max-pool is that screen."""
        self._ale.getScreenRGB(self._frames[0])
        self._frames[1] = self._frames[0]

    def _observe(self) -> np.ndarray:
        np.maximum(self._frames[0], self._frames[1], out=self._pooled)
        return self._resize(self._pooled)
