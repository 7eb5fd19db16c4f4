"""The model-free baseline: PPO as in CleanRL's ppo_atari.py, on what dreamdit gets.

    python train.py --algo ppo --env vizdoom:TakeCover --total-steps 100000
    dreamdit eval --checkpoint RUN        # the same evaluation as dreamdit's runs

Same env factory and 64x64 RGB frames, same count of real game steps (a decision of a
",repeat=N" env counts N; the reset steps of Gymnasium's next-step autoreset are neither
counted nor learned from), the same encoder architecture trained end to end
(agent/ppo_network.py), the same evaluation and the same run directory: config.json,
TensorBoard events, checkpoint.pt, results.json. A run stops after the step that reaches
--total-steps (the last rollout is cut short there), as dreamdit's does.
"""
import json
import os
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch.distributions import Categorical
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from agent.acting import LatentActor, slide_window
from agent.config import Config
from agent.evaluate import evaluate
from agent.ppo_network import PPONetwork, explained_variance, gae, load_network_state, ppo_loss
from agent.run_dir import prepare_run_dir, setup_torch, write_results
from agent.updates import annealed_lr
from envs import DreamditError, action_repeat, make_vector_env
from envs.vector import finished_episodes
from world_model.checkpoint import CHECKPOINT_NAME, check_same_env, load_checkpoint, save_checkpoint


class PPOTrainer:
    def __init__(self, cfg: Config, resume: bool = False):
        self.cfg, t, p = cfg, cfg.train, cfg.ppo
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise DreamditError("--algo ppo runs in one process: start it with python train.py, not torchrun")
        self.device = setup_torch(t.seed, t.threads, t.device)
        self.run_dir = prepare_run_dir(Path(t.run_dir or Path("runs") / cfg.run_name()), resume)
        self.vec = make_vector_env(cfg.env.spec, p.num_envs, t.seed, train=True)
        self.num_actions = int(self.vec.single_action_space.n)
        self.repeat = action_repeat(cfg.env.spec)
        self.network = PPONetwork(p, cfg.autoencoder, cfg.world_model.context, self.num_actions).to(self.device)
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=p.lr, eps=1e-5)
        self.counters = {"env_steps": 0, "updates": 0, "wall_time": 0.0, "last_eval_step": 0}
        if resume:
            self.load()
        self.writer = SummaryWriter(self.run_dir)
        (self.run_dir / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
        self.buffer = self.empty_rollout()
        obs, _ = self.vec.reset()
        self.window = slide_window(None, torch.from_numpy(obs).to(self.device), None, cfg.world_model.context)
        self.resetting = np.zeros(p.num_envs, dtype=bool)  # the env's next step is a reset step

    def empty_rollout(self) -> dict:
        T, N, C = self.cfg.ppo.num_steps, self.cfg.ppo.num_envs, self.cfg.world_model.context
        rollout = {key: torch.zeros(T, N, device=self.device)
                   for key in ("logprobs", "values", "rewards", "terminated", "ended", "valid")}
        rollout["windows"] = torch.zeros(T, N, C, 3, 64, 64, dtype=torch.uint8, device=self.device)
        rollout["actions"] = torch.zeros(T, N, dtype=torch.long, device=self.device)
        return rollout

    def collect(self) -> tuple[int, torch.Tensor]:
        """A rollout of every env into the buffer: num_steps steps, fewer where the run's budget ends
        -> (steps taken, the value after the last step (N,))."""
        b, C = self.buffer, self.cfg.world_model.context
        for t in range(self.cfg.ppo.num_steps):
            with torch.no_grad():
                logits, value = self.network(self.window)
            dist = Categorical(logits=logits)
            action = dist.sample()
            obs, reward, terminated, truncated, infos = self.vec.step(action.cpu().numpy())
            valid = ~self.resetting  # a reset step ignores the action: no transition to learn from or count
            if self.cfg.env.clip_rewards:
                reward = np.sign(reward)
            b["windows"][t], b["actions"][t], b["logprobs"][t], b["values"][t] = (self.window, action,
                                                                                 dist.log_prob(action), value)
            for key, array in (("rewards", reward), ("terminated", terminated), ("ended", terminated | truncated),
                               ("valid", valid)):
                b[key][t] = torch.as_tensor(array, dtype=torch.float32, device=self.device)
            first = torch.from_numpy(self.resetting).to(self.device)  # obs is a new episode's first frame
            self.window = slide_window(self.window, torch.from_numpy(obs).to(self.device), first, C)
            self.resetting = terminated | truncated
            played = self.repeat * int(valid.sum())
            self.counters["env_steps"] += played
            self.bar.update(played)
            for episode in finished_episodes(infos):
                self.writer.add_scalar("charts/episodic_return", episode["return"], self.counters["env_steps"])
                self.writer.add_scalar("charts/episodic_length", episode["length"], self.counters["env_steps"])
            if self.counters["env_steps"] >= self.cfg.train.total_steps:
                break
        with torch.no_grad():
            return t + 1, self.network(self.window)[1]

    def update(self, steps: int, next_value: torch.Tensor) -> None:
        """update_epochs passes of clipped PPO over the rollout's real transitions, in shuffled minibatches."""
        p, b = self.cfg.ppo, {key: value[:steps] for key, value in self.buffer.items()}
        advantages = gae(b["rewards"], b["values"], next_value, b["terminated"], b["ended"], p.gamma, p.gae_lambda)
        data = {"windows": b["windows"], "actions": b["actions"], "logprobs": b["logprobs"], "values": b["values"],
                "advantages": advantages, "returns": advantages + b["values"]}
        data = {key: value.flatten(0, 1) for key, value in data.items()}
        real = b["valid"].flatten().nonzero().squeeze(1)
        for _ in range(p.update_epochs):
            for minibatch in real[torch.randperm(len(real), device=self.device)].chunk(p.num_minibatches):
                loss, logs = ppo_loss(self.network, {key: value[minibatch] for key, value in data.items()}, p)
                if not torch.isfinite(loss):
                    raise DreamditError(f"non-finite PPO loss at step {self.counters['env_steps']}: stopping; "
                                        f"the last good checkpoint is in {self.run_dir}")
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.network.parameters(), p.max_grad_norm)
                self.optimizer.step()
            if p.target_kl and logs["approx_kl"] > p.target_kl:
                break
        self.counters["updates"] += 1
        logs["explained_variance"] = explained_variance(data["values"][real], data["returns"][real])
        for key, value in logs.items():
            self.writer.add_scalar(f"losses/{key}", value, self.counters["env_steps"])
        self.writer.add_scalar("charts/learning_rate", self.optimizer.param_groups[0]["lr"], self.counters["env_steps"])

    def anneal_learning_rate(self) -> None:
        p = self.cfg.ppo
        if p.anneal_lr:
            lr = annealed_lr(p.lr, self.counters["env_steps"], self.cfg.train.total_steps)
            self.optimizer.param_groups[0]["lr"] = lr

    def evaluate(self, episodes: int) -> dict:
        t = self.cfg.train
        actor = LatentActor(self.network, self.network, self.cfg.world_model.context, self.device)
        result = evaluate(self.cfg.env.spec, actor, episodes, seed=t.seed + 10_000, num_envs=self.cfg.env.num_envs,
                          greedy=t.greedy)
        self.writer.add_scalar("charts/eval_return", result["mean"], self.counters["env_steps"])
        self.bar.set_postfix(eval_return=f"{result['mean']:.1f}")
        return result

    def save(self) -> None:
        save_checkpoint(self.run_dir / CHECKPOINT_NAME, {
            "config": asdict(self.cfg), "num_actions": self.num_actions,
            "state": {"network": self.network.state_dict(), "optimizer": self.optimizer.state_dict()},
            "counters": dict(self.counters, wall_time=self.wall_time()), "rng": {"torch": torch.get_rng_state()}})

    def load(self) -> None:
        payload = load_checkpoint(self.run_dir)
        check_same_env(payload, self.cfg.env.spec, self.num_actions, str(self.run_dir))
        load_network_state(self.network, payload, str(self.run_dir))
        self.optimizer.load_state_dict(payload["state"]["optimizer"])
        self.counters.update(payload["counters"])
        torch.set_rng_state(payload["rng"]["torch"])

    def wall_time(self) -> float:
        return self.counters["wall_time"] + time.time() - self.started

    def run(self) -> dict:
        t, c = self.cfg.train, self.counters
        self.started = time.time()
        self.bar = tqdm(total=t.total_steps, initial=c["env_steps"], desc=f"{self.cfg.env.spec} ppo", unit="step",
                        dynamic_ncols=True)
        try:
            while c["env_steps"] < t.total_steps:
                iteration_start, steps_before = time.time(), c["env_steps"]
                self.anneal_learning_rate()
                self.update(*self.collect())
                sps = (c["env_steps"] - steps_before) / (time.time() - iteration_start)
                self.writer.add_scalar("charts/SPS", sps, c["env_steps"])
                if c["env_steps"] - c["last_eval_step"] >= t.eval_every:
                    self.evaluate(t.eval_episodes)
                    c["last_eval_step"] = c["env_steps"]
                    self.save()
            self.save()
            final = self.evaluate(t.final_eval_episodes)
        finally:
            self.bar.close()
            self.writer.close()
            self.vec.close()
        return write_results(self.run_dir, self.cfg, c["env_steps"], self.wall_time(), final)
