"""One factory for every environment, by spec: "vizdoom:TakeCover", "atari:Pong"."""
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
    "use vizdoom:<Scenario> (Basic, TakeCover, DefendCenter, ...) or atari:<Game> (Pong, Breakout, Boxing, ...)"
)


def make_env(spec: str, seed: int | None = None, *, train: bool = False) -> gym.Env:
    """The env named by ``spec``: (3, 64, 64) uint8 RGB observations, Discrete actions.

    ``seed`` seeds the first ``reset()`` (later seeded resets work as in
    Gymnasium), so a run is fixed by it. ``train=True`` makes an Atari life
    loss end the episode; the reported returns stay those of whole games.
    The env's ``action_names`` name its actions. Raises DreamditError for an
    unknown spec or a missing package.
    """
    family, _, name = spec.partition(":")
    if family not in _FAMILIES:
        raise DreamditError(f"unknown env spec {spec!r}: {_USAGE}")
    module = _family_module(family, spec)
    accepted = module.names()
    if name.lower() not in accepted:
        close = difflib.get_close_matches(name.lower(), accepted, n=1)
        hint = f"did you mean '{family}:{accepted[close[0]]}'? " if close else ""
        raise DreamditError(f"unknown env spec {spec!r}: {hint}{_USAGE}")
    return module.make(accepted[name.lower()], seed, train=train)


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
