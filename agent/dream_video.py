"""`dreamdit dream`: videos of dreams for people to watch.

    dreamdit dream --checkpoint RUN --out dream.gif [--mode open-loop|policy] [--horizon H] [--n 8]

open-loop: on held-out real episodes (fresh ones, random actions, never stored by
the run) the real future beside the future dreamed under the same actions, each
dreamed frame with its PSNR against the real one. policy: dreams in which the
trained policy chooses every action. Each video frame is one time step of all the
dreams in a grid; every cell says the step, the action that led into the frame,
the predicted reward and the predicted probability that the episode ended there.
The first C frames are the real context the dreams start from.
"""
import argparse
import math
import tempfile
from dataclasses import fields
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from agent.checkpoint import Agent, load_agent
from agent.render import check_cell, check_video_path, grid, labelled, write_video
from envs import DreamditError, action_names
from world_model.checkpoint import load_checkpoint
from world_model.fidelity import collect_random_episodes, psnr
from world_model.sampler import Dream, dream

REAL_COLOUR, DREAM_COLOUR = (235, 235, 235), (150, 210, 255)


def dream_chunks(agent: Agent, context: torch.Tensor, context_actions: torch.Tensor, horizon: int,
                 policy=None, actions=None, generator=None) -> Dream:
    """`horizon` dreamed steps as whole-trajectory dreams of the model's horizon, each started from
    the last C frames of the previous one (a single dream when `horizon` <= the model's horizon)."""
    C, chunk = context.shape[1], agent.world_model.cfg.horizon
    latents, taken, parts = context, context_actions, []
    for done in range(0, horizon, chunk):
        h = min(chunk, horizon - done)
        part = dream(agent.world_model, latents[:, -C:], taken[:, taken.shape[1] - (C - 1):], agent.config.sampler,
                     policy, None if actions is None else actions[:, done:done + h], horizon=h, generator=generator)
        latents, taken = torch.cat([latents, part.latents[:, C:]], 1), torch.cat([taken, part.actions], 1)
        parts.append(part)
    per_step = {f.name: torch.cat([getattr(p, f.name) for p in parts], 1) for f in fields(Dream)
                if f.name not in ("latents", "network_evals")}
    return Dream(latents=latents, network_evals=sum(p.network_evals for p in parts), **per_step)


@torch.no_grad()
def dream_from_segments(agent: Agent, batch: dict, horizon: int, policy_mode: bool, generator=None):
    """Dreams from the first C real frames of each segment of `batch` (a `sample_segments` result):
    under the segment's own actions (open loop) or the policy's -> (Dream, frames (B, C + H, 3, 64, 64) uint8
    of the real context followed by the decoded dream)."""
    C = agent.config.world_model.context
    device = next(agent.world_model.parameters()).device
    frames = torch.from_numpy(batch["frames"][:, :C]).to(device)
    actions = torch.from_numpy(batch["actions"]).to(device)
    if policy_mode:
        plan = dict(policy=agent.actor_critic.policy_logits)
    else:
        plan = dict(actions=actions[:, C - 1:C - 1 + horizon])
    dreamt = dream_chunks(agent, agent.autoencoder.encode(frames), actions[:, :C - 1], horizon,
                          generator=generator, **plan)
    future = agent.autoencoder.decode(dreamt.latents[:, C:])
    return dreamt, torch.cat([frames, future], 1).cpu().numpy()


def _dream_label(pred: dict, names: list[str], b: int, k: int, error: str | None) -> list[str]:
    lines = [f"dream {k + 1}: {names[pred['actions'][b, k]]}",
             f"r {pred['rewards'][b, k]:+.2f}  P(end) {pred['end_probs'][b, k]:.2f}"]
    return lines + ([error] if error is not None else [])


def _real_label(real: dict, names: list[str], b: int, t: int, context: int) -> list[str]:
    if not real["mask"][b, t]:
        return ["real: episode over"]
    end = "  END" if real["terminated"][b, t - 1] else ""
    return [f"real {t - context + 1}: {names[real['actions'][b, t - 1]]}", f"r {real['rewards'][b, t - 1]:+.2f}{end}"]


def render_frames(frames: np.ndarray, d: Dream, names: list[str], context: int, cell: int,
                  real: dict | None = None) -> Iterator[np.ndarray]:
    """One labelled grid per time step of the dreams `frames` (B, C + H, 3, 64, 64), made as the writer asks for
    it; each dream's cell beside the real frame when `real` (a segment batch: frames, actions, rewards,
    terminated, mask) is given. `names` are the env's action names."""
    B, T = frames.shape[:2]
    pred = {name: getattr(d, name).cpu().numpy() for name in ("actions", "rewards", "end_probs")}
    per_slot = 1 if real is None else 2
    if real is not None:
        errors = psnr(torch.from_numpy(frames[:, context:]), torch.from_numpy(real["frames"][:, context:T])).numpy()
    for t in range(T):
        k, cells = t - context, []
        for b in range(B):
            error = None
            if real is not None:
                label = [f"real context {t + 1}/{context}"] if k < 0 else _real_label(real, names, b, t, context)
                cells.append(labelled(real["frames"][b, t], label, cell, 1 + per_slot, REAL_COLOUR))
                error = f"PSNR {errors[b, k]:.1f} dB" if k >= 0 and real["mask"][b, t] else ""
            label = [f"context {t + 1}/{context}"] if k < 0 else _dream_label(pred, names, b, k, error)
            cells.append(labelled(frames[b, t], label, cell, 1 + per_slot, DREAM_COLOUR))
        yield grid(cells, math.ceil(math.sqrt(B / per_slot)) * per_slot)


def comparison_strip(real: np.ndarray, dreamt: np.ndarray) -> np.ndarray:
    """Real (B, T, 3, 64, 64) over dreamed frames, one row each per dream, time left to right: (h, w, 3)."""
    B, T = dreamt.shape[:2]
    rows = [frames[b, t].transpose(1, 2, 0) for b in range(B) for frames in (real, dreamt) for t in range(T)]
    return grid(rows, T)


def log_dreams(writer, agent: Agent, store, step: int, run_dir, names: list[str], n: int = 4,
               cell: int = 128) -> Path:
    """During training: open-loop dreams on `n` stored segments as a real-over-dream image in TensorBoard
    (`dreams/real_vs_dream`) and a labelled GIF, `run_dir/dreams/dream_<step>.gif`; returns the GIF's path.
    `names` are the env's action names (`vec.get_attr("action_names")[0]`)."""
    C, H = agent.config.world_model.context, agent.world_model.cfg.horizon
    # A generator of its own: logging must not change the training's random stream (resume reproduces it).
    batch = store.sample_segments(n, C + H, np.random.default_rng(step))
    generator = torch.Generator(next(agent.world_model.parameters()).device).manual_seed(step)
    dreamt, frames = dream_from_segments(agent, batch, H, policy_mode=False, generator=generator)
    writer.add_image("dreams/real_vs_dream", comparison_strip(batch["frames"], frames), step, dataformats="HWC")
    path = Path(run_dir) / "dreams" / f"dream_{step:08d}.gif"
    path.parent.mkdir(exist_ok=True)
    write_video(path, render_frames(frames, dreamt, names, C, cell, real=batch), fps=8)
    return path


def load_dreamer(checkpoint, device="cpu") -> Agent:
    """The agent of a dreamdit run's checkpoint; a one-line error for a model-free (ppo) run, which cannot dream."""
    if load_checkpoint(checkpoint)["config"]["train"].get("algo") == "ppo":
        raise DreamditError(f"{checkpoint} is a ppo run: it has no world model to dream with")
    return load_agent(checkpoint, device)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="dreamdit dream", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="run directory or checkpoint file")
    parser.add_argument("--out", required=True, help="video to write: .gif or .mp4")
    parser.add_argument("--mode", choices=("open-loop", "policy"), default="open-loop")
    parser.add_argument("--horizon", type=int, help="dreamed steps (default: the model's horizon; longer "
                                                   "dreams are chained from the last C frames)")
    parser.add_argument("--n", type=int, default=8, help="dreams in the grid")
    parser.add_argument("--cell", type=int, default=256, help="pixels per frame (even)")
    parser.add_argument("--fps", type=float, default=8.0, help="frames per second of the video")
    parser.add_argument("--episodes", type=int, default=2, help="held-out episodes to start the dreams from")
    parser.add_argument("--seed", type=int, default=30_000, help="seed of the held-out episodes and the dreams")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    out = check_video_path(args.out)
    _check_positive(n=args.n, episodes=args.episodes, fps=args.fps,
                    horizon=1 if args.horizon is None else args.horizon)
    check_cell(args.cell)
    agent = load_dreamer(args.checkpoint, args.device)
    spec, C = agent.config.env.spec, agent.config.world_model.context
    H = args.horizon or agent.world_model.cfg.horizon
    with tempfile.TemporaryDirectory() as tmp:
        store = collect_random_episodes(spec, args.episodes, args.seed, tmp)
        batch = store.sample_segments(args.n, C + H, np.random.default_rng(args.seed))
    generator = torch.Generator(args.device).manual_seed(args.seed)
    dreamt, frames = dream_from_segments(agent, batch, H, args.mode == "policy", generator)
    video = render_frames(frames, dreamt, action_names(spec), C, args.cell,
                          real=None if args.mode == "policy" else batch)
    write_video(out, video, args.fps)
    print(f"wrote {out}: {C + H} frames ({C} real context + {H} dreamed) of {args.n} {args.mode} dreams of {spec}")


def _check_positive(**values) -> None:
    for name, value in values.items():
        if value <= 0:
            raise DreamditError(f"--{name} must be positive, got {value}")
