"""The policy in the real game: `dreamdit eval --checkpoint RUN --episodes 100 --json out.json`.

`dreamdit eval --random --env vizdoom:TakeCover` plays uniformly random actions instead, the baseline
measured in the same env, with the same seeds, as every policy.
"""
import argparse
import json
import sys

import numpy as np
import torch
from tqdm import tqdm

from agent.acting import LatentActor, RandomActor
from agent.checkpoint import Agent, load_agent
from agent.config import validate
from agent.lookahead import LookaheadActor
from agent.ppo_network import load_ppo_actor
from agent.screen import ScreenActor, screened_index
from envs import DreamditError, EpisodeCollector, make_env, make_vector_env
from world_model.checkpoint import checkpoint_sha256, load_checkpoint


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
            bar.update(min(len(done), episodes - bar.n))  # envs can finish more episodes than are still needed
    finally:
        bar.close()
        vec.close()
    finished = finished[:episodes]
    returns = np.array([e["return"] for e in finished], dtype=np.float64)
    lengths = np.array([e["length"] for e in finished])
    return {"env": spec, "episodes": episodes, "greedy": greedy, "mean": float(returns.mean()),
            "std": float(returns.std()), "returns": returns.tolist(), "lengths": lengths.tolist()}


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="dreamdit eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", help="run directory or checkpoint file")
    parser.add_argument("--random", action="store_true", help="uniformly random actions in --env, no checkpoint")
    parser.add_argument("--env", help="the env of --random, e.g. vizdoom:TakeCover")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=10_000, help="env seed (distinct from training seeds)")
    parser.add_argument("--greedy", action=argparse.BooleanOptionalAction, help="take the policy's most likely "
                        "action; --no-greedy: sample from the policy (default: the run's own setting)")
    parser.add_argument("--lookahead-samples", type=int, help="dreams per action before each decision "
                        "(agent/lookahead.py); 0: the policy alone (default: the run's own setting)")
    parser.add_argument("--lookahead-horizon", type=int, help="decisions each lookahead dream runs "
                        "(default: the run's own setting)")
    parser.add_argument("--screen-action", help="an action (e.g. ATTACK) that acts only where the world model "
                        "dreams it paying (agent/screen.py); '': off (default: the run's own setting)")
    parser.add_argument("--screen-reward", type=float, help="the dreamed reward the screened action must pass "
                        "(default: the run's own setting)")
    parser.add_argument("--latest-weights", action="store_true", help="act with the actor-critic's last trained "
                        "weights, not the moving average a run with --policy-average-decay acts with")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    if args.random != (args.checkpoint is None) or args.random != (args.env is not None):
        raise DreamditError("give either --checkpoint RUN, or --random with --env SPEC")
    if args.random:
        env = make_env(args.env)
        actor, spec, greedy = RandomActor(int(env.action_space.n)), args.env, False
        env.close()
        trained = {}
    else:
        acting = {name: getattr(args, name) for name in ACTING}
        payload = load_checkpoint(args.checkpoint)
        actor, spec, greedy = load_actor(args.checkpoint, args.device, args.seed, acting,
                                         average=not args.latest_weights, payload=payload)
        trained = trained_run(args.checkpoint, payload)
    greedy = greedy if args.greedy is None else args.greedy
    result = evaluate(spec, actor, args.episodes, args.seed, greedy=greedy, progress=True)
    print(f"{result['env']}: return {result['mean']:.1f} ± {result['std']:.1f} over {args.episodes} episodes")
    if args.json:  # with the command and the run, so that a result file says what it measured
        with open(args.json, "w") as f:
            json.dump(dict(result, command=" ".join(["dreamdit eval", *map(str, argv)]), **trained), f, indent=2)


def trained_run(checkpoint, payload: dict) -> dict:
    """What identifies the run a checkpoint belongs to: its seed, its game steps so far and the file's digest,
    which the results.json of a finished run records too."""
    return {"trained_seed": payload["config"]["train"]["seed"], "trained_env_steps": payload["counters"]["env_steps"],
            "checkpoint_sha256": checkpoint_sha256(checkpoint)}


# The train fields that set how a trained agent acts; `dreamdit eval` may set them anew.
ACTING = ("lookahead_samples", "lookahead_horizon", "screen_action", "screen_reward")


def load_actor(checkpoint, device, seed: int, acting: dict | None = None, average: bool = True,
               payload: dict | None = None):
    """(actor, env spec, whether the run evaluates greedily) of a dreamdit or PPO checkpoint (read here unless
    its `payload` is given); `acting` sets fields of ACTING (None: the run's own setting); `average` as in
    load_agent."""
    acting = {name: value for name, value in (acting or {}).items() if value is not None}
    payload = payload or load_checkpoint(checkpoint)
    config = payload["config"]
    if config["train"]["algo"] == "ppo":
        if acting.get("lookahead_samples") or acting.get("screen_action"):
            raise DreamditError(f"{checkpoint} is a ppo run: it has no world model to dream with")
        return load_ppo_actor(payload, checkpoint, device), config["env"]["spec"], config["train"]["greedy"]
    agent = load_agent(checkpoint, device, payload, average)
    for name, value in acting.items():
        setattr(agent.config.train, name, value)
    validate(agent.config)
    return make_actor(agent, device, seed), agent.config.env.spec, agent.config.train.greedy


def make_actor(agent: Agent, device, seed: int, names: list[str] | None = None) -> LatentActor:
    """The policy alone, or with the lookahead or the action screen its run's config asks for; `names`, the
    env's action names where the caller holds them, spare the screen a fresh env to read them from."""
    t = agent.config.train
    if t.lookahead_samples:
        return LookaheadActor(agent, t.lookahead_horizon, t.lookahead_samples, seed, device)
    if t.screen_action:
        action = screened_index(agent.config.env.spec, t.screen_action, names)
        return ScreenActor(agent, action, t.screen_reward, seed, device)
    return LatentActor(agent.autoencoder, agent.actor_critic, agent.config.world_model.context, device)
