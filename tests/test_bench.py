"""`dreamdit bench`: real smoke runs, skipped once finished, and the report built from them."""
import json
import shutil

from agent.bench import Run, command, parse_args, plan
from agent.bench_report import write_report
from agent.config import PRESETS, Config
from conftest import ROOT, run_cli

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
    assert "| vizdoom:Basic | ppo | – | 1 |" in report and f"{final:.1f} (one seed)" in report
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
    assert "| vizdoom:TakeCover,repeat=8 | dreamdit | – | 1 | 100000 | greedy | 800.0 (one seed) |" in report
    assert "| 1 of 1 ≥ 750 |" in report  # the project's target for the game
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
    assert "| ppo | – | 2 | 2 | 0.500 | 0.500 |" in report  # mean and median HNS over the games
    assert "IRIS 14.6" in report and "DIAMOND 1.459" in report
    assert "- ppo, seed 1: `python train.py --env atari:Breakout --algo ppo --seed 1`" in report  # what measured it


def test_bad_bench_input_gives_one_line_and_status_2(tmp_path):
    result = run_cli("bench", "--suite", "atari", "--envs", "vizdoom:Basic", cwd=tmp_path)
    assert result.returncode == 2 and "not in the atari suite" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def results_file(path, env, seed, mean, greedy, env_steps=100_000):
    path.write_text(json.dumps({
        "env": env, "algo": "dreamdit", "seed": seed, "env_steps": env_steps, "wall_time_s": 600.0,
        "peak_memory_gb": 1.5, "final_eval": {"mean": mean, "std": 1.0, "episodes": 100, "greedy": greedy},
        "command": f"train.py --seed {seed}"}))


def test_report_from_a_manifest_of_committed_result_files(tmp_path):
    results, env = tmp_path / "benchmarks" / "results", "vizdoom:DefendCenter,repeat=2"
    results.mkdir(parents=True)
    results_file(results / "seed0.json", env, 0, 4.0, True)
    results_file(results / "seed1.json", env, 1, 3.0, False, env_steps=50_000)  # counted decisions
    (results / "eval_greedy_seed1.json").write_text(json.dumps(
        {"env": env, "episodes": 100, "greedy": True, "mean": 6.0, "std": 2.0, "returns": [6.0] * 100}))
    (results / "suite.json").write_text(json.dumps({
        "machine": "a test machine", "figures": [{"file": "seed0.json", "caption": "the curves"}],
        "groups": [{"env": env, "algo": "dreamdit", "variant": "some preset, greedy", "runs": [
            {"run": "seed0.json"},
            {"run": "seed1.json", "eval": "eval_greedy_seed1.json", "counted_decisions": True, "note": "older"}]}]}))
    result = run_cli("bench", "--suite", "vizdoom", "--report-only", "--results", "benchmarks/results/suite.json",
                     "--out", "benchmarks", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    report = (tmp_path / "benchmarks" / "RESULTS.md").read_text()
    # The eval file replaced seed 1's final evaluation; its decisions became game steps; std over seeds is ddof 1.
    assert "| some preset, greedy | 2 | 100000 | greedy | 5.00 ± 1.41 |" in report
    assert "| 1 of 2 ≥ 5 |" in report and "6.00 ± 2.00 (100)" in report
    assert "(`seed1.json`, `eval_greedy_seed1.json`); older" in report
    assert "![the curves](results/seed0.json)" in report and "Machines of the runs: a test machine" in report


def test_bad_manifest_gives_one_line_and_status_2(tmp_path):
    (tmp_path / "suite.json").write_text(json.dumps({"machine": "m", "groups": [
        {"env": "vizdoom:Basic", "algo": "ppo", "variant": "v", "runs": [{"run": "missing.json"}]}]}))
    for extra in ([], ["--report-only"]):
        result = run_cli("bench", "--suite", "vizdoom", "--results", "suite.json", *extra, cwd=tmp_path)
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "add --report-only" in run_cli("bench", "--suite", "vizdoom", "--results", "suite.json",
                                          cwd=tmp_path).stderr
    assert "cannot read result file missing.json" in result.stderr
    (tmp_path / "run.json").write_text(json.dumps({"env": "vizdoom:Basic", "algo": "ppo"}))
    (tmp_path / "suite.json").write_text(json.dumps({"machine": "m", "groups": [
        {"env": "vizdoom:Basic", "algo": "ppo", "variant": "v", "runs": [{"run": "run.json"}]}]}))
    result = run_cli("bench", "--suite", "vizdoom", "--results", "suite.json", "--report-only", cwd=tmp_path)
    assert result.returncode == 2 and "result file run.json lacks seed, env_steps" in result.stderr


def test_an_eval_file_of_another_run_is_refused(tmp_path):
    env = "vizdoom:DefendCenter,repeat=2"
    results_file(tmp_path / "seed1.json", env, 1, 3.0, True)
    evaluation = {"env": env, "episodes": 100, "greedy": True, "mean": 6.0, "std": 2.0, "returns": [6.0] * 100}
    (tmp_path / "suite.json").write_text(json.dumps({"machine": "m", "groups": [
        {"env": env, "algo": "dreamdit", "variant": "v", "runs": [{"run": "seed1.json", "eval": "eval.json"}]}]}))
    for trained, accepted in [({}, True), ({"trained_seed": 1, "trained_env_steps": 100_000}, True),
                              ({"trained_seed": 2}, False), ({"trained_env_steps": 50_000}, False)]:
        (tmp_path / "eval.json").write_text(json.dumps(dict(evaluation, **trained)))
        result = run_cli("bench", "--suite", "vizdoom", "--report-only", "--results", "suite.json", cwd=tmp_path)
        assert (result.returncode == 0) == accepted, result.stderr[-2000:]
    assert "eval.json measured a checkpoint with trained_env_steps 50000, not the run of seed1.json" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_committed_report_is_what_the_committed_result_files_give(tmp_path):
    """benchmarks/RESULTS.md is rebuilt from the files its manifest names, on any machine but for that line."""
    manifest = ROOT / "benchmarks" / "results" / "suite_vizdoom.json"
    copy = tmp_path / "benchmarks" / "results"
    copy.mkdir(parents=True)
    spec = json.loads(manifest.read_text())
    runs = [entry for group in spec["groups"] for entry in group["runs"]]
    files = {entry[key] for entry in runs for key in ("run", "eval") if key in entry}
    for name in {manifest.name} | files | {figure["file"] for figure in spec["figures"]}:
        shutil.copy(manifest.parent / name, copy / name)
    result = run_cli("bench", "--suite", "vizdoom", "--report-only", "--results",
                     "benchmarks/results/suite_vizdoom.json", "--out", "benchmarks", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]

    def report(path):
        return [line for line in path.read_text().splitlines() if not line.startswith("Machine of this report")]
    assert report(tmp_path / "benchmarks" / "RESULTS.md") == report(ROOT / "benchmarks" / "RESULTS.md")
