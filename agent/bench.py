"""`dreamdit bench`: train every (env, algo, seed) of a suite, then write benchmarks/RESULTS.md.

    dreamdit bench --suite vizdoom --algos dreamdit,ppo --seeds 5 --steps 100000 --jobs 2
    dreamdit bench --suite atari --report-only
    dreamdit bench --suite vizdoom --report-only --results benchmarks/results/suite_vizdoom.json

Each run is `python train.py --preset P --env ENV --algo ALGO --seed S --total-steps N --run-dir
RUN_ROOT/<env>__<algo>__<seed>`, its output in that directory's bench.log. ENV is the suite's spec
of a game, at the decision rate of its preset (vizdoom:TakeCover,repeat=8, as `default` has it). A run
with a results.json is finished and never redone; one with only a checkpoint is resumed (--resume).
The report reads every finished run under RUN_ROOT, or with --results the committed result files a manifest
names, so that a fresh clone rebuilds the committed report.
"""
import argparse
import os
import platform
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from agent.bench_report import write_report
from agent.config import PRESETS, EnvConfig
from envs.errors import DreamditError
from envs.factory import game_name
from world_model.checkpoint import CHECKPOINT_NAME

# Each game with its preset's env spec, decision rate included: `--env vizdoom:TakeCover` alone would
# override the default preset's ",repeat=8" and benchmark a different agent from the one the README reports.
SUITES = {
    "vizdoom": [EnvConfig().spec, PRESETS["defendcenter"]["env.spec"], "vizdoom:Basic"],
    "atari": ["atari:Pong", "atari:Breakout", "atari:Boxing"],
}
SUITE_PRESETS = {"vizdoom": "default", "atari": "atari100k"}
TRAIN = Path(__file__).resolve().parents[1] / "train.py"  # run as a program: agent/ never imports train.py


@dataclass
class Run:
    env: str
    algo: str
    seed: int
    dir: Path

    @property
    def finished(self) -> bool:
        return (self.dir / "results.json").is_file()


def parse_args(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="dreamdit bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", required=True, choices=SUITES)
    parser.add_argument("--algos", default="dreamdit,ppo", help="comma-separated: dreamdit, ppo")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0 .. SEEDS-1 of every env and algo")
    parser.add_argument("--steps", type=int, help="real game steps per run (default: the preset's)")
    parser.add_argument("--jobs", type=int, default=1, help="runs at the same time")
    parser.add_argument("--envs", help="comma-separated subset of the suite's games (vizdoom:Basic, ...)")
    parser.add_argument("--preset", help="config preset of every run (default: default for vizdoom, atari100k)")
    parser.add_argument("--run-root", default="runs/bench", help="where the runs go (never commit them)")
    parser.add_argument("--out", default="benchmarks", help="RESULTS.md goes here, curves under OUT/results/")
    parser.add_argument("--report-only", action="store_true", help="only rebuild the report from finished runs")
    parser.add_argument("--results", type=Path, help="with --report-only: build the report from the committed "
                        "result files this manifest names instead of from --run-root (agent/bench_manifest.py)")
    args = parser.parse_args(argv)
    args.algos = args.algos.split(",")
    if bad := [algo for algo in args.algos if algo not in ("dreamdit", "ppo")]:
        raise DreamditError(f"--algos: unknown algorithm {bad[0]!r}: use dreamdit, ppo or both")
    games = {game_name(spec): spec for spec in SUITES[args.suite]}
    wanted = args.envs.split(",") if args.envs else list(games)
    if bad := [game for game in wanted if game not in games]:
        raise DreamditError(f"--envs: {bad[0]} is not in the {args.suite} suite ({', '.join(games)})")
    args.envs = [games[game] for game in wanted]
    if args.results and not args.report_only:
        raise DreamditError("--results builds a report from files already measured: add --report-only")
    if args.seeds < 1 or args.jobs < 1 or (args.steps is not None and args.steps < 1):
        raise DreamditError("--seeds, --jobs and --steps must be at least 1")
    return args


def plan(args) -> list[Run]:
    root = Path(args.run_root)
    return [Run(env, algo, seed, root / f"{re.sub(r'[^A-Za-z0-9]+', '_', env)}__{algo}__{seed}")
            for env in args.envs for algo in args.algos for seed in range(args.seeds)]


def command(args, run: Run) -> list[str]:
    """The training command of one run; each of `jobs` parallel runs gets its share of the CPU threads."""
    cmd = [sys.executable, str(TRAIN), "--preset", args.preset or SUITE_PRESETS[args.suite], "--env", run.env,
           "--algo", run.algo, "--seed", str(run.seed), "--run-dir", str(run.dir),
           "--threads", str(max(1, (os.cpu_count() or 1) // args.jobs))]
    cmd += ["--total-steps", str(args.steps)] if args.steps else []
    return cmd + (["--resume"] if (run.dir / CHECKPOINT_NAME).is_file() else [])


def launch(args, run: Run) -> int:
    run.dir.mkdir(parents=True, exist_ok=True)
    (run.dir / "machine.txt").write_text(machine())
    with open(run.dir / "bench.log", "a") as log:
        return subprocess.run(command(args, run), stdout=log, stderr=subprocess.STDOUT).returncode


def machine() -> str:
    """One line naming the hardware and software a run used."""
    cpu = platform.processor() or platform.machine()
    if Path("/proc/cpuinfo").is_file():
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{cpu}, {os.cpu_count()} logical cores, {memory:.0f} GiB RAM, {gpu}; "
            f"Python {platform.python_version()}, torch {torch.__version__}, {platform.system()}")


def run_all(args) -> list[Run]:
    """Train every unfinished run, `jobs` at a time -> the runs that failed."""
    runs = plan(args)
    todo = [run for run in runs if not run.finished]
    print(f"{len(runs) - len(todo)} of {len(runs)} runs already finished; {len(todo)} to run")
    with ThreadPoolExecutor(args.jobs) as pool:
        codes = list(tqdm(pool.map(lambda run: launch(args, run), todo), total=len(todo), desc="bench", unit="run"))
    return [run for run, code in zip(todo, codes) if code != 0]


def main(argv=None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    failed = [] if args.report_only else run_all(args)
    report = write_report(Path(args.run_root), Path(args.out), args.suite, SUITES[args.suite], machine(), args.results)
    print(f"report: {report}")
    if failed:
        raise DreamditError(f"{len(failed)} run(s) failed, e.g. {failed[0].dir}: see its bench.log; "
                            "the same command resumes them")
