"""World-model variants against CPU time: which trajectory DiT learns a game's dynamics faster?

    python benchmarks/world_model_capacity.py --run RUN --patch-size 8 --minutes 12 \
        --json benchmarks/results/capacity_takecover_patch8.json

Trains a fresh world model (the run's config, but the given DiT patch size, with or
without the context skip, with the given fraction of segments that hold a real end)
on the episodes a run stored, over the run's frozen autoencoder, for a fixed time of
training on one CPU thread. At fixed numbers of updates, and at the end, it dreams
open loop (the real actions) from held-out random-policy episodes and reports the
latent MSE at the first and last horizon step, and the termination probability
at the real ends and elsewhere, on the dreamed frames and on the real ones.
With the latent 8x8, patch size 8 is one token per frame and 4 is four.
Training and held-out sampling are seeded, so the milestone figures repeat exactly.
"""
import argparse
import json
import tempfile
import time
from dataclasses import replace

import numpy as np
import torch

from agent.checkpoint import load_agent
from envs import EpisodeStore, run_command
from world_model.fidelity import collect_random_episodes, heads_on_real_frames, per_step, score_heads
from world_model.latents import LatentCache
from world_model.model import WorldModel
from world_model.sampler import dream

MILESTONES = (250, 500, 1000, 2000, 4000, 8000)


@torch.no_grad()
def evaluate(model: WorldModel, sampler_cfg, batch: dict, C: int, H: int) -> dict:
    model.eval()
    dreamt = dream(model, batch["latents"][:, :C], batch["actions"][:, :C - 1], sampler_cfg,
                   actions=batch["actions"][:, C - 1:C - 1 + H], generator=torch.Generator().manual_seed(0))
    mse = per_step((dreamt.latents[:, C:] - batch["latents"][:, C:]).pow(2).mean(dim=(2, 3, 4)),
                   batch["mask"][:, C:].float())
    dreamed = score_heads(dreamt.rewards, dreamt.end_probs, batch, C, H)
    real = heads_on_real_frames(model, batch, C, H)
    model.train()
    return {"real_ends": dreamed["real_ends"], "latent_mse_step_1": mse[0], f"latent_mse_step_{H}": mse[-1],
            "end_prob_at_real_ends_dreamed": dreamed["end_prob_at_real_ends"],
            "end_prob_elsewhere_dreamed": dreamed["end_prob_elsewhere"],
            "end_prob_at_real_ends_real_frames": real["end_prob_at_real_ends"],
            "end_prob_elsewhere_real_frames": real["end_prob_elsewhere"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, help="a run directory: its episodes and frozen autoencoder")
    parser.add_argument("--patch-size", type=int, default=8)
    parser.add_argument("--no-context-skip", action="store_true", help="the DiT without its last-context-frame path")
    parser.add_argument("--end-fraction", type=float, default=0.0,
                        help="fraction of each batch drawn among segments whose future holds a real end")
    parser.add_argument("--minutes", type=float, default=12, help="training time (evaluations not counted)")
    parser.add_argument("--held-out-episodes", type=int, default=150)
    parser.add_argument("--segments", type=int, default=512)
    parser.add_argument("--seed", type=int, default=777)
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    agent = load_agent(args.run)
    cfg, autoencoder = agent.config, agent.autoencoder
    C, H = cfg.world_model.context, cfg.world_model.horizon
    store, cache = EpisodeStore(f"{args.run}/episodes", reader=True), LatentCache()
    cache.update(store, autoencoder, "cpu")
    with tempfile.TemporaryDirectory() as tmp:
        held_out = collect_random_episodes(cfg.env.spec, args.held_out_episodes, args.seed, tmp)
        held_cache = LatentCache()
        held_cache.update(held_out, autoencoder, "cpu")
        batch = held_cache.segments(held_out, args.segments, C + H, np.random.default_rng(args.seed), "cpu")

    dit_cfg = replace(cfg.dit, patch_size=args.patch_size, context_skip=not args.no_context_skip)
    model = WorldModel(cfg.world_model, dit_cfg, autoencoder.latent_shape, agent.num_actions)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.train.world_model_lr)
    rng = np.random.default_rng(0)
    seconds, updates, evaluations = 0.0, 0, []
    while seconds < 60 * args.minutes:
        start = time.perf_counter()
        loss, _ = model(cache.segments(store, cfg.train.world_model_batch, C + H, rng, "cpu",
                                       end_fraction=args.end_fraction, end_at=cfg.world_model.transition_steps()))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.grad_clip)
        optimizer.step()
        seconds += time.perf_counter() - start
        updates += 1
        if updates in MILESTONES or seconds >= 60 * args.minutes:
            scores = evaluate(model, cfg.sampler, batch, C, H)
            real_ends = scores.pop("real_ends")  # the same held-out batch every time
            evaluations.append({"updates": updates, "training_minutes": seconds / 60, **scores})
            print(json.dumps({k: round(v, 4) for k, v in evaluations[-1].items()}), flush=True)
    results = {"run": args.run, "env": cfg.env.spec, "patch_size": args.patch_size,
               "context_skip": dit_cfg.context_skip, "end_fraction": args.end_fraction,
               "tokens_per_frame": (autoencoder.latent_shape[1] // args.patch_size) ** 2,
               "parameters": sum(p.numel() for p in model.parameters()), "seconds_per_update": seconds / updates,
               "held_out_episodes": args.held_out_episodes, "segments": args.segments, "real_ends": real_ends,
               "evaluations": evaluations}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    run_command(main, "world_model_capacity.py")
