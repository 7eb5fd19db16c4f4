"""How a run plays at each of its evaluation checkpoints: sampled against greedy, averaged against latest weights.

    python benchmarks/checkpoint_evals.py --name takecover_policy_average_0.99 --seeds 6,7 \
        --json benchmarks/results/checkpoint_evals_takecover.json \
        --plot benchmarks/results/checkpoint_evals_takecover.png

Reads the `dreamdit eval --json` files of every checkpoint, named
`eval[_greedy][_latest_weights]_NAME_Kk_seedS.json` in --results (K thousand game steps;
`_greedy` for `--greedy`, `_latest_weights` for `--latest-weights`). For each seed and way of acting it
gives the mean return at every K with its standard error (std / sqrt(episodes)), and the mean over
checkpoints of the paired differences greedy minus sampled and averaged minus latest: the same
episode seeds played both ways, so most of the episodes' spread cancels.
"""
import argparse
import json
import re
from pathlib import Path

import numpy as np

from envs import DreamditError, run_command

MODES = {"": "sampled, averaged", "_greedy": "greedy, averaged", "_latest_weights": "sampled, latest",
         "_greedy_latest_weights": "greedy, latest"}
PAIRS = {"greedy - sampled": [("greedy, averaged", "sampled, averaged"), ("greedy, latest", "sampled, latest")],
         "averaged - latest": [("sampled, averaged", "sampled, latest"), ("greedy, averaged", "greedy, latest")]}


def read_seed(results: Path, name: str, seed: int) -> dict:
    """mode -> {K: eval result} for one seed."""
    pattern = re.compile(rf"eval(_greedy)?(_latest_weights)?_{re.escape(name)}_(\d+)k_seed{seed}\.json")
    by_mode = {mode: {} for mode in MODES.values()}
    for path in results.glob(f"eval*_{name}_*k_seed{seed}.json"):
        found = pattern.fullmatch(path.name)
        if found:
            mode = MODES[(found[1] or "") + (found[2] or "")]
            by_mode[mode][int(found[3])] = json.loads(path.read_text())
    if not any(by_mode.values()):
        raise DreamditError(f"no eval files for {name}, seed {seed} in {results}")
    return by_mode


def summarise(by_mode: dict) -> dict:
    curves = {mode: {k: {"mean": r["mean"], "se": r["std"] / np.sqrt(r["episodes"])} for k, r in sorted(runs.items())}
              for mode, runs in by_mode.items()}
    differences = {}
    for label, pairs in PAIRS.items():
        diffs = [by_mode[a][k]["mean"] - by_mode[b][k]["mean"] for a, b in pairs for k in by_mode[a] if k in by_mode[b]]
        if diffs:
            differences[label] = {"mean": float(np.mean(diffs)), "pairs": len(diffs),
                                  "positive": int(np.sum(np.array(diffs) > 0))}
    return {"curves": curves, "differences": differences}


def plot(summary: dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(summary), figsize=(6 * len(summary), 4), squeeze=False)
    for ax, (seed, result) in zip(axes[0], summary.items()):
        for mode, curve in result["curves"].items():
            if curve:
                points = curve.values()
                ax.errorbar(list(curve), [p["mean"] for p in points], yerr=[p["se"] for p in points], marker="o",
                            capsize=3, label=mode)
        ax.set(title=f"seed {seed}", xlabel="game steps (thousands)", ylabel="mean return, 100 episodes ± s.e.")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", required=True, help="the part of the file names between the mode and _Kk")
    parser.add_argument("--seeds", required=True, help="comma-separated seeds")
    parser.add_argument("--results", default=str(Path(__file__).parent / "results"), help="where the files are")
    parser.add_argument("--json", help="write the summary here")
    parser.add_argument("--plot", help="write the curves here (PNG)")
    args = parser.parse_args(argv)
    summary = {seed: summarise(read_seed(Path(args.results), args.name, int(seed))) for seed in args.seeds.split(",")}
    for seed, result in summary.items():
        for label, d in result["differences"].items():
            print(f"seed {seed}: {label} {d['mean']:+.1f} on average over {d['pairs']} pairs, {d['positive']} positive")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    if args.plot:
        plot(summary, args.plot)


if __name__ == "__main__":
    run_command(main, "checkpoint_evals.py")
