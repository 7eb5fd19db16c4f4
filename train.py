"""dreamdit's main job: collect real steps, fit the world model, train the policy in dreams, evaluate.

    python train.py                       # default preset on vizdoom:TakeCover
    python train.py --preset smoke --run-dir runs/smoke
    python train.py --run-dir runs/x --resume
    dreamdit train|eval|fidelity ...      # the same job and the other commands
"""
import os

# Vector envs, evaluation and other jobs share the CPU cores with torch; OpenMP threads that spin while
# waiting then slow every update many times over (measured 17x on 2 busy cores). Must precede `import torch`.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from agent.acting import HoldExplorer, LatentActor, RandomActor
from agent.checkpoint import build_agent, restore_training_state, training_state
from agent.config import Config
from agent.distributed import Distributed
from agent.dream_video import log_dreams
from agent.evaluate import evaluate, make_actor
from agent.help import config_help
from agent.imagination import ReturnScale, imagination_loss
from agent.options import parse_config
from agent.ppo import PPOTrainer
from agent.run_dir import prepare_run_dir, setup_torch, write_results
from agent.screen import screened_index
from agent.updates import Updater, progress
from envs import EpisodeCollector, EpisodeStore, action_repeat, make_vector_env
from world_model.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from world_model.latents import LatentCache
from world_model.sampler import dream


class Trainer:
    def __init__(self, cfg: Config, resume: bool = False):
        self.cfg, t = cfg, cfg.train
        self.device = setup_torch(t.seed, t.threads, t.device)
        self.dist = Distributed.from_environment(self.device)
        self.run_dir = Path(t.run_dir or Path("runs") / cfg.run_name())
        if self.dist.is_main:
            prepare_run_dir(self.run_dir, resume)
        self.dist.barrier()
        # Only rank 0 plays the real game; the other ranks read what it stores.
        self.vec = make_vector_env(cfg.env.spec, cfg.env.num_envs, t.seed, train=True) if self.dist.is_main else None
        num_actions = self.dist.broadcast_int(int(self.vec.single_action_space.n) if self.vec else 0)
        self.agent = build_agent(cfg, num_actions, self.device)
        self.store = EpisodeStore(self.run_dir / "episodes", reader=not self.dist.is_main)
        self.collector = EpisodeCollector(self.vec, self.store) if self.vec else None
        self.repeat = action_repeat(cfg.env.spec)  # budgets count game steps; each decision plays this many
        self.actor = LatentActor(self.agent.autoencoder, self.agent.actor_critic, cfg.world_model.context, self.device)
        # Keyed by `random`: the warm-up holds every random action (one step by default), the policy now and then.
        hold = t.explore_hold_steps
        self.explorers = {True: HoldExplorer(RandomActor(num_actions), num_actions, 1.0, hold, [t.seed, 1]),
                          False: HoldExplorer(self.actor, num_actions, t.explore_prob, hold, [t.seed, 0])}
        self.latents = LatentCache()
        self.return_scale = ReturnScale(cfg.actor_critic.return_norm_decay)
        self.rng = np.random.default_rng([t.seed, self.dist.rank])  # each rank samples its own batches
        self.counters = {"env_steps": 0, "autoencoder_updates": 0, "world_model_updates": 0, "policy_updates": 0,
                         "wall_time": 0.0, "last_eval_step": 0, "bad_updates": 0}
        self.updater = Updater(self.agent, cfg, self.dist, self.counters, self.run_dir)
        if resume:
            self.load()
        self.trained = {name: self.dist.wrap(module) for name, module in self.agent.modules().items()}
        self.writer = SummaryWriter(self.run_dir) if self.dist.is_main else None
        if self.dist.is_main:
            (self.run_dir / "config.json").write_text(json.dumps(asdict(cfg), indent=2))

    # ----- the stages of one iteration -----
    def collect(self, steps: int, random: bool) -> None:
        """Play `steps` real game steps (all envs together; a decision counts `repeat`, even one cut short by
        its episode's end) with the policy or uniformly random actions."""
        target = self.counters["env_steps"] + steps
        while self.dist.is_main and self.counters["env_steps"] < target:
            before = self.collector.num_steps
            actions = self.explorers[random].act(self.collector.obs, self.collector.is_first)
            for episode in self.collector.step(actions):
                self.log({"charts/episodic_return": episode["return"], "charts/episodic_length": episode["length"]})
            played = self.repeat * (self.collector.num_steps - before)
            self.counters["env_steps"] += played
            self.bar.update(played)
        self.dist.barrier()
        self.store.refresh()
        self.counters["env_steps"] = self.dist.broadcast_int(self.counters["env_steps"])

    def train_autoencoder(self, updates: int) -> None:
        for _ in progress(updates, "autoencoder"):
            batch = self.store.sample_segments(self.cfg.train.autoencoder_batch, 1, self.rng)
            frames = torch.from_numpy(batch["frames"][:, 0]).to(self.device)
            with self.autocast():
                loss, logs = self.trained["autoencoder"](frames)
            self.optimise("autoencoder", loss, logs)
        if self.counters["autoencoder_updates"] >= self.cfg.train.autoencoder_updates:
            frames = self.store.sample_segments(1024, 1, self.rng)["frames"][:, 0]
            self.agent.autoencoder.calibrate(torch.from_numpy(frames).to(self.device))
            self.dist.broadcast_buffers(self.agent.autoencoder)

    def train_world_model(self, updates: int) -> None:
        self.latents.update(self.store, self.agent.autoencoder, self.device)
        wm, t = self.cfg.world_model, self.cfg.train
        length = wm.context + wm.horizon
        for _ in progress(updates, "world model"):
            batch = self.latents.segments(self.store, t.world_model_batch, length, self.rng, self.device,
                                          end_fraction=t.world_model_end_fraction, end_at=wm.transition_steps())
            with self.autocast():
                loss, logs = self.trained["world_model"](batch)
            self.optimise("world_model", loss, logs)

    def train_policy_in_dreams(self, updates: int) -> None:
        """`updates` batches of dreams for the actor-critic; the sampler's output is all that it sees."""
        C = self.cfg.world_model.context
        for _ in range(updates):
            start = time.perf_counter()
            batch = self.latents.segments(self.store, self.cfg.train.dream_batch, C, self.rng, self.device)
            with self.autocast():
                dreamt = dream(self.agent.world_model, batch["latents"], batch["actions"][:, :C - 1],
                               self.cfg.sampler, policy=self.agent.actor_critic.policy_logits)
            dream_sps = dreamt.actions.numel() / (time.perf_counter() - start)
            # Dreams cost far more than the actor-critic's step on them, so a batch may serve several steps.
            for part in dreamt.split(self.cfg.train.dream_minibatches):
                loss, logs = imagination_loss(self.trained["actor_critic"], part, self.return_scale,
                                              self.cfg.env.clip_rewards)
                self.optimise("actor_critic", loss, {**logs, "charts/dream_SPS": dream_sps})
                if self.agent.average is not None:
                    self.agent.average.update_parameters(self.agent.actor_critic)

    def evaluate(self, episodes: int) -> dict:
        t, seed = self.cfg.train, self.cfg.train.seed + 10_000
        names = self.vec.get_attr("action_names")[0]
        actor = make_actor(self.agent.acting(), self.device, seed, names)
        result = evaluate(self.cfg.env.spec, actor, episodes, seed, num_envs=self.cfg.env.num_envs, greedy=t.greedy)
        self.log({"charts/eval_return": result["mean"]})
        log_dreams(self.writer, self.agent, self.store, self.counters["env_steps"], self.run_dir, names)
        self.bar.set_postfix(eval_return=f"{result['mean']:.1f}")
        return result

    # ----- plumbing -----
    def autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda")

    def optimise(self, name: str, loss: torch.Tensor, logs: dict) -> None:
        """One update of module `name`, counted and logged; the updater skips a non-finite one."""
        if not self.updater.step(name, loss):
            self.log({f"errors/nonfinite_{name}": self.counters["bad_updates"]})
            self.updater.stop_if_stuck(name)
            return
        counter = f"{name}_updates" if name != "actor_critic" else "policy_updates"
        self.counters[counter] += 1
        if self.counters[counter] % 10 == 0:
            self.log(logs)

    def log(self, scalars: dict) -> None:
        if self.writer:
            for key, value in scalars.items():
                self.writer.add_scalar(key, value, self.counters["env_steps"])

    def save(self) -> None:
        """Rank 0 writes the checkpoint (atomically: a kill mid-write keeps the previous one)."""
        self.last_save = time.time()
        if self.dist.is_main:
            counters = dict(self.counters, wall_time=self.wall_time())
            payload = training_state(self.agent, self.updater.optimizers, self.return_scale, counters, self.rng)
            save_checkpoint(self.run_dir / CHECKPOINT_NAME, payload)

    def load(self) -> None:
        restore_training_state(load_checkpoint(self.run_dir), self.agent, self.updater.optimizers,
                               self.return_scale, self.counters, self.rng, str(self.run_dir))

    def wall_time(self) -> float:
        return self.counters["wall_time"] + time.time() - self.started

    # ----- the loop -----
    def warm_up(self) -> None:
        """Random play, then the autoencoder and the DiT's first updates; a resumed run skips what is done."""
        t, c = self.cfg.train, self.counters
        self.collect(max(0, t.warmup_steps - c["env_steps"]), random=True)
        while len(self.store) == 0:  # learning needs one finished episode, however short the warm-up
            self.collect(self.cfg.env.num_envs * self.repeat, random=True)
        if c["world_model_updates"] == 0:  # once the DiT has learnt on its latents the autoencoder stays as is
            self.train_autoencoder(t.autoencoder_updates - c["autoencoder_updates"])
            self.save()
        self.train_world_model(max(0, t.world_model_warmup_updates - c["world_model_updates"]))
        self.save()

    def iterate(self) -> None:
        """Play with the policy, update the DiT and the policy; evaluate and checkpoint on their schedules."""
        t, c = self.cfg.train, self.counters
        iteration_start, steps_before = time.time(), c["env_steps"]
        policy_lr = self.updater.anneal_actor_critic(steps_before)  # by the steps before this iteration's play
        self.collect(min(t.steps_per_iteration, t.total_steps - c["env_steps"]), random=False)
        self.train_world_model(t.world_model_updates)
        self.train_policy_in_dreams(t.policy_updates)
        self.log({"charts/SPS": (c["env_steps"] - steps_before) / (time.time() - iteration_start),
                  "charts/policy_learning_rate": policy_lr})
        if c["env_steps"] - c["last_eval_step"] >= t.eval_every:
            if self.dist.is_main:
                self.evaluate(t.eval_episodes)
            c["last_eval_step"] = c["env_steps"]
            self.save()
        elif time.time() - self.last_save >= 60 * t.checkpoint_every:
            self.save()

    def run(self) -> dict:
        t, c = self.cfg.train, self.counters
        self.started = self.last_save = time.time()
        self.bar = tqdm(total=t.total_steps, initial=c["env_steps"], desc=self.cfg.env.spec, unit="step",
                        dynamic_ncols=True, disable=not self.dist.is_main)
        try:
            self.warm_up()
            while c["env_steps"] < t.total_steps:
                self.iterate()
            self.save()
            final = self.evaluate(t.final_eval_episodes) if self.dist.is_main else None
        finally:
            self.bar.close()
            for resource_ in [r for r in (self.writer, self.vec) if r is not None]:  # rank 0 alone holds them
                resource_.close()
        self.dist.finish(self.agent.modules().values())
        if self.dist.is_main:
            return write_results(self.run_dir, self.cfg, c["env_steps"], self.wall_time(), final)


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if "--help" in argv or "-h" in argv:
        print(config_help())
        return
    cfg, flags = parse_config(argv)
    if cfg.train.screen_action:  # a misspelt action fails now, not at the first evaluation
        screened_index(cfg.env.spec, cfg.train.screen_action)
    results = (PPOTrainer if cfg.train.algo == "ppo" else Trainer)(cfg, resume=flags["resume"]).run()
    if results is None:  # not rank 0 of a distributed run
        return
    final = results["final_eval"]
    print(f"{cfg.env.spec}: final return {final['mean']:.1f} ± {final['std']:.1f} over {final['episodes']} episodes "
          f"after {results['env_steps']} steps; results in {Path(cfg.train.run_dir or 'runs')}")


if __name__ == "__main__":
    from agent.cli import cli  # which imports this file again as `train` to run its main

    cli()
