"""What does a game reward? Blind, fixed policies in the project's own env, beside the random one.

    python benchmarks/fixed_policies.py --env vizdoom:TakeCover --episodes 100 \
        --json benchmarks/results/fixed_policies_takecover.json

Plays, with `dreamdit eval`'s seeds and envs: uniformly random actions; random actions
each held for a random number of steps with mean N, for every N of --holds (what a
warm-up with --explore-hold-steps N plays); each action held for the whole episode; and
sweeps that hold action 0 for N steps, then the last action for N steps, and so on, for
every N of --sweeps. None of them looks at the screen. In Take Cover (actions: left,
right) a sweep crosses the room back and forth, which tells how much a policy gains
from moving, before any dodging.
"""
import argparse
import json

import numpy as np
import torch

from agent.acting import HoldExplorer, RandomActor
from agent.evaluate import evaluate
from envs import make_env, run_command


class FixedActor:
    """A policy of the episode's step count alone: `choose(t)` is the action at step t of every episode."""

    def __init__(self, choose):
        self.choose, self.device, self.history, self.steps = choose, torch.device("cpu"), None, None

    def act(self, obs: np.ndarray, is_first: np.ndarray, greedy: bool = False, generator=None) -> np.ndarray:
        self.steps = np.zeros(len(obs), np.int64) if self.steps is None else np.where(is_first, 0, self.steps + 1)
        return np.array([self.choose(t) for t in self.steps])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="vizdoom:TakeCover")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--sweeps", default="8,16,24,32,48", help="comma-separated steps per leg of a sweep")
    parser.add_argument("--holds", default="4,16", help="comma-separated mean steps of held random actions")
    parser.add_argument("--seed", type=int, default=10_000, help="env seed, the one `dreamdit eval` uses")
    parser.add_argument("--json")
    args = parser.parse_args()
    env = make_env(args.env)
    num_actions, names = int(env.action_space.n), env.action_names
    env.close()
    last = num_actions - 1
    policies = {"random": RandomActor(num_actions)}
    policies.update({f"random held {n:g}": HoldExplorer(RandomActor(num_actions), num_actions, 1.0, n, args.seed)
                     for n in map(float, args.holds.split(","))})
    policies.update({f"hold {names[a]}": FixedActor(lambda t, a=a: a) for a in range(num_actions)})
    policies.update({f"sweep {n}": FixedActor(lambda t, n=n: last * ((t // n) % 2))
                     for n in map(int, args.sweeps.split(","))})
    results = {}
    for name, actor in policies.items():
        result = evaluate(args.env, actor, args.episodes, args.seed)
        results[name] = {"mean": result["mean"], "std": result["std"],
                         "mean_length": float(np.mean(result["lengths"]))}
        print(f"{name:>20}: return {result['mean']:.1f} ± {result['std']:.1f} over {args.episodes} episodes",
              flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"env": args.env, "episodes": args.episodes, "seed": args.seed, "policies": results}, f, indent=2)


if __name__ == "__main__":
    run_command(main, "fixed_policies.py")
