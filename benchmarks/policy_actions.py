"""How did a run's policy act in the real game? Action shares and holds, from the episodes it stored.

    python benchmarks/policy_actions.py --runs runs/tc_ae_seed1,runs/tc_ae_seed2 --last 100 \
        --json benchmarks/results/policy_actions_takecover.json

For the first episodes a run stored (the random warm-up) and its last ones (played by the
trained policy, with its exploration holds if it had --explore-prob): the share of each
action, the mean number of steps one action was repeated, and the mean episode length and
return. A policy that settled on holding one action shows a share near 1 and long runs.
"""
import argparse
import json

import numpy as np

from agent.stats import mean_run_length
from envs import EpisodeStore, run_command
from world_model.checkpoint import load_checkpoint


def summarise(episodes: list[dict], num_actions: int) -> dict:
    actions = np.concatenate([e["actions"] for e in episodes])
    return {"episodes": len(episodes),
            "action_share": (np.bincount(actions, minlength=num_actions) / len(actions)).tolist(),
            "mean_run_length": float(np.mean([mean_run_length(e["actions"]) for e in episodes])),
            "mean_length": float(np.mean([len(e["actions"]) for e in episodes])),
            "mean_return": float(np.mean([e["rewards"].sum() for e in episodes]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", required=True, help="comma-separated run directories")
    parser.add_argument("--first", type=int, default=50, help="episodes from the start (the warm-up)")
    parser.add_argument("--last", type=int, default=100, help="episodes from the end")
    parser.add_argument("--json")
    args = parser.parse_args()
    results = {}
    for run in args.runs.split(","):
        store = EpisodeStore(f"{run}/episodes", reader=True)
        episodes = [store.episode(i) for i in range(len(store))]
        num_actions = load_checkpoint(run)["num_actions"]
        results[run] = {"first": summarise(episodes[:args.first], num_actions),
                        "last": summarise(episodes[-args.last:], num_actions)}
        for part, r in results[run].items():
            shares = ", ".join(f"{s:.2f}" for s in r["action_share"])
            print(f"{run} {part} {r['episodes']} episodes: action shares {shares}, runs of "
                  f"{r['mean_run_length']:.1f} steps, length {r['mean_length']:.0f}, return {r['mean_return']:.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"first": args.first, "last": args.last, "runs": results}, f, indent=2)


if __name__ == "__main__":
    run_command(main, "policy_actions.py")
