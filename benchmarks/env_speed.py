"""Steps per second of make_env's envs against the raw envs under them, at the same frame skip.

    python benchmarks/env_speed.py --json benchmarks/results/env_speed.json

Raw ViZDoom: a DoomGame rendering 160x120 RGB, make_action(a, 4), no resize.
Raw Atari: ALE/Pong-v5 with frameskip=4 and no sticky actions, no max-pool
or resize. Random actions; episodes that end are reset inside the timing.
Raw and wrapped envs take turns every 250 steps, so both see the same load
on the machine; each of the repeats uses fresh envs.
"""
import argparse
import json
import os
import statistics
import time

import ale_py
import gymnasium as gym
import numpy as np
import vizdoom as vzd

from envs import make_env, run_command
from envs.vizdoom_env import FRAME_SKIP


class RawTakeCover:
    """Take Cover straight from ViZDoom, behind the same reset/step calls as an env."""

    def __init__(self):
        self.game = vzd.DoomGame()
        self.game.load_config(os.path.join(vzd.scenarios_path, "take_cover.cfg"))
        self.game.set_window_visible(False)
        self.game.set_screen_resolution(vzd.ScreenResolution.RES_160X120)
        self.game.set_screen_format(vzd.ScreenFormat.RGB24)
        self.game.init()
        self.buttons = np.eye(self.game.get_available_buttons_size()).tolist()
        self.action_space = gym.spaces.Discrete(len(self.buttons))

    def reset(self):
        self.game.new_episode()
        return self.game.get_state().screen_buffer, {}

    def step(self, action):
        reward = self.game.make_action(self.buttons[action], FRAME_SKIP)
        done = self.game.is_episode_finished()
        obs = None if done else self.game.get_state().screen_buffer
        return obs, reward, done, False, {}

    def close(self):
        self.game.close()


def raw_env(spec: str):
    """The env a spec's wrapper is built on, stepping at the same frame skip."""
    if spec == "vizdoom:TakeCover":
        return RawTakeCover()
    gym.register_envs(ale_py)
    return gym.make("ALE/Pong-v5", frameskip=4, repeat_action_probability=0.0)


class Timer:
    """Steps one env with random actions, resetting it when an episode ends, and adds up the time."""

    def __init__(self, env, seed: int):
        self.env, self.rng, self.seconds, self.steps = env, np.random.default_rng(seed), 0.0, 0
        env.reset()

    def run(self, steps: int) -> None:
        actions = self.rng.integers(self.env.action_space.n, size=steps)
        start = time.perf_counter()
        for action in actions:
            _, _, terminated, truncated, _ = self.env.step(action)
            if terminated or truncated:
                self.env.reset()
        self.seconds += time.perf_counter() - start
        self.steps += steps


def compare(spec: str, steps: int, seed: int, block: int = 250) -> tuple[float, float]:
    """Steps per second of the raw env and of make_env's, timed in alternating blocks of steps."""
    raw, wrapped = Timer(raw_env(spec), seed), Timer(make_env(spec, seed=seed), seed)
    for _ in range(steps // block):
        raw.run(block)
        wrapped.run(block)
    raw.env.close()
    wrapped.env.close()
    return raw.steps / raw.seconds, wrapped.steps / wrapped.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000, help="agent steps per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per env; medians are reported")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()

    rows = []
    for spec in ["vizdoom:TakeCover", "atari:Pong"]:
        runs = [compare(spec, args.steps, seed) for seed in range(args.repeats)]
        raw_sps, wrapped_sps = (statistics.median(run[i] for run in runs) for i in (0, 1))
        ratio = round(statistics.median(wrapped / raw for raw, wrapped in runs), 3)  # of runs side by side
        rows.append(dict(env=spec, raw_sps=round(raw_sps), wrapped_sps=round(wrapped_sps), ratio=ratio))

    print(f"{'env':<20}{'raw steps/s':>14}{'make_env steps/s':>18}{'ratio':>8}")
    for row in rows:
        print(f"{row['env']:<20}{row['raw_sps']:>14}{row['wrapped_sps']:>18}{row['ratio']:>8.2f}")
    if args.json:
        result = dict(steps=args.steps, repeats=args.repeats, machine=machine(), results=rows)
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")


def machine() -> str:
    """CPU model, core count and load, since other work on the machine shows in the timings."""
    with open("/proc/cpuinfo") as f:
        model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "unknown CPU")
    load = os.getloadavg()[0]
    return f"{model}, {os.cpu_count()} cores, no GPU; load average {load:.1f} when the run ended"


if __name__ == "__main__":
    run_command(main, "env_speed.py")
