"""What a shot pays in the dreams a policy trains on, decision by decision. (Defend the Center)

    python benchmarks/dream_shots.py --runs runs/dc_rep2_seed0,runs/dc_rep2_seed1 --dreams 512 \
        --json benchmarks/results/dream_shots_defendcenter.json

From windows of C real frames that a run stored, the world model dreams the run's own horizon
with the policy in the loop, as training does. At each dreamed decision k it reports how often
the policy shoots and the mean dreamed reward after an ATTACK and after any other action, beside
the share of the stored real shots that killed. A reward after ATTACK that stays level with the
real kill rate deep into dreams whose frames have lost the monsters says the dreams pay a shot
its average worth wherever it is fired: then shooting at nothing is what a policy learns.
"""
import argparse
import json

import numpy as np
import torch

from agent.checkpoint import load_agent
from envs import DreamditError, EpisodeStore, action_names, run_command
from world_model.sampler import dream


def dreamed_shots(run: str, dreams: int, seed: int) -> dict:
    agent = load_agent(run)
    cfg = agent.config
    names = action_names(cfg.env.spec)
    if "ATTACK" not in names:
        raise DreamditError(f"{run} plays {cfg.env.spec}, which has no ATTACK action")
    attack, C = names.index("ATTACK"), cfg.world_model.context
    store = EpisodeStore(f"{run}/episodes", reader=True)
    raw = store.sample_segments(dreams, C + 1, np.random.default_rng(seed))
    frames, actions = torch.from_numpy(raw["frames"]), torch.from_numpy(raw["actions"])
    stored_shot = actions[:, C - 1] == attack
    real_kill_rate = (torch.from_numpy(raw["rewards"])[:, C - 1][stored_shot] > 0.5).float().mean().item()
    latents = torch.cat([agent.autoencoder.encode(part) for part in frames[:, :C].split(256)])
    policy = agent.actor_critic.policy_logits
    shot, paid_shot, paid_other, generator = [], [], [], torch.Generator().manual_seed(seed)
    for z, a in zip(latents.split(64), actions[:, :C - 1].split(64)):
        d = dream(agent.world_model, z, a, cfg.sampler, policy=policy, generator=generator)
        shot.append(d.actions == attack)
        paid_shot.append(torch.where(d.actions == attack, d.rewards, torch.nan))
        paid_other.append(torch.where(d.actions != attack, d.rewards, torch.nan))
    shot, paid_shot, paid_other = (torch.cat(x) for x in (shot, paid_shot, paid_other))
    return {"env": cfg.env.spec, "dreams": len(shot), "horizon": shot.shape[1],
            "real_kills_per_stored_shot": real_kill_rate,
            "attack_share_by_decision": shot.float().mean(0).tolist(),
            "reward_after_attack_by_decision": paid_shot.nanmean(0).tolist(),
            "reward_after_other_actions_by_decision": paid_other.nanmean(0).tolist()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", required=True, help="comma-separated dreamdit run directories")
    parser.add_argument("--dreams", type=int, default=512, help="dreams per run, each from a stored window")
    parser.add_argument("--seed", type=int, default=30_000)
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    results = {}
    for run in args.runs.split(","):
        r = results[run] = dreamed_shots(run, args.dreams, args.seed)
        fmt = lambda xs: " ".join(f"{x:.2f}" for x in xs)  # noqa: E731
        print(f"{run}: real kills per stored shot {r['real_kills_per_stored_shot']:.2f}\n"
              f"  ATTACK share by dreamed decision  {fmt(r['attack_share_by_decision'])}\n"
              f"  reward after ATTACK               {fmt(r['reward_after_attack_by_decision'])}\n"
              f"  reward after other actions        {fmt(r['reward_after_other_actions_by_decision'])}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"dreams": args.dreams, "seed": args.seed, "runs": results}, f, indent=2)


if __name__ == "__main__":
    run_command(main, "dream_shots.py")
