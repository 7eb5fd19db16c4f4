"""Command-line options: any field of the run's Config (agent/config.py) set from `--name value` pairs.

Any field can be set as `--section.field value`; fields whose name is unique
across sections also as `--field value` (`--total-steps 1000`), and `--env` is
short for `--env.spec`. With `--resume` the run directory's config.json takes the
place of the preset: a run continues as it was started, and options given then change it.
"""
import difflib
import json
from dataclasses import fields
from pathlib import Path

from agent.config import PRESETS, Config, validate
from envs.errors import DreamditError


def option_leaves(cfg: Config) -> dict:
    """'section.field' -> (section object, field) for every field."""
    return {f"{s.name}.{f.name}": (getattr(cfg, s.name), f) for s in fields(cfg) for f in fields(getattr(cfg, s.name))}


def option_aliases(leaves: dict) -> dict:
    names = [key.split(".")[1] for key in leaves]
    alias = {key.split(".")[1]: key for key in leaves if names.count(key.split(".")[1]) == 1}
    alias["env"] = "env.spec"
    return alias


def _convert(raw: str, default, name: str):
    if isinstance(default, bool):
        if raw.lower() in ("true", "1", "yes"):
            return True
        if raw.lower() in ("false", "0", "no"):
            return False
        raise DreamditError(f"--{name} takes true or false, not {raw!r}")
    try:
        return type(default)(float(raw)) if isinstance(default, int) and "e" in raw.lower() else type(default)(raw)
    except ValueError:
        raise DreamditError(f"--{name} takes a {type(default).__name__}, not {raw!r}") from None


def apply_overrides(cfg: Config, overrides: dict) -> Config:
    """Set fields from {'section.field' or alias: value (str or typed)}."""
    leaves = option_leaves(cfg)
    alias = option_aliases(leaves)
    for name, value in overrides.items():
        key = name.replace("-", "_")
        key = alias.get(key, key)
        owners = [leaf for leaf in leaves if leaf.split(".")[1] == key]
        if key not in leaves and len(owners) > 1:
            choices = " or ".join(f"--{owner.replace('_', '-')}" for owner in owners)
            raise DreamditError(f"--{name} is ambiguous: use {choices}")
        if key not in leaves:
            close = difflib.get_close_matches(key, list(leaves) + list(alias), n=1)
            hint = f"; did you mean --{close[0].replace('_', '-')}?" if close else ""
            raise DreamditError(f"unknown option --{name}{hint}")
        section, f = leaves[key]
        default = getattr(section, f.name)
        setattr(section, f.name, _convert(value, default, name) if isinstance(value, str) else value)
    return cfg


def parse_config(argv: list[str]) -> tuple[Config, dict]:
    """Config from `--preset NAME` and `--field value` pairs; also returns flags (resume, debug)."""
    pairs, flags, i = {}, {"resume": False, "debug": False}, 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("--"):
            raise DreamditError(f"unexpected argument {arg!r}: options look like --name value")
        name, eq, value = arg[2:].partition("=")
        if name in flags:
            flags[name] = True
            i += 1
            continue
        if not eq:
            if i + 1 >= len(argv):
                raise DreamditError(f"--{name} needs a value")
            value, i = argv[i + 1], i + 1
        pairs[name] = value
        i += 1
    preset = pairs.pop("preset", None)
    if preset is not None and preset not in PRESETS:
        close = difflib.get_close_matches(preset, PRESETS, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise DreamditError(f"unknown preset {preset!r} (presets: {', '.join(PRESETS)}){hint}")
    run_dir = apply_overrides(Config(), pairs).train.run_dir  # no preset names a run directory
    saved = Path(run_dir) / "config.json"
    if flags["resume"] and run_dir and saved.is_file():
        # A resumed run keeps the config it was started with; a preset or options given now change it.
        cfg = apply_overrides(saved_config(saved), dict(PRESETS[preset]) if preset else {})
    else:
        cfg = apply_overrides(Config(), dict(PRESETS[preset or "default"]))
    cfg = apply_overrides(cfg, pairs)
    validate(cfg)
    return cfg, flags


def saved_config(path: Path) -> Config:
    """The Config a run directory's config.json holds."""
    try:
        return config_from_dict(json.loads(path.read_text()))
    except (ValueError, AttributeError, DreamditError) as err:
        raise DreamditError(f"{path} is not a readable run config ({err})") from err


def config_from_dict(data: dict) -> Config:
    """Rebuild a Config from `asdict(config)` (as stored in checkpoints)."""
    cfg = Config()
    overrides = {f"{section}.{name}": value for section, values in data.items() for name, value in values.items()}
    return apply_overrides(cfg, overrides)
