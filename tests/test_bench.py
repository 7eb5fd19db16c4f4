"""`dreamdit bench`: real smoke runs, skipped once finished, and the report built from them."""
import json

from agent.bench import Run, command, parse_args, plan
from agent.bench_report import write_report
from agent.config import PRESETS, Config
from conftest import run_cli

BENCH = ["bench", "--suite", "vizdoom", "--envs", "vizdoom:Basic", "--algos", "ppo", "--seeds", 1,
         "--preset", "smoke", "--run-root", "runs", "--out", "report"]


def test_bench_runs_then_skips_finished_runs_and_reports(tmp_path):
    first = run_cli(*BENCH, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    run = tmp_path / "runs" / "vizdoom_Basic__ppo__0"
    results, log = run / "results.json", run / "bench.log"
    stamp, log_size = results.stat().st_mtime_ns, log.stat().st_size

    second = run_cli(*BENCH, cwd=tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "1 of 1 runs already finished; 0 to run" in second.stdout
    assert results.stat().st_mtime_ns == stamp and log.stat().st_size == log_size  # no training happened

    report = (tmp_path / "report" / "RESULTS.md").read_text()
    final = json.loads(results.read_text())["final_eval"]["mean"]
    assert "| vizdoom:Basic | ppo | 1 |" in report and f"{final:.1f} ± 0.0" in report
    assert (tmp_path / "report" / "results" / "vizdoom_episodic_return.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_command_of_a_run_and_resume_of_an_unfinished_one(tmp_path):
    args = parse_args(["--suite", "atari", "--algos", "dreamdit", "--steps", "1000", "--jobs", "2"])
    run = Run("atari:Pong", "dreamdit", 3, tmp_path / "atari_Pong__dreamdit__3")
    cmd = command(args, run)
    assert cmd[1].endswith("train.py") and "--resume" not in cmd
    flags = dict(zip(cmd[2::2], cmd[3::2]))
    assert flags == {"--preset": "atari100k", "--env": "atari:Pong", "--algo": "dreamdit", "--seed": "3",
                     "--run-dir": str(run.dir), "--threads": flags["--threads"], "--total-steps": "1000"}
    run.dir.mkdir()
    (run.dir / "checkpoint.pt").write_bytes(b"")
    assert command(args, run)[-1] == "--resume"


def test_vizdoom_suite_benchmarks_each_game_at_its_presets_decision_rate(tmp_path):
    args = parse_args(["--suite", "vizdoom", "--envs", "vizdoom:TakeCover,vizdoom:DefendCenter", "--seeds", "1",
                       "--algos", "dreamdit", "--run-root", str(tmp_path)])
    assert args.envs == [Config().env.spec, PRESETS["defendcenter"]["env.spec"]]
    runs = plan(args)
    assert [run.dir.name for run in runs] == ["vizdoom_TakeCover_repeat_8__dreamdit__0",
                                              "vizdoom_DefendCenter_repeat_2__dreamdit__0"]
    cmd = command(args, runs[0])
    assert dict(zip(cmd[2::2], cmd[3::2]))["--env"] == Config().env.spec

    run = tmp_path / runs[0].dir.name
    run.mkdir()
    run.joinpath("config.json").write_text(json.dumps({"env": {"spec": args.envs[0]},
                                                       "train": {"algo": "dreamdit", "seed": 0}}))
    run.joinpath("results.json").write_text(json.dumps({
        "env": args.envs[0], "algo": "dreamdit", "seed": 0, "env_steps": 100_000, "wall_time_s": 60.0,
        "peak_memory_gb": 1.0, "final_eval": {"mean": 800.0, "std": 0.0, "episodes": 100, "greedy": True},
        "command": "train.py --seed 0"}))
    report = write_report(tmp_path, tmp_path / "out", "vizdoom", args.envs, "test machine").read_text()
    assert "| vizdoom:TakeCover,repeat=8 | dreamdit | 1 | 100000 | greedy | 800.0 ± 0.0 |" in report
    assert "World Models, controller trained in its dream, 1092 ± 556" in report  # published, by game


def test_atari_report_normalises_by_human_scores(tmp_path):
    # Two seeds of Pong and Breakout whose scores are 0 and 1 in human-normalised units.
    for env, random, human in (("atari:Pong", -20.7, 14.6), ("atari:Breakout", 1.7, 30.5)):
        for seed, score in enumerate((random, human)):
            run = tmp_path / "runs" / f"{env}_{seed}"
            run.mkdir(parents=True)
            config = {"env": {"spec": env}, "train": {"algo": "ppo", "seed": seed}}
            results = {"env": env, "algo": "ppo", "seed": seed, "env_steps": 100_000, "wall_time_s": 60.0,
                       "peak_memory_gb": 1.0, "final_eval": {"mean": score, "std": 0.0, "episodes": 100},
                       "command": f"/somewhere/train.py --env {env} --algo ppo --seed {seed}"}
            run.joinpath("config.json").write_text(json.dumps(config))
            run.joinpath("results.json").write_text(json.dumps(results))
    suite = ["atari:Pong", "atari:Breakout", "atari:Boxing"]  # Boxing has no run
    report = write_report(tmp_path / "runs", tmp_path / "out", "atari", suite, "test machine").read_text()
    assert "No finished run yet for atari:Boxing" in report
    assert "| ppo | 2 | 2 | 0.500 | 0.500 |" in report  # mean and median HNS over the games
    assert "IRIS 14.6" in report and "DIAMOND 1.459" in report
    assert "- `python train.py --env atari:Breakout --algo ppo --seed 1`" in report  # what measured each row


def test_bad_bench_input_gives_one_line_and_status_2(tmp_path):
    result = run_cli("bench", "--suite", "atari", "--envs", "vizdoom:Basic", cwd=tmp_path)
    assert result.returncode == 2 and "not in the atari suite" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
