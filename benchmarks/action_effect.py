"""Does the world model know which action saves the agent? Held actions in the real game and in dreams.

    python benchmarks/action_effect.py --checkpoint runs/tc_ae_seed1 --states 300 \
        --json benchmarks/results/action_effect_takecover_detail_ae_100k_seed1.json

Each state comes from its own episode of uniformly random actions, at a step drawn uniformly
among those where the agent is still alive. The game is then replayed from the episode's seed
with the same actions (ViZDoom and ALE are deterministic given both; the benchmark stops if a
replay does not reproduce the recorded frame), and from the state each action is held for H
steps: did the episode end? From the same C frames the run's world model dreams the same
held actions, and its chance of an end within H steps is read twice: on the dreamed frames,
and on the real frames of each branch (the termination head seeing the real future).

Reported: per action, the real end rate and both chances; the share of states where the
choice of action decides between ending and surviving; on those, how often each chance is
lower for the action that survives (0.5 is a coin toss: a policy learned from the dreams
could not dodge); and over all states and actions, how often a real end got a higher chance
than a survival (ROC AUC). ROC AUC and the ranking need no calibrated chances.
"""
import argparse
import json

import numpy as np
import torch

from envs import DreamditError, make_env, run_command
from world_model.fidelity import chance_of_an_end, heads_on_clean_latents, held_action_end_chances, load_world_model

MAX_EPISODE_STEPS = 5_000


def play(env, seed: int, actions) -> tuple[list, bool]:
    """Frames of an episode played with `actions` from `seed` (stops at its end), and whether it terminated."""
    frames = [env.reset(seed=seed)[0]]
    for action in actions:
        obs, _, terminated, truncated, _ = env.step(int(action))
        frames.append(obs)
        if terminated or truncated:
            return frames, terminated
    return frames, False


def sample_states(spec: str, states: int, C: int, H: int, seed: int) -> dict:
    """Real branches: C frames of each state, the actions between them, each held action's H frames and end."""
    env = make_env(spec)
    A, rng = int(env.action_space.n), np.random.default_rng(seed)
    out = {"context": [], "between": [], "branches": [], "steps": [], "ended": []}
    while len(out["ended"]) < states:
        episode_seed, actions = int(rng.integers(2**31)), rng.integers(0, A, MAX_EPISODE_STEPS)
        frames, _ = play(env, episode_seed, actions)
        alive = len(frames) - 1  # frames before the last step: the agent is alive at each of them
        if alive < C:
            continue
        t = int(rng.integers(C - 1, alive))
        branches, steps, ended = [], [], []
        for action in range(A):
            replay, terminated = play(env, episode_seed, np.concatenate([actions[:t], np.full(H, action)]))
            if not np.array_equal(replay[t], frames[t]):
                raise DreamditError(f"{spec}: a replay from the same seed and actions differs; "
                                    "the game is not deterministic here")
            future = replay[t + 1:]
            steps.append(len(future))
            ended.append(terminated)
            branches.append(np.stack(future + [future[-1]] * (H - len(future))))
        out["context"].append(np.stack(frames[t - C + 1:t + 1]))
        out["between"].append(actions[t - C + 1:t])
        out["branches"].append(np.stack(branches))
        out["steps"].append(steps)
        out["ended"].append(ended)
    env.close()
    return {key: np.array(value) for key, value in out.items()}


@torch.no_grad()
def end_chances_on_real_frames(model, autoencoder, real: dict, context: torch.Tensor, H: int) -> torch.Tensor:
    """(A, S): the termination head on each branch's real frames (after the context latents), up to the real end."""
    between = torch.from_numpy(real["between"])
    chances = []
    for action in range(real["branches"].shape[1]):
        future = autoencoder.encode(torch.from_numpy(real["branches"][:, action]))
        held = torch.full((len(context), H + 1), action, dtype=torch.long)
        _, end_logits = heads_on_clean_latents(model, torch.cat([context, future], 1), torch.cat([between, held], 1))
        mask = (torch.arange(H)[None] < torch.from_numpy(real["steps"][:, action])[:, None]).float()
        chances.append(chance_of_an_end(end_logits[:, -H:].sigmoid(), mask))
    return torch.stack(chances)


def ranked_above(chances: np.ndarray, ended: np.ndarray) -> float | None:
    """Over pairs within each row of (one real end, one survival): the share where the end got the higher
    chance, ties counted half. On (1, N) rows this is the ROC AUC; None without such pairs."""
    total, pairs = 0.0, 0
    for row_chances, row_ended in zip(chances, ended):
        ends, survivals = row_chances[row_ended], row_chances[~row_ended]
        diff = ends[:, None] - survivals[None, :]
        total += (diff > 0).sum() + 0.5 * (diff == 0).sum()
        pairs += diff.size
    return float(total / pairs) if pairs else None


def summarise(chances: np.ndarray, ended: np.ndarray, decided: np.ndarray) -> dict:
    """Chances (S, A) of an end within H against the real ends (S, A); `decided` (S,) marks the states where
    some actions end and others survive."""
    return {"end_chance_by_action": chances.mean(0).tolist(),
            "spread_between_actions": float((chances.max(1) - chances.min(1)).mean()),
            "roc_auc": ranked_above(chances.reshape(1, -1), ended.reshape(1, -1)),
            "survivor_ranked_safer_where_the_action_decides": ranked_above(chances[decided], ended[decided])}


def run(checkpoint, states: int, horizon: int, seed: int) -> dict:
    autoencoder, model, sampler_cfg, spec = load_world_model(checkpoint)
    C, H = model.cfg.context, horizon
    real = sample_states(spec, states, C, H, seed)
    ended = real["ended"]  # (S, A)
    with torch.no_grad():
        context = autoencoder.encode(torch.from_numpy(real["context"]))
    dreamt = held_action_end_chances(model, sampler_cfg, context, torch.from_numpy(real["between"]), H, seed).T
    on_real = end_chances_on_real_frames(model, autoencoder, real, context, H).T
    decided = ended.any(1) & ~ended.all(1)
    return {"env": spec, "checkpoint": str(checkpoint), "states": states, "context": C, "horizon": H,
            "denoising_steps": sampler_cfg.num_steps, "seed": seed,
            "real": {"end_rate_by_action": ended.mean(0).tolist(), "share_where_the_action_decides":
                     float(decided.mean())},
            "dreamed": summarise(dreamt.numpy(), ended, decided),
            "head_on_real_frames": summarise(on_real.numpy(), ended, decided)}


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True, help="run directory or checkpoint file")
    parser.add_argument("--states", type=int, default=300, help="states, each from its own random episode")
    parser.add_argument("--horizon", type=int, default=16, help="steps each action is held")
    parser.add_argument("--seed", type=int, default=30_000)
    parser.add_argument("--json")
    args = parser.parse_args()
    results = run(args.checkpoint, args.states, args.horizon, args.seed)
    real = results["real"]
    print(f"real game: end within {args.horizon} steps by held action "
          f"{' '.join(f'{p:.3f}' for p in real['end_rate_by_action'])}; "
          f"the action decides in {real['share_where_the_action_decides']:.3f} of {args.states} states")
    for name in ("dreamed", "head_on_real_frames"):
        s = results[name]
        chances = ' '.join(f'{p:.3f}' for p in s['end_chance_by_action'])
        print(f"{name.replace('_', ' '):>19}: chance by action {chances}"
              f", spread {s['spread_between_actions']:.3f}, ROC AUC {_figure(s['roc_auc'])}, survivor ranked safer "
              f"{_figure(s['survivor_ranked_safer_where_the_action_decides'])}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    run_command(main, "action_effect.py")
