"""Updates of the trained modules: their optimizers, and a gradient step skipped when its loss or gradient is not
finite; with a progress bar over the long runs of updates.

A single bad batch (a NaN from a rare extreme latent, an overflow under bf16) should cost one update, not the
run; a run whose every update goes bad stops with the last good checkpoint kept.
"""
import torch
from tqdm import tqdm

from envs.errors import DreamditError

MAX_BAD_UPDATES = 10  # consecutive non-finite updates before the run stops


class Updater:
    """The optimizers of the agent's trained modules, and their steps. The count of bad updates in a row lives
    in the trainer's `counters` (key "bad_updates"), so that a checkpoint keeps it."""

    def __init__(self, agent, cfg, dist, counters: dict, run_dir):
        t = cfg.train
        self.modules, self.grad_clip, self.dist, self.run_dir = agent.modules(), t.grad_clip, dist, run_dir
        self.optimizers = {
            "autoencoder": torch.optim.AdamW(agent.autoencoder.parameters(), lr=t.autoencoder_lr),
            "world_model": torch.optim.AdamW(agent.world_model.parameters(), lr=t.world_model_lr),
            "actor_critic": torch.optim.Adam(agent.actor_critic.parameters(), lr=cfg.actor_critic.lr),
        }
        self.counters = counters
        # None: the actor-critic keeps its learning rate; else (its base rate, the run's game steps) to anneal over.
        self.policy_anneal = (cfg.actor_critic.lr, t.total_steps) if cfg.actor_critic.anneal_lr else None

    def step(self, name: str, loss: torch.Tensor) -> bool:
        """Backpropagate `loss` into module `name` and step its optimizer -> whether the update was taken."""
        module, optimizer = self.modules[name], self.optimizers[name]
        optimizer.zero_grad(set_to_none=True)
        finite = self.dist.all_finite(loss)  # every rank skips together
        if finite:
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(module.parameters(), self.grad_clip)
            finite = bool(torch.isfinite(norm))
        if not finite:
            self.counters["bad_updates"] += 1
            tqdm.write(f"skipped a {name} update: non-finite loss or gradient")
            return False
        optimizer.step()
        self.counters["bad_updates"] = 0
        return True

    def anneal_actor_critic(self, env_steps: int) -> float:
        """With `actor_critic.anneal_lr`, set the actor-critic's learning rate for `env_steps` -> the rate in use."""
        group = self.optimizers["actor_critic"].param_groups[0]
        if self.policy_anneal:
            group["lr"] = annealed_lr(self.policy_anneal[0], env_steps, self.policy_anneal[1])
        return group["lr"]

    def stop_if_stuck(self, name: str) -> None:
        """After a skipped update (and its log): too many in a row stop the run."""
        if self.counters["bad_updates"] >= MAX_BAD_UPDATES:
            raise DreamditError(f"{MAX_BAD_UPDATES} non-finite {name} updates in a row: stopping; "
                                f"the last good checkpoint is in {self.run_dir}")


def annealed_lr(lr: float, steps: int, total_steps: int) -> float:
    """`lr` falling linearly from the first step to 0 at `total_steps`."""
    return lr * max(0.0, 1 - steps / total_steps)


def progress(updates: int, desc: str):
    """range(updates), with a progress bar of its own when it is long (the warm-up phases)."""
    return tqdm(range(updates), desc=desc, unit="update", leave=False, disable=updates < 500)
