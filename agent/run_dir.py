"""What every training job does with its run directory and its process, whichever the algorithm."""
import json
import resource
import sys
from pathlib import Path

import torch

from envs.errors import DreamditError
from world_model.checkpoint import CHECKPOINT_NAME, checkpoint_sha256


def setup_torch(seed: int, threads: int, device: str) -> torch.device:
    """Seed torch, set its CPU threads (0 keeps the default) and check the device exists."""
    torch.manual_seed(seed)
    if threads:
        torch.set_num_threads(threads)
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise DreamditError("--device cuda given but no CUDA GPU is available")
    return torch.device(device)


def write_results(run_dir: Path, cfg, env_steps: int, wall_time_s: float, final_eval: dict) -> dict:
    """results.json: the final evaluation with what it cost, and the digest of the final checkpoint that a
    later `dreamdit eval --json` of the run repeats."""
    results = {"env": cfg.env.spec, "algo": cfg.train.algo, "seed": cfg.train.seed, "env_steps": env_steps,
               "wall_time_s": wall_time_s, "peak_memory_gb": peak_memory_gb(), "final_eval": final_eval,
               "command": " ".join(sys.argv), "checkpoint_sha256": checkpoint_sha256(run_dir)}
    (run_dir / "results.json").write_text(json.dumps(results, indent=2))
    return results


def prepare_run_dir(run_dir: Path, resume: bool) -> Path:
    if resume and not (run_dir / CHECKPOINT_NAME).is_file():
        raise DreamditError(f"--resume: no checkpoint in {run_dir}")
    if not resume and (run_dir / CHECKPOINT_NAME).exists():
        raise DreamditError(f"{run_dir} already holds a run: add --resume to continue it or pick another --run-dir")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".writable"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise DreamditError(f"cannot write to run directory {run_dir}: {err.strerror or err}") from err
    return run_dir


def peak_memory_gb() -> float:
    """Peak resident memory of this process and its finished children (Linux reports kB)."""
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return usage / 2**20
