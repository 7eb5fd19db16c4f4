"""The scripts under benchmarks/, run as a user runs them, on the shared smoke run."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from benchmarks.action_effect import ranked_above
from conftest import ROOT, run_cli


def run_script(name: str, *args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / name), *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_action_effect_replays_the_real_game_and_reads_the_dreams(smoke_run, tmp_path):
    out = tmp_path / "effect.json"
    # The script stops if a replay from the same seed and actions does not reproduce the recorded frame.
    result = run_script("action_effect.py", "--checkpoint", smoke_run, "--states", 4, "--horizon", 4,
                        "--json", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(out.read_text())
    real = figures["real"]
    assert len(real["end_rate_by_action"]) == 2 and 0 <= real["share_where_the_action_decides"] <= 1
    for name in ("dreamed", "head_on_real_frames"):
        chances = figures[name]["end_chance_by_action"]
        assert len(chances) == 2 and all(0 <= p <= 1 for p in chances)


def test_shot_choice_reads_the_dreamed_reward_of_shots_and_plays_screened(smoke_run_defend_center, tmp_path):
    out = tmp_path / "shots.json"
    result = run_script("shot_choice.py", "--runs", smoke_run_defend_center, "--segments", 16, "--episodes", 1,
                        "--json", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    run = json.loads(out.read_text())["runs"][str(smoke_run_defend_center)]
    assert run["dreams"]["windows"] == 16 and len(run["dreams"]["policy_elsewhere"]) == 3
    for mode in ("real_game", "real_game_screened"):
        played = run[mode]
        assert played["episodes"] == 1 and 0 <= played["rounds_left"] <= 26 and played["game_steps"] > 0


def test_dream_shots_reports_every_dreamed_decision(smoke_run_defend_center, tmp_path):
    out = tmp_path / "dream_shots.json"
    result = run_script("dream_shots.py", "--runs", smoke_run_defend_center, "--dreams", 8, "--json", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    run = json.loads(out.read_text())["runs"][str(smoke_run_defend_center)]
    assert run["dreams"] == 8 and run["horizon"] == 4  # the smoke preset's horizon
    assert len(run["attack_share_by_decision"]) == 4 and all(0 <= p <= 1 for p in run["attack_share_by_decision"])


def test_dream_shots_refuses_a_game_without_attack_in_one_line(smoke_run, tmp_path):
    result = run_script("dream_shots.py", "--runs", smoke_run, "--dreams", 8, cwd=tmp_path)
    assert result.returncode == 2 and "no ATTACK action" in result.stderr, result.stderr


def test_checkpoint_evals_pairs_greedy_with_sampled_play_of_the_same_checkpoint(smoke_run, tmp_path):
    for flag, name in (("--greedy", "eval_greedy_smoke_0k_seed3.json"), ("--no-greedy", "eval_smoke_0k_seed3.json")):
        result = run_cli("eval", "--checkpoint", smoke_run, "--episodes", 2, flag, "--json", tmp_path / name,
                         cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]
    out, png = tmp_path / "summary.json", tmp_path / "curves.png"
    result = run_script("checkpoint_evals.py", "--name", "smoke", "--seeds", 3, "--results", tmp_path,
                        "--json", out, "--plot", png, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(out.read_text())["3"]
    greedy, sampled = (json.loads((tmp_path / name).read_text())["mean"]
                       for name in ("eval_greedy_smoke_0k_seed3.json", "eval_smoke_0k_seed3.json"))
    assert summary["curves"]["greedy, averaged"]["0"]["mean"] == greedy
    assert summary["differences"]["greedy - sampled"]["mean"] == pytest.approx(greedy - sampled)
    assert summary["differences"]["greedy - sampled"]["pairs"] == 1 and png.stat().st_size > 0


def test_ranked_above_counts_pairs_within_each_row_ties_half():
    chances = np.array([[0.9, 0.1], [0.2, 0.2], [0.3, 0.4]])
    ended = np.array([[True, False], [False, True], [False, False]])  # the last row has no pair
    assert ranked_above(chances, ended) == pytest.approx((1 + 0.5) / 2)
    assert ranked_above(chances[2:], ended[2:]) is None


@pytest.mark.parametrize("script, args", [
    ("action_effect.py", ["--checkpoint", "no_such_run"]),
    ("policy_actions.py", ["--runs", "no_such_run"]),
    ("fixed_policies.py", ["--env", "vizdoom:Nowhere", "--episodes", 1]),
    ("checkpoint_evals.py", ["--name", "no_such_run", "--seeds", 0]),
])
def test_benchmark_scripts_refuse_bad_input_in_one_line(script, args, tmp_path):
    result = run_script(script, *args, cwd=tmp_path)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
