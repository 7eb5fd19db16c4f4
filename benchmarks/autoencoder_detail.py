"""Does the autoencoder keep the small things that matter (a distant fireball, a monster)?

    python benchmarks/autoencoder_detail.py --run RUN --updates 3000 --detail-weights 0,20 \
        --json benchmarks/results/autoencoder_detail_takecover.json \
        --png benchmarks/results/autoencoder_detail_takecover.png

Trains fresh autoencoders (the run's config, one per detail weight and seed) on
the first frames a run stored, as many as its random warm-up collected, for a
fixed number of updates, then reconstructs frames of held-out random-policy
episodes. It reports the PSNR over all pixels and over the detail pixels only
(local contrast above --threshold: edges, small objects), which a flat floor and
ceiling do not dominate. The PNG shows eight held-out frames, evenly spaced,
then their reconstruction under each weight (first seed), one row each.
--score-runs also scores the autoencoders that finished runs trained, on the same
held-out frames.
"""
import argparse
import json
import tempfile
import time
from dataclasses import replace

import numpy as np
import torch
from PIL import Image

from agent.checkpoint import load_agent
from envs import EpisodeStore, action_repeat, run_command
from world_model.autoencoder import Autoencoder, local_contrast
from world_model.fidelity import collect_random_episodes


def warmup_frames(run: str, steps: int) -> np.ndarray:
    """The frames of a run's first stored episodes, up to `steps` transitions: what its autoencoder learned from."""
    store, frames, total = EpisodeStore(f"{run}/episodes", reader=True), [], 0
    for i in range(len(store)):
        episode = store.episode(i)["frames"]
        frames.append(episode)
        total += len(episode) - 1
        if total >= steps:
            break
    return np.concatenate(frames)


def train(cfg, frames: np.ndarray, updates: int, batch: int, lr: float, clip: float, seed: int) -> Autoencoder:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    autoencoder = Autoencoder(cfg)
    optimizer = torch.optim.AdamW(autoencoder.parameters(), lr=lr)
    for _ in range(updates):
        loss, _ = autoencoder(torch.from_numpy(frames[rng.integers(len(frames), size=batch)]))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(autoencoder.parameters(), clip)
        optimizer.step()
    autoencoder.calibrate(torch.from_numpy(frames[rng.integers(len(frames), size=1024)]))
    return autoencoder.eval()


def psnr(squared_error: torch.Tensor) -> float:
    return 10 * np.log10(4.0 / max(squared_error.mean().item(), 1e-10))


@torch.no_grad()
def score(autoencoder: Autoencoder, frames: torch.Tensor, threshold: float) -> dict:
    recon = autoencoder.decode(autoencoder.encode(frames))
    target, output = frames.float() / 127.5 - 1, recon.float() / 127.5 - 1
    squared = (output - target).pow(2).mean(dim=1, keepdim=True)  # (N, 1, H, W)
    detail = local_contrast(target) > threshold
    return {"psnr": psnr(squared), "detail_psnr": psnr(squared[detail]),
            "detail_pixel_fraction": detail.float().mean().item()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", required=True, help="a run directory: its config and its first stored episodes")
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--detail-weights", default="0,20", help="comma-separated values of autoencoder.detail_weight")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds of each autoencoder")
    parser.add_argument("--threshold", type=float, default=0.1,
                        help="local contrast of a detail pixel (frames in [-1, 1])")
    parser.add_argument("--held-out-episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=777, help="seed of the held-out episodes")
    parser.add_argument("--score-runs", default="", help="comma-separated run directories whose autoencoders to score")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json")
    parser.add_argument("--png")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_agent(args.run).config
    frames = warmup_frames(args.run, cfg.train.warmup_steps // action_repeat(cfg.env.spec))  # decisions stored
    with tempfile.TemporaryDirectory() as tmp:
        held_out = collect_random_episodes(cfg.env.spec, args.held_out_episodes, args.seed, tmp)
        test = torch.from_numpy(np.concatenate([held_out.episode(i)["frames"] for i in range(len(held_out))]))
    shown = test[torch.linspace(0, len(test) - 1, 8).long()]
    results, rows = [], [shown]
    seeds = [int(s) for s in args.seeds.split(",")]
    for weight in [float(w) for w in args.detail_weights.split(",")]:
        for seed in seeds:
            start = time.perf_counter()
            autoencoder = train(replace(cfg.autoencoder, detail_weight=weight), frames, args.updates,
                                cfg.train.autoencoder_batch, cfg.train.autoencoder_lr, cfg.train.grad_clip, seed)
            scores = score(autoencoder, test, args.threshold)
            results.append({"detail_weight": weight, "seed": seed, "training_seconds": time.perf_counter() - start,
                            **scores})
            print(json.dumps({k: round(v, 3) for k, v in results[-1].items()}), flush=True)
            if seed == seeds[0]:
                with torch.no_grad():
                    rows.append(autoencoder.decode(autoencoder.encode(shown)))
    trained_by_runs = {run: score(load_agent(run).autoencoder.eval(), test, args.threshold)
                       for run in filter(None, args.score_runs.split(","))}
    for run, scores in trained_by_runs.items():
        print(run, json.dumps({k: round(v, 3) for k, v in scores.items()}), flush=True)
    report = {"run": args.run, "env": cfg.env.spec, "updates": args.updates, "training_frames": len(frames),
              "held_out_frames": len(test), "threshold": args.threshold, "torch_threads": args.threads,
              "results": results, "trained_by_runs": trained_by_runs}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    if args.png:
        grid = np.concatenate([np.concatenate(list(row.permute(0, 2, 3, 1).numpy()), axis=1) for row in rows])
        Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.NEAREST).save(args.png)


if __name__ == "__main__":
    run_command(main, "autoencoder_detail.py")
