import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, cwd, timeout=300):
    """Run `python train.py ARGS` (the same entry point as `dreamdit`) as a user would."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """One real `smoke` training run on ViZDoom Take Cover, shared by the tests that read its outputs."""
    work = tmp_path_factory.mktemp("smoke")
    result = run_cli("--preset", "smoke", "--run-dir", work / "run", "--seed", 3, cwd=work)
    assert result.returncode == 0, result.stderr[-3000:]
    return work / "run"


@pytest.fixture(scope="session")
def smoke_run_defend_center(tmp_path_factory):
    """A `smoke` training run on Defend the Center (a decision every 2 game steps), which has an ATTACK action."""
    work = tmp_path_factory.mktemp("smoke_dc")
    result = run_cli("--preset", "smoke", "--env", "vizdoom:DefendCenter,repeat=2", "--run-dir", work / "run",
                     "--seed", 3, cwd=work)
    assert result.returncode == 0, result.stderr[-3000:]
    return work / "run"
