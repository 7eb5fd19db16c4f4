"""What every training job does with its run directory and its process, whichever the algorithm."""
import resource
from pathlib import Path

from envs.errors import DreamditError
from world_model.checkpoint import CHECKPOINT_NAME


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
