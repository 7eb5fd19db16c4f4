"""The benchmark report: RESULTS.md from finished runs, and learning-curve PNGs from their events.

The runs are read from a run root (`runs/...`, every `*/results.json` under it) or from a manifest of
committed result files (agent/bench_manifest.py), so that the report can be rebuilt on a fresh clone.
"""
import json
import os
from pathlib import Path

import numpy as np

from agent.bench_manifest import load_manifest
from agent.plot import plot_curves, read_run
from agent.stats import atari_game, human_normalised_score, iqm, stratified_bootstrap_ci
from envs.factory import game_name

ALGOS = ("dreamdit", "ppo")
# Published figures (REFERENCES.md) by game, shown beside ours, never mixed into them.
PUBLISHED = {
    "vizdoom:TakeCover": "random 210 ± 108; World Models, controller trained in its dream, 1092 ± 556; "
                         "\"solved\" ≥ 750 (arXiv 1803.10122)",
    "vizdoom:DefendCenter": "random 0.4 ± 1.1 (measured, vizdoom 1.3.2); no published figure at this budget",
    "vizdoom:Basic": "random −148 ± 171 (measured, vizdoom 1.3.2); no published figure at this budget",
    "atari:Pong": "PPO −20.4 · DER −19.3 · SimPLe 12.8 · IRIS 14.6 · DreamerV3 −4.2 · DIAMOND 20.4",
    "atari:Breakout": "PPO 2.8 · DER 1.9 · SimPLe 16.4 · IRIS 83.7 · DreamerV3 9.0 · DIAMOND 132.5",
    "atari:Boxing": "PPO 1.8 · DER 0.2 · SimPLe 7.8 · IRIS 70.1 · DreamerV3 79.4 · DIAMOND 86.9",
    "atari:Freeway": "PPO 2.2 · DER 27.9 · SimPLe 16.7 · IRIS 31.1 · DreamerV3 0.0 · DIAMOND 33.3",
    "atari:MsPacman": "PPO 325 · DER 1204 · SimPLe 1480 · IRIS 999 · DreamerV3 1526 · DIAMOND 1958",
}
# The targets the project set itself (issue "Agent and training loop"): at most 100k game steps, 100 episodes.
TARGETS = {"vizdoom:TakeCover": 750.0, "vizdoom:DefendCenter": 5.0}
PUBLISHED_ATARI_AGGREGATE = ("26 games, mean / median / IQM HNS: DIAMOND 1.459 / 0.373 / 0.641 · IRIS 1.046 / "
                             "0.289 / 0.501 · DreamerV3 ≈1.19 / 0.44 / 0.47 · SimPLe 0.332 / 0.134 / 0.130 · "
                             "PPO ≈0.10 / 0.02 / 0.02")


def load_runs(run_root: Path, envs: list[str]) -> dict:
    """(env, algo, variant) -> the results.json of its finished runs (by seed), with run_dir and machine added;
    the variant of runs read from a run root is ''."""
    groups = {}
    for path in sorted(run_root.glob("*/results.json")):
        result = json.loads(path.read_text())
        machine_file = path.parent / "machine.txt"
        machine = machine_file.read_text().strip() if machine_file.is_file() else "not recorded"
        run = dict(result, run_dir=path.parent, machine=machine)
        groups.setdefault((result["env"], result["algo"], ""), []).append(run)
    return {(env, algo, ""): sorted(groups[env, algo, ""], key=lambda run: run["seed"])
            for env in envs for algo in ALGOS if (env, algo, "") in groups}


def finals(runs: list[dict]) -> np.ndarray:
    return np.array([run["final_eval"]["mean"] for run in runs])


def acting(runs: list[dict]) -> str:
    """How the final evaluations chose actions: greedy, sampled, or both when the runs differ."""
    modes = sorted({"greedy" if run["final_eval"].get("greedy") else "sampled" for run in runs})
    return " and ".join(modes)


def score_format(env: str) -> str:
    """Kills (Defend the Center) are few: a tenth of one hides the differences that matter."""
    return "{:.2f}" if game_name(env) == "vizdoom:DefendCenter" else "{:.1f}"


def interval(scores, fmt: str = "{:.1f}") -> str:
    low, high = stratified_bootstrap_ci(scores)
    return f"{fmt.format(iqm(scores))} [{fmt.format(low)}, {fmt.format(high)}]"


def spread(scores: np.ndarray, fmt: str) -> str:
    """Mean ± standard deviation over seeds (ddof 1); a single seed has no spread to show."""
    if len(scores) == 1:
        return f"{fmt.format(scores[0])} (one seed)"
    return f"{fmt.format(scores.mean())} ± {fmt.format(scores.std(ddof=1))}"


def past_target(env: str, scores: np.ndarray) -> str:
    target = TARGETS.get(game_name(env))
    return f"{int((scores >= target).sum())} of {len(scores)} ≥ {target:g}" if target is not None else "–"


def group_table(groups: dict) -> list[str]:
    lines = ["| env | algo | variant | seeds | game steps | acting | final return, mean ± std over seeds | "
             "IQM [95% CI] | HNS IQM [95% CI] | seeds at the target | published (REFERENCES.md) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for (env, algo, variant), runs in groups.items():
        scores, fmt = finals(runs), score_format(env)
        hns = interval(human_normalised_score(env, scores), "{:.3f}") if atari_game(env) else "–"
        steps = sorted({run["env_steps"] for run in runs})
        lines.append(f"| {env} | {algo} | {variant or '–'} | {len(runs)} | {steps[0]}{'+' if len(steps) > 1 else ''} "
                     f"| {acting(runs)} | {spread(scores, fmt)} | {interval(scores, fmt)} | {hns} | "
                     f"{past_target(env, scores)} | {PUBLISHED.get(game_name(env), '–')} |")
    return lines


def atari_aggregate_table(groups: dict) -> list[str]:
    """Human-normalised aggregates over the games, on the seeds every game has (rliable needs a full matrix)."""
    lines = ["| algo | variant | games | seeds | mean HNS | median HNS | IQM HNS [95% CI] |",
             "|---|---|---|---|---|---|---|"]
    for algo, variant in dict.fromkeys((a, v) for _, a, v in groups):
        per_game = {env: {run["seed"]: run["final_eval"]["mean"] for run in runs}
                    for (env, a, v), runs in groups.items() if (a, v) == (algo, variant) and atari_game(env)}
        seeds = sorted(set.intersection(*map(set, per_game.values()))) if per_game else []
        if not seeds:
            continue
        hns = np.stack([human_normalised_score(env, [scores[s] for s in seeds]) for env, scores in per_game.items()], 1)
        game_means = hns.mean(0)
        lines.append(f"| {algo} | {variant or '–'} | {len(per_game)} | {len(seeds)} | {game_means.mean():.3f} | "
                     f"{np.median(game_means):.3f} | {interval(hns, '{:.3f}')} |")
    return lines + ["", f"Published (Atari 100k, {PUBLISHED_ATARI_AGGREGATE}). Ours cover only the suite's games."]


def runs_table(groups: dict) -> list[str]:
    lines = ["| env | algo | variant | seed | game steps | acting | final return (episodes) | wall time (min) | "
             "peak memory (GiB) |", "|---|---|---|---|---|---|---|---|---|"]
    for (env, algo, variant), runs in groups.items():
        fmt = score_format(env)
        for r in runs:
            final = r["final_eval"]
            lines.append(f"| {env} | {algo} | {variant or '–'} | {r['seed']} | {r['env_steps']} | {acting([r])} | "
                         f"{fmt.format(final['mean'])} ± {fmt.format(final['std'])} ({final['episodes']}) | "
                         f"{r['wall_time_s'] / 60:.1f} | {r['peak_memory_gb']:.2f} |")
    return lines


def run_commands(groups: dict) -> list[str]:
    """Each run's training command, as its results.json records it (train.py and its arguments), with the
    result files a manifest read and its note."""
    lines = []
    for (_, algo, variant), runs in groups.items():
        for run in runs:
            program, _, arguments = run["command"].partition(" ")
            files = f" ({', '.join(f'`{name}`' for name in run['files'])})" if "files" in run else ""
            note = f"; {run['note']}" if run.get("note") else ""
            label = ", ".join(part for part in (algo, variant, f"seed {run['seed']}") if part)
            lines.append(f"- {label}: `python {Path(program).name} {arguments}`{files}{note}")
    return lines


def write_curves(groups: dict, folder: Path, suite: str) -> list[Path]:
    """Learning curves of all runs (`dreamdit plot`'s figure): training episodes, then evaluations."""
    run_dirs = [run["run_dir"] for runs in groups.values() for run in runs if run["run_dir"] is not None]
    paths = []
    for tag, smooth in (("charts/episodic_return", 10), ("charts/eval_return", 1)):
        curves = [curve for curve in (read_run(run_dir, tag) for run_dir in run_dirs) if curve is not None]
        if curves:
            folder.mkdir(parents=True, exist_ok=True)
            paths.append(folder / f"{suite}_{tag.split('/')[-1]}.png")
            plot_curves(curves, paths[-1], tag, smooth)
    return paths


def relative(path: Path, start: Path) -> str:
    """`path` as a markdown link from a file in `start` (os.path.relpath: either may lie outside the other)."""
    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()


def write_report(run_root: Path, out: Path, suite: str, envs: list[str], machine: str,
                 manifest: Path | None = None) -> Path:
    groups, figures = load_manifest(manifest) if manifest else (load_runs(run_root, envs), [])
    curves = write_curves(groups, out / "results", suite)
    machines = sorted({run["machine"] for runs in groups.values() for run in runs})
    source = f"the committed result files that `{manifest}` names" if manifest else f"finished runs under `{run_root}`"
    command = f"dreamdit bench --suite {suite} --report-only" + (f" --results {manifest}" if manifest else "")
    lines = [f"# Benchmark results: {suite}", "",
             f"Written by `{command}` from {sum(map(len, groups.values()))} runs: {source}. Final return: the mean "
             "over the final evaluation's episodes (unclipped), one value per seed; mean ± std (ddof 1) and "
             "interquartile mean over seeds, 95% intervals by stratified bootstrap (10,000 replicates, percentile). "
             "Game steps are frame-skipped env steps; an env ending in ,repeat=N decides every N of them. Acting: how "
             "the final evaluation chose actions, by sampling the policy or by its most likely action. Variant: what "
             "sets a group's runs apart (a manifest's name for them). Target: what the project asks of 100k game "
             "steps.", "",
             "Machines of the runs: " + ("; ".join(machines) or "none"), f"Machine of this report: {machine}", "",
             "## Final evaluation per env and algorithm", "", *group_table(groups), ""]
    missing = [env for env in envs if not any(env == key[0] for key in groups)]
    if missing:
        lines += [f"No finished run yet for {', '.join(missing)}: the table covers part of the suite.", ""]
    if suite == "atari":
        lines += ["## Human-normalised aggregate", "", *atari_aggregate_table(groups), ""]
    lines += ["## Runs", "", *runs_table(groups), "", "The command of each run, as its results.json records it:", "",
              *run_commands(groups), ""]
    if curves:
        lines += ["## Learning curves", "", *[f"![{path.stem}]({path.relative_to(out).as_posix()})" for path in curves]]
    elif manifest:
        lines += ["## Learning curves", "", "Drawn from the runs' TensorBoard events, which stay with the runs "
                  "(never committed), by the commands `benchmarks/results/README.md` names.", ""]
        for figure in figures:
            lines += [f"![{figure['caption']}]({relative(manifest.parent / figure['file'], out)})", ""]
    out.mkdir(parents=True, exist_ok=True)
    (out / "RESULTS.md").write_text("\n".join(lines) + "\n")
    return out / "RESULTS.md"
