"""The one checkpoint reader/writer: plain types only, written atomically.

A checkpoint is a dict of state dicts, numbers, strings and the run's config as
a dict, so it loads with `torch.load(weights_only=True)`. It is written to a
temporary file in the same directory and renamed, so a run killed mid-write
keeps its previous checkpoint.
"""
import hashlib
import os
import pickle
import zipfile
from pathlib import Path

import torch

from envs.errors import DreamditError

CHECKPOINT_NAME = "checkpoint.pt"


def save_checkpoint(path, payload: dict) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save(payload, tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise DreamditError(f"could not write checkpoint {path}: {err.strerror or err}; "
                            "the previous checkpoint is kept") from err


def resolve_checkpoint(run_or_file) -> Path:
    """A run directory (its checkpoint) or a checkpoint file -> the checkpoint's path."""
    path = Path(run_or_file)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise DreamditError(f"no checkpoint at {path}: give a run directory or a checkpoint file")
    return path


def load_checkpoint(run_or_file, map_location="cpu") -> dict:
    path = resolve_checkpoint(run_or_file)
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError, ValueError, OSError) as err:
        raise DreamditError(f"checkpoint {path} is corrupt or truncated ({type(err).__name__}); "
                            "use another checkpoint or start a new run") from err
    if not isinstance(payload, dict) or "config" not in payload or "state" not in payload:
        raise DreamditError(f"{path} is not a dreamdit checkpoint")
    # Checkpoints from before the DiT's context skip and the autoencoder's detail weighting were trained without.
    payload["config"].get("dit", {}).setdefault("context_skip", False)
    payload["config"].get("autoencoder", {}).setdefault("detail_weight", 0.0)
    return payload


def checkpoint_sha256(run_or_file) -> str:
    """The checkpoint file's SHA-256: a run's results.json and an evaluation of that run name the same one."""
    digest = hashlib.sha256()
    with open(resolve_checkpoint(run_or_file), "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check_same_env(payload: dict, spec: str, num_actions: int, source: str) -> None:
    """A one-line error when a checkpoint belongs to another env than the one it is loaded for."""
    saved = payload["config"]["env"]["spec"]
    if saved != spec or payload["num_actions"] != num_actions:
        raise DreamditError(f"checkpoint {source} is for {saved} ({payload['num_actions']} actions), "
                            f"not {spec} ({num_actions} actions)")
