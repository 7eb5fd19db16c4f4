"""Fidelity benchmark: how well dreams match what really happened, per horizon step.

    dreamdit fidelity --checkpoint RUN --horizon 16 --episodes 20 --json out.json --plot out.png

On held-out real episodes (fresh ones, played with uniformly random actions, never
stored by the run), take C real frames and the real actions that followed and
predict the next H frames three ways: whole-trajectory (all frames denoised
jointly, K network evaluations), autoregressive (one frame at a time from its
own outputs, H*K evaluations), and repeating the last real frame. Report latent
MSE and decoded-pixel PSNR per horizon step, reward and termination accuracy,
and network evaluations and wall time per imagined transition. The reward and
termination heads are also read on the real future frames, for comparison.
"""
import argparse
import json
import tempfile
import time

import numpy as np
import torch

from envs import EpisodeCollector, EpisodeStore, make_vector_env
from world_model.autoencoder import Autoencoder, AutoencoderConfig
from world_model.checkpoint import load_checkpoint
from world_model.dit import DiTConfig
from world_model.model import WorldModel, WorldModelConfig, actions_into_frames
from world_model.sampler import SamplerConfig, dream, dream_autoregressive


def load_world_model(checkpoint, device="cpu"):
    """(autoencoder, world model, sampler config, env spec) of a run's checkpoint, in eval mode."""
    payload = load_checkpoint(checkpoint)
    cfg, state = payload["config"], payload["state"]
    autoencoder = Autoencoder(AutoencoderConfig(**cfg["autoencoder"]))
    model = WorldModel(WorldModelConfig(**cfg["world_model"]), DiTConfig(**cfg["dit"]), autoencoder.latent_shape,
                       payload["num_actions"])
    autoencoder.load_state_dict(state["autoencoder"])
    model.load_state_dict(state["world_model"])
    return autoencoder.to(device).eval(), model.to(device).eval(), SamplerConfig(**cfg["sampler"]), cfg["env"]["spec"]


def collect_random_episodes(spec: str, episodes: int, seed: int, directory) -> EpisodeStore:
    store = EpisodeStore(directory)
    vec = make_vector_env(spec, min(4, episodes), seed, train=False)
    vec.action_space.seed(seed)  # the same held-out episodes on every run of the benchmark
    collector = EpisodeCollector(vec, store)
    while len(store) < episodes:
        collector.step(vec.action_space.sample())
    vec.close()
    return store


def psnr(pred: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Per-frame PSNR (dB) of uint8 images (..., 3, 64, 64)."""
    mse = (pred.float() - real.float()).pow(2).mean(dim=(-3, -2, -1))
    return 10 * torch.log10(255.0**2 / mse.clamp(min=1e-3))


def per_step(values: torch.Tensor, mask: torch.Tensor) -> list[float]:
    """Masked mean over the batch for each horizon step: (B, H) -> H floats."""
    return ((values * mask).sum(0) / mask.sum(0).clamp(min=1)).tolist()


def score_mode(name, run, autoencoder, batch, C, H):
    """Run one predictor on the batch and measure it."""
    start = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - start
    latents, evals = (result, 0) if torch.is_tensor(result) else (result.latents[:, C:], result.network_evals)
    real_z, mask = batch["latents"][:, C:], batch["mask"][:, C:].float()
    with torch.no_grad():
        frames = autoencoder.decode(latents)
    scores = {"latent_mse": per_step((latents - real_z).pow(2).mean(dim=(2, 3, 4)), mask),
              "psnr": per_step(psnr(frames, batch["frames"][:, C:]), mask)}
    transitions = latents.shape[0] * H
    # One network evaluation advances every trajectory of the batch, so evals per transition is evals / H.
    scores.update(network_evals_per_transition=evals / H, seconds_per_transition=seconds / transitions,
                  transitions_per_second=transitions / seconds)
    if not torch.is_tensor(result):
        scores.update(score_heads(result.rewards, result.end_probs, batch, C, H))
    return name, scores


def score_heads(rewards: torch.Tensor, end_probs: torch.Tensor, batch: dict, C: int, H: int) -> dict:
    """Reward and termination predictions (B, H) against what really followed."""
    mask = batch["mask"][:, C:].float()
    real_reward, real_end = batch["rewards"][:, C - 1:C - 1 + H], batch["terminated"][:, C - 1:C - 1 + H]
    ends, others = real_end & (mask > 0), ~real_end & (mask > 0)
    # Ends are rare, so accuracy alone hides whether they are predicted at all.
    return {"reward_accuracy": per_step(((rewards - real_reward).abs() < 0.5).float(), mask),
            "termination_accuracy": per_step(((end_probs > 0.5) == real_end).float(), mask),
            "real_ends": int(ends.sum()),
            "end_prob_at_real_ends": end_probs[ends].mean().item() if ends.any() else None,
            "end_prob_elsewhere": end_probs[others].mean().item()}


@torch.no_grad()
def heads_on_clean_latents(model: WorldModel, z: torch.Tensor, actions: torch.Tensor):
    """Reward logits (B, T, bins) and end logits (B, T) for clean latents z (B, T, c, h, w), with actions (B, T)
    taken at each frame."""
    sigma = torch.zeros(z.shape[:2], device=z.device)
    _, reward_logits, end_logits = model.denoise(z, sigma, actions_into_frames(actions, model.num_actions))
    return reward_logits, end_logits


def heads_on_real_frames(model: WorldModel, batch: dict, C: int, H: int) -> dict:
    """The reward and termination heads read on the real future frames (clean, real actions).

    Set beside the dreamed modes, this tells a head that cannot see what is coming
    from dreams that do not show it (e.g. a hit that ends the episode, never dreamed).
    """
    reward_logits, end_logits = heads_on_clean_latents(model, batch["latents"][:, :C + H], batch["actions"][:, :C + H])
    return score_heads(model.reward(reward_logits[:, C:]), end_logits[:, C:].sigmoid(), batch, C, H)


def chance_of_an_end(end_probs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Chance of at least one end among the (masked) steps, for per-step end probabilities: (..., H) -> (...)."""
    return 1 - (1 - (end_probs if mask is None else end_probs * mask)).prod(-1)


@torch.no_grad()
def held_action_end_chances(model: WorldModel, sampler_cfg, context: torch.Tensor, between: torch.Tensor, H: int,
                            seed: int) -> torch.Tensor:
    """(A, B): the dreamed chance of an end within H steps from each context when action a is held throughout."""
    by_action = []
    for action in range(model.num_actions):
        held = torch.full((len(context), H), action, dtype=torch.long, device=context.device)
        dreamt = dream(model, context, between, sampler_cfg, actions=held, horizon=H,
                       generator=torch.Generator(device=context.device).manual_seed(seed))
        by_action.append(chance_of_an_end(dreamt.end_probs))
    return torch.stack(by_action)


@torch.no_grad()
def action_sensitivity(model: WorldModel, sampler_cfg, batch: dict, C: int, H: int, seed: int) -> dict:
    """The dreamed chance of an end within the horizon when one action is held throughout, for each action."""
    real_death = (batch["terminated"][:, C - 1:C - 1 + H] & batch["mask"][:, C:]).any(1)
    ends = held_action_end_chances(model, sampler_cfg, batch["latents"][:, :C], batch["actions"][:, :C - 1], H, seed)
    spread = ends.max(0).values - ends.min(0).values

    def mean_where(values, where):
        return values[..., where].mean(-1).tolist() if where.any() else None

    return {"segments_with_a_real_end": int(real_death.sum()),
            "end_within_horizon_where_a_real_end_follows": mean_where(ends, real_death),
            "end_within_horizon_elsewhere": mean_where(ends, ~real_death),
            "spread_between_actions": spread.mean().item(),
            "spread_between_actions_where_a_real_end_follows": mean_where(spread, real_death)}


def run_fidelity(checkpoint, horizon: int, episodes: int, segments: int, seed: int, device="cpu") -> dict:
    autoencoder, model, sampler_cfg, spec = load_world_model(checkpoint, device)
    C, H = model.cfg.context, horizon
    with tempfile.TemporaryDirectory() as tmp:
        store = collect_random_episodes(spec, episodes, seed, tmp)
        raw = store.sample_segments(segments, C + H, np.random.default_rng(seed))
    batch = {k: torch.from_numpy(v).to(device) for k, v in raw.items() if k in
             ("frames", "actions", "rewards", "terminated", "mask")}
    with torch.no_grad():
        batch["latents"] = autoencoder.encode(batch["frames"])
    context, between = batch["latents"][:, :C], batch["actions"][:, :C - 1]
    actions = batch["actions"][:, C - 1:C - 1 + H]
    generator = torch.Generator(device=device).manual_seed(seed)
    modes = dict([
        score_mode("whole_trajectory", lambda: dream(model, context, between, sampler_cfg, actions=actions,
                                                     horizon=H, generator=generator), autoencoder, batch, C, H),
        score_mode("autoregressive", lambda: dream_autoregressive(model, context, between, sampler_cfg,
                                                                  actions=actions, horizon=H, generator=generator),
                   autoencoder, batch, C, H),
        score_mode("repeat_last_frame", lambda: context[:, -1:].expand(-1, H, -1, -1, -1), autoencoder, batch, C, H),
    ])
    return {"env": spec, "checkpoint": str(checkpoint), "context": C, "horizon": H, "denoising_steps":
            sampler_cfg.num_steps, "held_out_episodes": episodes, "segments": segments,
            "torch_threads": torch.get_num_threads(), "device": str(device), "modes": modes,
            "heads_on_real_frames": heads_on_real_frames(model, batch, C, H),
            "action_sensitivity": action_sensitivity(model, sampler_cfg, batch, C, H, seed)}


def plot_fidelity(results: dict, path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    steps = np.arange(1, results["horizon"] + 1)
    for name, scores in results["modes"].items():
        for ax, metric in zip(axes, ("latent_mse", "psnr")):
            ax.plot(steps, scores[metric], marker="o", ms=3, label=name.replace("_", " "))
    axes[0].set(xlabel="horizon step", ylabel="latent MSE (lower is better)")
    axes[1].set(xlabel="horizon step", ylabel="decoded PSNR, dB (higher is better)")
    axes[0].legend()
    fig.suptitle(f"{results['env']}: dream fidelity on held-out episodes, K = {results['denoising_steps']}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="dreamdit fidelity", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="run directory or checkpoint file")
    parser.add_argument("--horizon", type=int, default=16)
    parser.add_argument("--episodes", type=int, default=20, help="held-out episodes to collect")
    parser.add_argument("--segments", type=int, default=256, help="trajectories to predict")
    parser.add_argument("--seed", type=int, default=20_000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--plot", help="write the error-against-horizon plot here (PNG)")
    args = parser.parse_args(argv)
    results = run_fidelity(args.checkpoint, args.horizon, args.episodes, args.segments, args.seed, args.device)
    for name, s in results["modes"].items():
        print(f"{name:>18}: latent MSE at H={args.horizon} {s['latent_mse'][-1]:.4f}, PSNR {s['psnr'][-1]:.2f} dB, "
              f"{s['transitions_per_second']:.0f} transitions/s, {s['network_evals_per_transition']:.2f} evals each")
    ends = [(name, s["end_prob_at_real_ends"], s["end_prob_elsewhere"]) for name, s in
            [*results["modes"].items(), ("heads_on_real_frames", results["heads_on_real_frames"])] if "real_ends" in s]
    if ends[0][1] is not None:
        print("termination probability at the real ends / elsewhere: " +
              ", ".join(f"{name.replace('_', ' ')} {at:.4f} / {other:.4f}" for name, at, other in ends))
    held = results["action_sensitivity"]

    def by_action(key):
        return "n/a" if held[key] is None else " ".join(f"{p:.3f}" for p in held[key])

    print(f"chance of an end within {args.horizon} steps, one action held, by action: "
          f"{by_action('end_within_horizon_where_a_real_end_follows')} where a real end follows, "
          f"{by_action('end_within_horizon_elsewhere')} elsewhere; mean spread between actions "
          f"{held['spread_between_actions']:.4f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    if args.plot:
        plot_fidelity(results, args.plot)
