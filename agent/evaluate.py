"""The policy in the real game: `dreamdit eval --checkpoint RUN --episodes 100 --json out.json`.

`dreamdit eval --random --env vizdoom:TakeCover` plays uniformly random actions instead, the baseline
measured in the same env, with the same seeds, as every policy.
"""
import argparse
import json

import numpy as np
import torch
from tqdm import tqdm

from agent.acting import LatentActor, RandomActor
from agent.checkpoint import load_agent
from agent.ppo_network import load_ppo_actor
from envs import DreamditError, EpisodeCollector, make_env, make_vector_env
from world_model.checkpoint import load_checkpoint


def evaluate(spec: str, actor: LatentActor | RandomActor, episodes: int, seed: int, num_envs: int = 4,
             greedy: bool = False, progress: bool = False) -> dict:
    """Run `episodes` real episodes (no life-loss ends, unclipped rewards) -> returns, lengths, mean, std."""
    num_envs = min(num_envs, episodes)
    vec = make_vector_env(spec, num_envs, seed, train=False)
    collector = EpisodeCollector(vec, store=None)
    generator = torch.Generator(device=actor.device).manual_seed(seed)
    actor.history = None
    finished = []
    bar = tqdm(total=episodes, desc="evaluating", unit="episode", disable=not progress)
    try:
        while len(finished) < episodes:
            actions = actor.act(collector.obs, collector.is_first, greedy=greedy, generator=generator)
            done = collector.step(actions)
            finished += done
            bar.update(len(done))
    finally:
        bar.close()
        vec.close()
    finished = finished[:episodes]
    returns = np.array([e["return"] for e in finished], dtype=np.float64)
    lengths = np.array([e["length"] for e in finished])
    return {"env": spec, "episodes": episodes, "greedy": greedy, "mean": float(returns.mean()),
            "std": float(returns.std()), "returns": returns.tolist(), "lengths": lengths.tolist()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="dreamdit eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", help="run directory or checkpoint file")
    parser.add_argument("--random", action="store_true", help="uniformly random actions in --env, no checkpoint")
    parser.add_argument("--env", help="the env of --random, e.g. vizdoom:TakeCover")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=10_000, help="env seed (distinct from training seeds)")
    parser.add_argument("--greedy", action="store_true", help="take the most likely action")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    if args.random != (args.checkpoint is None) or args.random != (args.env is not None):
        raise DreamditError("give either --checkpoint RUN, or --random with --env SPEC")
    if args.random:
        env = make_env(args.env)
        actor, spec = RandomActor(int(env.action_space.n)), args.env
        env.close()
    else:
        actor, spec = load_actor(args.checkpoint, args.device)
    result = evaluate(spec, actor, args.episodes, args.seed, greedy=args.greedy, progress=True)
    print(f"{result['env']}: return {result['mean']:.1f} ± {result['std']:.1f} over {args.episodes} episodes")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


def load_actor(checkpoint, device):
    """(actor, env spec) of a dreamdit or PPO checkpoint."""
    payload = load_checkpoint(checkpoint)
    if payload["config"]["train"]["algo"] == "ppo":
        actor = load_ppo_actor(payload, checkpoint, device)
    else:
        agent = load_agent(checkpoint, device, payload)
        actor = LatentActor(agent.autoencoder, agent.actor_critic, agent.config.world_model.context, device)
    return actor, payload["config"]["env"]["spec"]
