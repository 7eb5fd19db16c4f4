"""Does the world model see when a shot kills, and does the policy shoot only then? (Defend the Center)

    python benchmarks/shot_choice.py --runs runs/dc_rep2_seed0,runs/dc_rep2_seed1 --segments 2048 \
        --episodes 50 --json benchmarks/results/shot_choice_defendcenter.json

On windows of C real frames from the episodes a run stored, the run's world model dreams one
decision ahead for each action. Its predicted reward for ATTACK says whether it sees a kill
(above 0.5; a kill pays 1). Where the stored action was ATTACK, that prediction is read against
what really followed: its mean at real kills and at misses, and how often it is above 0.5 at
each. The policy's action probabilities on the same windows are split by whether the world
model sees a kill. Then the policy plays episodes of the real game (sampling its actions),
which counts its ATTACK decisions, kills, game steps and deaths, and the rounds left at the end
(the scenario starts with 26 and shows no count on screen). It plays them again with its shots
screened (agent/screen.py, `--screen-action ATTACK`): an ATTACK the world model does not see killing
becomes the policy's likelier turn. So the screen prices the shots the policy wastes.
"""
import argparse
import json

import numpy as np
import torch

from agent.acting import LatentActor
from agent.checkpoint import load_agent
from agent.screen import ScreenActor, dreamed_reward
from envs import DreamditError, EpisodeStore, action_repeat, make_env, run_command

KILL = 0.5  # a predicted or real reward above this is a kill (a kill pays 1)


def mean(values: torch.Tensor) -> float | None:
    return values.float().mean().item() if len(values) else None


def show(value: float | None) -> str:
    """A figure for the console; none where there was nothing to average (no stored shot, or no kill)."""
    return "none" if value is None else f"{value:.2f}"


def dreams_and_policy(agent, store: EpisodeStore, attack: int, segments: int, seed: int) -> dict:
    C = agent.config.world_model.context
    raw = store.sample_segments(segments, C + 1, np.random.default_rng(seed))
    frames = torch.from_numpy(raw["frames"])
    with torch.no_grad():
        latents = torch.cat([agent.autoencoder.encode(part) for part in frames.split(256)])
        probs = agent.actor_critic.policy_logits(latents[:, :C]).softmax(-1)
    actions = torch.from_numpy(raw["actions"])
    predicted = torch.cat([dreamed_reward(agent, z, a, attack, seed=0) for z, a in
                           zip(latents[:, :C].split(256), actions[:, :C - 1].split(256))])
    shot = actions[:, C - 1] == attack
    killed = torch.from_numpy(raw["rewards"])[:, C - 1] > KILL
    sees_kill = predicted > KILL
    return {"windows": len(predicted), "shots": int(shot.sum()), "kills_per_shot": mean(killed[shot]),
            "dreamed_reward_at_real_kills": mean(predicted[shot & killed]),
            "dreamed_reward_at_real_misses": mean(predicted[shot & ~killed]),
            "sees_the_kill_at_real_kills": mean(sees_kill[shot & killed]),
            "sees_a_kill_at_real_misses": mean(sees_kill[shot & ~killed]),
            "share_of_windows_seeing_a_kill": mean(sees_kill),
            "policy_where_a_kill_is_seen": probs[sees_kill].mean(0).tolist(),
            "policy_elsewhere": probs[~sees_kill].mean(0).tolist()}


def real_play(agent, spec: str, attack: int, episodes: int, seed: int, screen: bool) -> dict:
    env = make_env(spec, seed)
    if screen:
        actor = ScreenActor(agent, attack, KILL, seed=0)
    else:
        actor = LatentActor(agent.autoencoder, agent.actor_critic, agent.config.world_model.context, "cpu")
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(episodes):
        obs, info = env.reset()
        first, done, shots, kills, decisions = True, False, 0, 0, 0
        while not done:
            action = int(actor.act(obs[None], np.array([first]), generator=generator)[0])
            decisions += 1
            obs, reward, terminated, truncated, info = env.step(action)
            first, done = False, terminated or truncated
            shots, kills = shots + (action == attack), kills + (reward > KILL)
        rows.append((shots, kills, info["episode"]["r"], info["game_variables"]["AMMO2"],
                     decisions * action_repeat(spec), terminated))
    env.close()
    shots, kills, returns, rounds, steps, deaths = np.array(rows, dtype=float).T
    return {"episodes": episodes, "attack_decisions": shots.mean(), "kills": kills.mean(), "return": returns.mean(),
            "return_std": returns.std(), "rounds_left": rounds.mean(), "out_of_rounds": (rounds == 0).mean(),
            "game_steps": steps.mean(), "deaths": deaths.mean()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", required=True, help="comma-separated run directories of Defend the Center")
    parser.add_argument("--segments", type=int, default=2048, help="windows of stored frames to dream from")
    parser.add_argument("--episodes", type=int, default=50, help="real episodes played by each policy")
    parser.add_argument("--seed", type=int, default=30_000)
    parser.add_argument("--latest-weights", action="store_true",
                        help="a run that kept an average of its policy's weights: its last weights instead")
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    results = {}
    for run in args.runs.split(","):
        agent = load_agent(run, average=not args.latest_weights)
        spec = agent.config.env.spec
        env = make_env(spec)
        names, variables = env.action_names, env.reset()[1].get("game_variables", {})
        env.close()
        if "ATTACK" not in names or "AMMO2" not in variables:
            raise DreamditError(f"{run} plays {spec}, which has no ATTACK action or no ammo count")
        attack = names.index("ATTACK")
        store = EpisodeStore(f"{run}/episodes", reader=True)
        results[run] = {"env": spec, "actions": names,
                        "dreams": dreams_and_policy(agent, store, attack, args.segments, args.seed),
                        "real_game": real_play(agent, spec, attack, args.episodes, args.seed, screen=False),
                        "real_game_screened": real_play(agent, spec, attack, args.episodes, args.seed, screen=True)}
        d = results[run]["dreams"]
        print(f"{run}: kills per stored shot {show(d['kills_per_shot'])}; dreamed ATTACK reward "
              f"{show(d['dreamed_reward_at_real_kills'])} at real kills, {show(d['dreamed_reward_at_real_misses'])} "
              f"at misses; policy P(ATTACK) {d['policy_where_a_kill_is_seen'][attack]:.2f} where the world model "
              f"sees a kill ({d['share_of_windows_seeing_a_kill']:.2f} of windows), "
              f"{d['policy_elsewhere'][attack]:.2f} elsewhere")
        for mode in ("real_game", "real_game_screened"):
            r = results[run][mode]
            print(f"{run}: {mode.replace('_', ' ')}, {r['episodes']} episodes: {r['attack_decisions']:.1f} ATTACK "
                  f"decisions, {r['kills']:.1f} kills, return {r['return']:.2f}, {r['rounds_left']:.1f} rounds left "
                  f"({r['out_of_rounds']:.2f} out), {r['game_steps']:.0f} game steps, deaths {r['deaths']:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"segments": args.segments, "seed": args.seed, "runs": results}, f, indent=2)


if __name__ == "__main__":
    run_command(main, "shot_choice.py")
