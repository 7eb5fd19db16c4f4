"""The run's configuration: one dataclass per component, named presets, and the checks of their values.

agent/options.py sets them from the command line.
"""
import time
from dataclasses import dataclass, field

from agent.actor_critic import ActorCriticConfig
from agent.ppo_network import PPOConfig
from envs.errors import DreamditError
from world_model.autoencoder import AutoencoderConfig
from world_model.dit import DiTConfig
from world_model.model import WorldModelConfig
from world_model.sampler import SamplerConfig


@dataclass
class EnvConfig:
    spec: str = "vizdoom:TakeCover,repeat=8"
    """environment: vizdoom:DefendCenter (a decision every game step), vizdoom:TakeCover,repeat=8 (every 8), ..."""
    num_envs: int = 4
    """parallel real environments used to collect data"""
    clip_rewards: bool = False
    """learn from sign(reward) (Atari); reported returns are never clipped"""


@dataclass
class TrainConfig:
    algo: str = "dreamdit"
    """dreamdit (model-based, learns in dreams) or ppo (the model-free baseline)"""
    total_steps: int = 100_000
    """real game steps of 4 frames each; with an env spec ending in ,repeat=N the agent decides every N"""
    seed: int = 0
    """seed of envs, networks and sampling"""
    device: str = "cpu"
    """cpu or cuda (bf16 autocast on cuda)"""
    threads: int = 0
    """torch CPU threads; 0 keeps torch's default"""
    run_dir: str = ""
    """run directory; empty: runs/<env>__<algo>__<seed>__<time>"""
    warmup_steps: int = 5_000
    """game steps played by a random policy before any learning"""
    explore_hold_steps: float = 1.0
    """mean decisions an exploratory random action is held (1: a fresh random action every warm-up decision)"""
    explore_prob: float = 0.0
    """chance per decision that the policy's data collection starts an exploratory hold"""
    autoencoder_updates: int = 3_000
    """autoencoder updates on the warm-up data; it is frozen afterwards"""
    autoencoder_batch: int = 32
    """frames per autoencoder update"""
    autoencoder_lr: float = 1e-3
    """autoencoder learning rate"""
    world_model_warmup_updates: int = 2_000
    """DiT updates after the autoencoder, before the first policy update"""
    steps_per_iteration: int = 2_000
    """game steps played by the policy between updates"""
    world_model_updates: int = 100
    """DiT updates per iteration"""
    world_model_batch: int = 32
    """segments per DiT update"""
    world_model_end_fraction: float = 0.0
    """fraction of each DiT batch drawn among segments whose future holds a real end (ends are rare)"""
    world_model_lr: float = 3e-4
    """DiT learning rate"""
    policy_updates: int = 40
    """batches of dreams the actor-critic trains on per iteration"""
    dream_batch: int = 64
    """dreams per batch (one sampling of the dream sampler)"""
    dream_minibatches: int = 1
    """actor-critic gradient steps per batch of dreams, each on an equal share of its dreams"""
    grad_clip: float = 1.0
    """gradient norm clip of every update"""
    eval_every: int = 10_000
    """game steps between evaluations"""
    eval_episodes: int = 10
    """episodes of each evaluation during training"""
    final_eval_episodes: int = 100
    """episodes of the final evaluation"""
    checkpoint_every: float = 10.0
    """minutes between checkpoints (also written after warm-up and at every evaluation)"""
    greedy: bool = True
    """evaluation takes the policy's most likely action (false: samples from the policy); on Take Cover and
    Defend the Center the most likely action played better at 100k game steps on most seeds (README, results)"""
    lookahead_samples: int = 0
    """evaluation: dreams per action before each decision, the best dreamed return acts (agent/lookahead.py); 0: off"""
    lookahead_horizon: int = 2
    """decisions each lookahead dream runs"""
    screen_action: str = ""
    """evaluation: an action (e.g. ATTACK) that acts only where the world model dreams its reward above
    screen_reward one decision ahead, elsewhere the policy's likeliest other action (agent/screen.py); '': off"""
    screen_reward: float = 0.5
    """the dreamed reward the screened action must pass"""
    policy_average_decay: float = 0.0
    """evaluation acts with a moving average of the actor-critic's weights, updated with this decay after every
    policy update (0.99: about the last 100 updates); 0: with the latest weights"""


@dataclass
class Config:
    env: EnvConfig = field(default_factory=EnvConfig)
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    dit: DiTConfig = field(default_factory=DiTConfig)
    world_model: WorldModelConfig = field(default_factory=WorldModelConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    actor_critic: ActorCriticConfig = field(default_factory=ActorCriticConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def run_name(self) -> str:
        env = self.env.spec.replace(":", "_")
        return f"{env}__{self.train.algo}__{self.train.seed}__{int(time.time())}"


# The dataclass defaults are the `default` preset: Take Cover, 100k game steps, a decision every 8 of them
# (32 tics), so 12.5k decisions. Holding a direction is what Take Cover rewards first (blind sweeps score
# 1.5-2x random), a dream of 16 decisions then spans 512 tics instead of 64, and its chance of an end per
# decision comes near the real one; with a decision every step or every 4 the runs stayed far below 750
# (benchmarks/EXPERIMENTS.md). Budgets count game steps whatever the repeat, so `--env` alone changes the game.
PRESETS = {
    "default": {},
    "smoke": {
        "env.spec": "vizdoom:TakeCover", "autoencoder.width": 8, "dit.width": 32, "dit.depth": 1, "dit.heads": 2,
        "world_model.horizon": 4, "world_model.context": 2, "sampler.num_steps": 2, "actor_critic.hidden": 32,
        "env.num_envs": 2, "train.total_steps": 400, "train.warmup_steps": 200, "train.autoencoder_updates": 5,
        "train.autoencoder_batch": 8, "train.world_model_warmup_updates": 3, "train.steps_per_iteration": 100,
        "train.world_model_updates": 2, "train.world_model_batch": 4, "train.policy_updates": 2,
        "train.dream_batch": 4, "train.eval_every": 200, "train.eval_episodes": 1, "train.final_eval_episodes": 2,
        "ppo.num_envs": 2, "ppo.num_steps": 32, "ppo.num_minibatches": 2, "ppo.update_epochs": 2,
        "ppo.hidden_size": 32,
    },
    # Defend the Center, a decision every 2 game steps: the best of 1, 2 and 4 (benchmarks/EXPERIMENTS.md).
    # Its policies alone return 3.69-6.45 greedy over eight seeds (mean 4.82). Lookahead (--lookahead-samples)
    # lifted four weak agents of seven and cut three, both seeds trained with it among them (5.52 to 2.55, 4.99
    # to 4.56); the action screen (--screen-action ATTACK) left fresh seeds 5 and 6 where they were; a weight average
    # and --actor-horizon 3 did worse on seed 7 (1.7 and 4.4 against 5.3), and --actor-horizon 3 with the screen on
    # fresh seeds 8-10 (mean 2.21).
    "defendcenter": {"env.spec": "vizdoom:DefendCenter,repeat=2"},
    # The Atari 100k protocol: 100k agent steps, rewards clipped for learning only, 100 final episodes.
    # Evaluation samples: without sticky actions a greedy policy can replay one trajectory forever.
    "atari100k": {
        "env.spec": "atari:Pong", "env.clip_rewards": True, "train.total_steps": 100_000,
        "train.final_eval_episodes": 100, "train.greedy": False,
    },
}


def validate(cfg: Config) -> None:
    """Catch nonsensical values before any work starts."""
    t, wm = cfg.train, cfg.world_model
    positive = {"total_steps": t.total_steps, "steps_per_iteration": t.steps_per_iteration,
                "world_model_batch": t.world_model_batch, "dream_batch": t.dream_batch,
                "dream_minibatches": t.dream_minibatches,
                "autoencoder_batch": t.autoencoder_batch, "eval_every": t.eval_every,
                "env.num_envs": cfg.env.num_envs, "horizon": wm.horizon, "context": wm.context,
                "sampler.num_steps": cfg.sampler.num_steps, "final_eval_episodes": t.final_eval_episodes,
                "ppo.num_envs": cfg.ppo.num_envs, "ppo.num_steps": cfg.ppo.num_steps,
                "ppo.num_minibatches": cfg.ppo.num_minibatches, "ppo.update_epochs": cfg.ppo.update_epochs}
    for name, value in positive.items():
        if value < 1:
            raise DreamditError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if t.dream_minibatches > t.dream_batch:
        raise DreamditError(f"--dream-minibatches ({t.dream_minibatches}) exceeds --dream-batch ({t.dream_batch})")
    if wm.context + wm.horizon > cfg.dit.max_frames:
        raise DreamditError(f"context + horizon ({wm.context + wm.horizon}) exceeds --max-frames {cfg.dit.max_frames}")
    if cfg.dit.width % cfg.dit.heads:
        raise DreamditError(f"--dit.width {cfg.dit.width} must be divisible by --heads {cfg.dit.heads}")
    if cfg.autoencoder.latent_size % cfg.dit.patch_size:
        raise DreamditError(f"--patch-size {cfg.dit.patch_size} must divide "
                            f"--latent-size {cfg.autoencoder.latent_size}")
    if cfg.autoencoder.detail_weight < 0:
        raise DreamditError(f"--detail-weight must not be negative, got {cfg.autoencoder.detail_weight}")
    if t.lookahead_samples < 0 or not 1 <= t.lookahead_horizon <= cfg.dit.max_frames - wm.context:
        raise DreamditError(f"--lookahead-samples must not be negative and --lookahead-horizon must be between 1 "
                            f"and {cfg.dit.max_frames - wm.context}, got {t.lookahead_samples}, {t.lookahead_horizon}")
    if t.screen_action and t.lookahead_samples:
        raise DreamditError("--screen-action and --lookahead-samples are two ways to act: give one of them "
                            "(--screen-action '' or --lookahead-samples 0 turns one off)")
    if t.algo == "ppo" and (t.screen_action or t.lookahead_samples):
        raise DreamditError("--screen-action and --lookahead-samples ask a world model, which --algo ppo has not")
    if not 0 <= cfg.actor_critic.actor_horizon <= wm.horizon:
        raise DreamditError(f"--actor-horizon must be between 0 (every dreamed decision) and --horizon "
                            f"{wm.horizon}, got {cfg.actor_critic.actor_horizon}")
    if t.explore_hold_steps < 1:
        raise DreamditError(f"--explore-hold-steps must be at least 1, got {t.explore_hold_steps}")
    if not 0 <= t.explore_prob <= 1:
        raise DreamditError(f"--explore-prob must be between 0 and 1, got {t.explore_prob}")
    if not 0 <= t.policy_average_decay < 1:
        raise DreamditError(f"--policy-average-decay must be at least 0 and below 1, got {t.policy_average_decay}")
    if not 0 <= wm.clean_segment_prob < 1:
        raise DreamditError(f"--clean-segment-prob must be at least 0 and below 1, got {wm.clean_segment_prob}")
    if not 0 <= t.world_model_end_fraction <= 1:
        raise DreamditError(f"--world-model-end-fraction must be between 0 and 1, got {t.world_model_end_fraction}")
    if t.algo not in ("dreamdit", "ppo"):
        raise DreamditError(f"--algo must be dreamdit or ppo, not {t.algo!r}")
    if cfg.sampler.solver not in ("euler", "heun"):
        raise DreamditError(f"--solver must be euler or heun, not {cfg.sampler.solver!r}")
    if t.device not in ("cpu", "cuda") and not t.device.startswith("cuda:"):
        raise DreamditError(f"--device must be cpu or cuda, not {t.device!r}")
