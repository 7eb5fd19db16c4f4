"""One factory for every environment, by spec: "vizdoom:TakeCover", "atari:Pong".

A spec may end in ",repeat=N": the agent then decides every N steps, each
decision played N times by the env (rewards summed, stopping at the episode's
end), so one agent step covers N frame-skipped steps of the game. Episode
statistics stay the game's: the length in info["episode"] counts frame-skipped steps,
and so do training budgets (``action_repeat`` converts).
"""
import difflib
import importlib

import gymnasium as gym

from envs.errors import DreamditError

# family -> (module holding its envs, the package that module needs, its pip name)
_FAMILIES = {
    "vizdoom": ("envs.vizdoom_env", "vizdoom", "vizdoom"),
    "atari": ("envs.atari_env", "ale_py", "ale-py"),
}
_USAGE = (
    "use vizdoom:<Scenario> (Basic, TakeCover, DefendCenter, ...) or atari:<Game> (Pong, Breakout, Boxing, ...), "
    "optionally followed by ,repeat=N"
)


def make_env(spec: str, seed: int | None = None, *, train: bool = False) -> gym.Env:
    """The env named by ``spec``: (3, 64, 64) uint8 RGB observations, Discrete actions.

    ``seed`` seeds the first ``reset()`` (later seeded resets work as in
    Gymnasium), so a run is fixed by it. ``train=True`` makes an Atari life
    loss end the episode; the reported returns stay those of whole games.
    The env's ``action_names`` name its actions. Raises DreamditError for an
    unknown spec or a missing package.
    """
    game, repeat = _split_repeat(spec)
    family, _, name = game.partition(":")
    if family not in _FAMILIES:
        raise DreamditError(f"unknown env spec {spec!r}: {_USAGE}")
    module = _family_module(family, spec)
    accepted = module.names()
    if name.lower() not in accepted:
        close = difflib.get_close_matches(name.lower(), accepted, n=1)
        hint = f"did you mean '{family}:{accepted[close[0]]}'? " if close else ""
        raise DreamditError(f"unknown env spec {spec!r}: {hint}{_USAGE}")
    env = module.make(accepted[name.lower()], seed, train=train)
    return env if repeat == 1 else ActionRepeat(env, repeat)


def action_names(spec: str) -> list[str]:
    """The names of the actions of the env named by ``spec``."""
    env = make_env(spec)
    try:
        return list(env.action_names)
    finally:
        env.close()


class ActionRepeat(gym.Wrapper):
    """Each step plays the action ``repeat`` times, summing rewards, until the episode ends."""

    def __init__(self, env: gym.Env, repeat: int):
        super().__init__(env)
        self.repeat = repeat
        self.metadata = {**env.metadata, "render_fps": env.metadata["render_fps"] / repeat}

    @property
    def action_names(self) -> list[str]:
        return self.env.action_names

    def step(self, action):
        total = 0.0
        for _ in range(self.repeat):
            obs, reward, terminated, truncated, info = self.env.step(action)
            total += reward
            if terminated or truncated:
                break
        return obs, total, terminated, truncated, info


def action_repeat(spec: str) -> int:
    """Frame-skipped game steps per agent decision: N for a spec ending in ',repeat=N', else 1."""
    return _split_repeat(spec)[1]


def game_name(spec: str) -> str:
    """The game a spec names, without its options: 'vizdoom:TakeCover,repeat=8' -> 'vizdoom:TakeCover'."""
    return _split_repeat(spec)[0]


def _split_repeat(spec: str) -> tuple[str, int]:
    """Split 'vizdoom:TakeCover,repeat=4' into ('vizdoom:TakeCover', 4); without the option, repeat is 1."""
    game, comma, option = spec.partition(",")
    if not comma:
        return game, 1
    key, _, value = option.partition("=")
    if key != "repeat" or not value.isdecimal() or int(value) < 1:
        raise DreamditError(f"bad env option {option!r} in {spec!r}: the only option is repeat=N with N >= 1, "
                            "e.g. vizdoom:TakeCover,repeat=4")
    return game, int(value)


def list_env_specs() -> list[str]:
    """Every spec ``make_env`` accepts, one spelling each, for the families whose package is installed."""
    specs = []
    for family, (module_name, package, _) in _FAMILIES.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != package:
                raise
            continue
        specs += [f"{family}:{name}" for name in sorted(set(module.names().values()))]
    return specs


def _family_module(family: str, spec: str):
    module_name, package, pip_name = _FAMILIES[family]
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != package:
            raise
        raise DreamditError(f"{spec!r} needs the {pip_name!r} package: pip install {pip_name}") from None
