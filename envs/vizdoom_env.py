"""ViZDoom scenarios as Gymnasium envs: (3, 64, 64) RGB frames, one action per button, frame skip 4."""
import os

import gymnasium as gym
import numpy as np
import vizdoom as vzd

from envs.resize import AreaResize

FRAME_SKIP = 4
# Configs that ship with a .wad of their own but are not single-agent
# scenarios (configs without one, the full games and `learning.cfg`, are
# skipped anyway).
_NOT_SCENARIOS = {"basic_audio", "basic_notifications", "cig", "multi_duel"}
# Take Cover's config has no timeout; published results cap it at 2,100 tics.
_EPISODE_TICS = {"take_cover": 2100}
_RESOLUTION = vzd.ScreenResolution.RES_160X120  # the smallest 4:3 one: the least to render and resize
_FRAME_SIZE = (120, 160)


def _scenario_configs() -> dict[str, str]:
    """CamelCase scenario name -> config stem, "the" left out: defend_the_center -> DefendCenter."""
    files = set(os.listdir(vzd.scenarios_path))
    stems = [f[:-4] for f in files if f.endswith(".cfg") and f[:-4] + ".wad" in files]
    return {_camel(stem, skip="the"): stem for stem in stems if stem not in _NOT_SCENARIOS}


def _camel(stem: str, skip: str = "") -> str:
    return "".join(word.capitalize() for word in stem.split("_") if word != skip)


def names() -> dict[str, str]:
    """Accepted scenario names, lower-cased -> canonical name; DefendTheCenter is accepted too."""
    accepted = {}
    for name, stem in _scenario_configs().items():
        accepted[name.lower()] = accepted[_camel(stem).lower()] = name
    return accepted


def make(name: str, seed: int | None, *, train: bool) -> "VizdoomEnv":
    """The factory's entry point; ``train`` changes nothing, as ViZDoom has no lives."""
    del train
    return VizdoomEnv(name, seed)


class VizdoomEnv(gym.Env):
    """One ViZDoom scenario, each step repeating one button for 4 tics.

    The reward is the scenario's, summed over the tics played. An episode
    ends as terminated on death or on the scenario's own goal (Basic: the
    monster is killed), and as truncated at a time limit: the scenario's
    timeout, or ``episode_tics`` tics, which Take Cover gets by default
    (2,100). Take Cover pays 1 a tic, so its return counts the tics survived.
    Once an episode has ended ViZDoom shows no more frames: the last
    observation is repeated. ``info["game_variables"]`` holds the values of
    the scenario's game variables (Defend the Center: AMMO2, HEALTH) at the
    last frame shown; the agent never sees them.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": vzd.DEFAULT_TICRATE / FRAME_SKIP}

    def __init__(
        self, scenario: str, seed: int | None = None, *, episode_tics: int | None = None, render_mode=None
    ):
        stem = _scenario_configs()[scenario]
        self.render_mode = render_mode
        self._game = _start_game(stem)
        buttons = self._game.get_available_buttons()
        # Delta buttons (continuous turning) stay at 0: every action presses one binary button.
        pressed = [i for i, button in enumerate(buttons) if vzd.is_binary_button(button)]
        self._actions = [[float(i == j) for i in range(len(buttons))] for j in pressed]
        self.action_names = [buttons[j].name for j in pressed]
        self.action_space = gym.spaces.Discrete(len(pressed))
        self._variable_names = [variable.name for variable in self._game.get_available_game_variables()]
        self._resize = AreaResize(_FRAME_SIZE)
        self.observation_space = gym.spaces.Box(0, 255, self._resize.shape, np.uint8)
        self.episode_tics = episode_tics or _EPISODE_TICS.get(stem)
        self._initial_seed = seed

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start a new episode; ``seed`` (or the constructor's, on the first reset) reseeds."""
        seed, self._initial_seed = (self._initial_seed if seed is None else seed), None
        super().reset(seed=seed)
        # A doom seed per episode, drawn from np_random: episodes differ, and the seed fixes them all.
        self._game.set_seed(int(self.np_random.integers(2**31)))
        self._game.new_episode()
        self._tics, self._return, self._length = 0, 0.0, 0
        return self._observe(), {"game_variables": self._variables}

    def step(self, action):
        """Press button ``action`` for 4 tics (fewer if the tic cap comes first)."""
        tics = FRAME_SKIP if self.episode_tics is None else min(FRAME_SKIP, self.episode_tics - self._tics)
        reward = self._game.make_action(self._actions[action], tics)
        self._tics += tics
        self._return += reward
        self._length += 1
        finished = self._game.is_episode_finished()
        # ViZDoom reports its own timeout as a finished episode too; here that is a truncation.
        timed_out = finished and self._game.is_episode_timeout_reached()
        terminated = finished and (self._game.is_player_dead() or not timed_out)
        truncated = not terminated and (timed_out or self._tics == self.episode_tics)
        obs = self._observe()
        # _observe replaces the dict rather than changing it, so infos can share it.
        info = {"game_variables": self._variables}
        if terminated or truncated:
            info["episode"] = {"r": self._return, "l": self._length}
        return obs, reward, terminated, truncated, info

    def render(self) -> np.ndarray | None:
        """The last frame at the resolution ViZDoom renders, (120, 160, 3) uint8, in rgb_array mode."""
        return self._frame.copy() if self.render_mode == "rgb_array" else None

    def close(self):
        """Stop the game engine."""
        self._game.close()

    def _observe(self) -> np.ndarray:
        state = self._game.get_state()
        if state is None:  # the episode has ended
            return self._obs.copy()
        self._frame = state.screen_buffer  # (120, 160, 3)
        values = [] if state.game_variables is None else state.game_variables.tolist()
        self._variables = dict(zip(self._variable_names, values))
        self._obs = self._resize(self._frame)
        return self._obs


def _start_game(stem: str) -> vzd.DoomGame:
    """A ViZDoom game of scenario ``stem``, hidden, rendering RGB at 160x120."""
    game = vzd.DoomGame()
    game.load_config(os.path.join(vzd.scenarios_path, f"{stem}.cfg"))
    game.set_window_visible(False)
    game.set_mode(vzd.Mode.PLAYER)  # synchronous: the game waits for every action
    game.set_screen_resolution(_RESOLUTION)
    game.set_screen_format(vzd.ScreenFormat.RGB24)
    game.init()
    return game
