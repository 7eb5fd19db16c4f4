"""Crash safety, clear errors on bad files, numerical safety and multi-process training."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict

import numpy as np
import pytest
import torch

import train
from agent.options import parse_config
from agent.updates import MAX_BAD_UPDATES
from conftest import ROOT, run_cli
from envs import DreamditError, EpisodeStore


def test_sigkill_then_resume_finishes_with_every_episode_intact(tmp_path):
    run = tmp_path / "run"
    args = [sys.executable, str(ROOT / "train.py"), "--preset", "smoke", "--run-dir", str(run),
            "--total-steps", "800", "--seed", "5"]
    proc = subprocess.Popen(args, cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not (run / "checkpoint.pt").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)  # into the main loop, between writes
    game_processes = children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for pid in game_processes:  # a killed trainer cannot close its ViZDoom games; do not leave them behind
        os.kill(pid, signal.SIGKILL)
    stored_before = sorted(p.name for p in (run / "episodes").glob("episode_*.npz"))
    assert stored_before and not (run / "results.json").exists()

    result = run_cli("--run-dir", run, "--resume", cwd=tmp_path)  # the run's own config, as it was started
    assert result.returncode == 0, result.stderr[-3000:]
    results = (run / "results.json").read_text()
    assert '"env_steps": 8' in results  # 800 steps, plus at most one vector step of overshoot
    stored_after = sorted(p.name for p in (run / "episodes").glob("episode_*.npz"))
    assert set(stored_before) <= set(stored_after)
    store = EpisodeStore(run / "episodes")  # every file still reads back
    assert len(store) == len(stored_after) and not list((run / "episodes").glob("*.tmp"))


def test_resume_starts_from_the_run_config_and_options_given_now_change_it(tmp_path):
    started, _ = parse_config(["--preset", "smoke", "--env", "vizdoom:TakeCover,repeat=2", "--seed", "7",
                               "--run-dir", str(tmp_path)])
    (tmp_path / "config.json").write_text(json.dumps(asdict(started)))
    resumed, _ = parse_config(["--run-dir", str(tmp_path), "--resume"])
    assert asdict(resumed) == asdict(started)
    longer, _ = parse_config(["--run-dir", str(tmp_path), "--resume", "--total-steps", "5000"])
    assert longer.train.total_steps == 5000 and longer.env.spec == "vizdoom:TakeCover,repeat=2"
    (tmp_path / "config.json").write_text("{not json")
    result = run_cli("--run-dir", tmp_path, "--resume", cwd=tmp_path)
    assert result.returncode == 2 and "not a readable run config" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_sigterm_stops_cleanly_closing_every_game(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), "--preset", "smoke", "--run-dir", str(run),
                             "--total-steps", "5000"], cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while not (run / "checkpoint.pt").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    game_processes = children(proc.pid)
    assert game_processes  # the run's ViZDoom games
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "resume with --resume" in stderr
    time.sleep(1)
    assert not [pid for pid in game_processes if alive(pid)]


def process_state(pid: int) -> tuple[str, int] | None:
    """(state letter, parent pid) of a process from Linux /proc, or None once it is gone."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[1])


def alive(pid: int) -> bool:
    state = process_state(pid)
    return state is not None and state[0] != "Z"  # a zombie has exited; only its entry is left


def children(pid: int) -> list[int]:
    """Process ids whose parent is `pid`."""
    return [int(entry) for entry in os.listdir("/proc")
            if entry.isdigit() and (process_state(int(entry)) or ("", -1))[1] == pid]


def test_truncated_episode_file_gives_a_one_line_error_naming_it(smoke_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(smoke_run, run)
    victim = sorted((run / "episodes").glob("episode_*.npz"))[0]
    victim.write_bytes(victim.read_bytes()[:100])
    result = run_cli("eval", "--checkpoint", run, "--episodes", 1, cwd=tmp_path)  # eval does not read episodes
    assert result.returncode == 0
    result = run_cli("--preset", "smoke", "--run-dir", run, "--resume", cwd=tmp_path)
    assert result.returncode == 2 and victim.name in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_checkpoint_of_another_env_is_refused(smoke_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(smoke_run, run)
    result = run_cli("--preset", "smoke", "--run-dir", run, "--resume", "--env", "vizdoom:Basic", cwd=tmp_path)
    assert result.returncode == 2 and "is for vizdoom:TakeCover" in result.stderr


def test_run_dir_that_cannot_be_created_is_refused(tmp_path):
    (tmp_path / "a_file").write_text("")
    result = run_cli("--preset", "smoke", "--run-dir", tmp_path / "a_file" / "run", cwd=tmp_path)
    assert result.returncode == 2 and "cannot write to run directory" in result.stderr


def test_non_finite_loss_is_skipped_logged_and_stops_the_run_when_repeated(tmp_path):
    cfg, _ = parse_config(["--preset", "smoke", "--run-dir", str(tmp_path / "run"), "--env", "vizdoom:Basic"])
    trainer = train.Trainer(cfg)
    trainer.vec.close()
    before = [p.clone() for p in trainer.agent.world_model.parameters()]
    nan = torch.tensor(float("nan"), requires_grad=True)
    trainer.optimise("world_model", nan * sum(p.sum() for p in trainer.agent.world_model.parameters()), {})
    assert trainer.counters["bad_updates"] == 1 and trainer.counters["world_model_updates"] == 0
    assert all(torch.equal(b, p) for b, p in zip(before, trainer.agent.world_model.parameters()))
    with pytest.raises(DreamditError, match="non-finite world_model updates"):
        for _ in range(MAX_BAD_UPDATES):
            trainer.optimise("world_model", nan * 1.0, {})
    trainer.writer.close()


def test_two_process_torchrun_keeps_parameters_identical_on_both_ranks(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    # --standalone picks a free port, so a second job on the machine cannot join this one's group.
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               str(ROOT / "train.py"), "--preset", "smoke", "--run-dir", str(tmp_path / "run")]
    try:
        result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"torchrun did not finish in 300 s; its output ended with:\n{(err.stderr or b'')[-3000:]!r}")
    assert result.returncode == 0, result.stderr[-3000:]
    checksums = dict(re.findall(r"rank (\d): parameter checksum ([-+.0-9e]+)", result.stderr))
    assert set(checksums) == {"0", "1"} and checksums["0"] == checksums["1"], result.stderr[-3000:]
    assert (tmp_path / "run" / "results.json").exists()
    # The updates really happened on both ranks: the parameters moved away from their initial values.
    payload = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert payload["counters"]["world_model_updates"] > 0 and np.isfinite(float(checksums["0"]))


def test_disk_full_while_writing_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    from world_model import checkpoint as ckpt

    path = tmp_path / "checkpoint.pt"
    ckpt.save_checkpoint(path, {"config": {}, "state": {"w": torch.ones(3)}})

    def full_disk(obj, f):
        with open(f, "wb") as out:
            out.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ckpt.torch, "save", full_disk)
    with pytest.raises(DreamditError, match="No space left on device; the previous checkpoint is kept"):
        ckpt.save_checkpoint(path, {"config": {}, "state": {"w": torch.zeros(3)}})
    monkeypatch.undo()
    assert torch.equal(ckpt.load_checkpoint(path)["state"]["w"], torch.ones(3))
    assert not list(tmp_path.glob("*.tmp"))
