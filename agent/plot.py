"""`dreamdit plot`: learning curves of runs, and the dream-fidelity plot.

    dreamdit plot runs/*TakeCover* --out curves.png [--tag charts/eval_return] [--smooth 10]
    dreamdit plot --fidelity fidelity.json --out fidelity.png

Curves: real-env return against real game steps, read from each run's
TensorBoard events; runs are grouped by env (one panel each) and algorithm (one
line each, the mean over seeds, with a band from the lowest to the highest seed).
A directory without a config.json is searched for the run directories inside it.
Fidelity: the error-against-horizon plot of a `dreamdit fidelity --json` file.
"""
import argparse
import glob
import json
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np

from envs.errors import DreamditError
from world_model.fidelity import plot_fidelity

GRID_POINTS = 200


def find_runs(patterns: list[str]) -> list[Path]:
    """Run directories (holding a config.json) named by paths or globs, or found one level inside them."""
    runs = []
    for pattern in patterns:
        matches = [Path(p) for p in sorted(glob.glob(pattern))] or [Path(pattern)]
        for path in matches:
            if (path / "config.json").is_file():
                runs.append(path)
            elif path.is_dir() and (inner := sorted(p.parent for p in path.glob("*/config.json"))):
                runs += inner
            else:
                raise DreamditError(f"{path} is not a run directory (no config.json) and holds none")
    return runs


def read_run(run: Path, tag: str) -> dict | None:
    """env, algo, seed and the (steps, values) of scalar `tag` of one run; None if it logged no `tag`."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = json.loads((run / "config.json").read_text())
    events = EventAccumulator(str(run), size_guidance={"scalars": 0})
    events.Reload()
    if tag not in events.Tags()["scalars"]:
        return None
    scalars = sorted(events.Scalars(tag), key=lambda e: e.step)
    steps = np.array([e.step for e in scalars], dtype=np.float64)
    values = np.array([e.value for e in scalars], dtype=np.float64)
    return {"env": cfg["env"]["spec"], "algo": cfg["train"]["algo"], "seed": cfg["train"]["seed"],
            "steps": steps, "values": values}


def trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of each value and the `window - 1` before it (fewer at the start)."""
    sums = np.cumsum(np.insert(values, 0, 0.0))
    starts = np.maximum(np.arange(1, len(values) + 1) - window, 0)
    return (sums[1:] - sums[starts]) / (np.arange(1, len(values) + 1) - starts)


def common_grid(runs: list[dict]) -> np.ndarray:
    """Steps where every run has data (all of them if the runs do not overlap): no mean of fewer seeds."""
    first, last = max(r["steps"][0] for r in runs), min(r["steps"][-1] for r in runs)
    if first >= last:
        first, last = min(r["steps"][0] for r in runs), max(r["steps"][-1] for r in runs)
    return np.linspace(first, last, GRID_POINTS)


def seed_band(runs: list[dict], grid: np.ndarray, smooth: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, min and max over runs of their smoothed curves on `grid`; NaN where no run has data."""
    curves = np.stack([np.interp(grid, r["steps"], trailing_mean(r["values"], smooth), left=np.nan, right=np.nan)
                       for r in runs])  # (seeds, points)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns where no run has data
        return np.nanmean(curves, 0), np.nanmin(curves, 0), np.nanmax(curves, 0)


def plot_curves(runs: list[dict], path, tag: str, smooth: int) -> None:
    """One panel per env, one line per algorithm with its band across seeds."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = defaultdict(lambda: defaultdict(list))
    for run in runs:
        groups[run["env"]][run["algo"]].append(run)
    fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4), squeeze=False)
    for ax, (env, algos) in zip(axes[0], sorted(groups.items())):
        for algo, members in sorted(algos.items()):
            grid = common_grid(members)
            mean, low, high = seed_band(members, grid, smooth)
            seeds = sorted({r["seed"] for r in members})
            line, = ax.plot(grid, mean, label=f"{algo} ({len(seeds)} seed{'s' * (len(seeds) > 1)})")
            ax.fill_between(grid, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
        ax.set(title=env, xlabel="real game steps", ylabel=f"return ({tag.split('/')[-1]})")
        ax.legend()
    caption = f"mean over seeds, band: min to max; trailing mean over {smooth} points" if smooth > 1 else \
        "mean over seeds, band: min to max"
    fig.suptitle(caption, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def load_fidelity(path) -> dict:
    try:
        results = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise DreamditError(f"cannot read fidelity results {path}: {err}") from None
    if not isinstance(results, dict) or "modes" not in results:
        raise DreamditError(f"{path} is not the output of `dreamdit fidelity --json`")
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="dreamdit plot", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="*", help="run directories, globs, or directories holding runs")
    parser.add_argument("--out", required=True, help="image to write (PNG)")
    parser.add_argument("--tag", default="charts/episodic_return",
                        help="scalar to plot: charts/episodic_return (training episodes) or charts/eval_return")
    parser.add_argument("--smooth", type=int, default=10, help="trailing mean over this many points per run")
    parser.add_argument("--fidelity", help="plot this `dreamdit fidelity --json` file instead of runs")
    args = parser.parse_args(argv)
    if bool(args.runs) == bool(args.fidelity):
        raise DreamditError("give run directories or --fidelity FILE (one of the two)")
    if not Path(args.out).resolve().parent.is_dir():
        raise DreamditError(f"cannot write {args.out}: no directory {Path(args.out).parent}")
    if args.fidelity:
        plot_fidelity(load_fidelity(args.fidelity), args.out)
        print(f"wrote {args.out}")
        return
    found = find_runs(args.runs)
    runs = [r for r in (read_run(run, args.tag) for run in found) if r is not None]
    if not runs:
        raise DreamditError(f"none of the {len(found)} runs logged {args.tag!r}; try --tag charts/eval_return")
    plot_curves(runs, args.out, args.tag, max(1, args.smooth))
    print(f"wrote {args.out}: {len(runs)} runs, {len({(r['env'], r['algo']) for r in runs})} env/algorithm groups")
