"""Building the agent's networks from a config, and reading them back from a checkpoint."""
from dataclasses import asdict, dataclass, replace

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from agent.actor_critic import ActorCritic
from agent.config import Config
from agent.options import config_from_dict
from envs.errors import DreamditError
from world_model.autoencoder import Autoencoder
from world_model.checkpoint import check_same_env, load_checkpoint
from world_model.model import WorldModel


@dataclass
class Agent:
    config: Config
    num_actions: int
    autoencoder: Autoencoder
    world_model: WorldModel
    actor_critic: ActorCritic
    average: AveragedModel | None = None
    """a moving average of the actor-critic's weights (--policy-average-decay), updated by the trainer"""

    def modules(self) -> dict:
        """The trained modules (the average is not trained: it follows the actor-critic)."""
        return {"autoencoder": self.autoencoder, "world_model": self.world_model, "actor_critic": self.actor_critic}

    def acting(self) -> "Agent":
        """The agent that plays: its actor-critic holds the averaged weights where the run keeps an average."""
        return replace(self, actor_critic=self.average.module) if self.average is not None else self


def build_agent(cfg: Config, num_actions: int, device="cpu") -> Agent:
    autoencoder = Autoencoder(cfg.autoencoder)
    latent = autoencoder.latent_shape
    world_model = WorldModel(cfg.world_model, cfg.dit, latent, num_actions)
    actor_critic = ActorCritic(cfg.actor_critic, latent, cfg.world_model.context, num_actions).to(device)
    decay = cfg.train.policy_average_decay
    average = AveragedModel(actor_critic, multi_avg_fn=get_ema_multi_avg_fn(decay)) if decay else None
    return Agent(cfg, num_actions, autoencoder.to(device), world_model.to(device), actor_critic, average)


def load_agent(run_or_file, device="cpu", payload: dict | None = None, average: bool = True) -> Agent:
    """The agent of a checkpoint (read here unless its `payload` is given), in eval mode, with the payload
    kept in `.payload`; it acts with the run's averaged weights where the run kept an average, unless
    `average` is false."""
    payload = payload or load_checkpoint(run_or_file)
    cfg = config_from_dict(payload["config"])
    agent = build_agent(cfg, payload["num_actions"], device)
    load_modules(agent, payload, str(run_or_file))
    agent = agent.acting() if average else agent
    for module in agent.modules().values():
        module.eval()
    agent.payload = payload
    return agent


def load_modules(agent: Agent, payload: dict, source: str) -> None:
    """Load state dicts, with a one-line error when the checkpoint belongs to another env or architecture."""
    check_same_env(payload, agent.config.env.spec, agent.num_actions, source)
    for name, module in agent.modules().items():
        try:
            module.load_state_dict(payload["state"][name])
        except (RuntimeError, KeyError) as err:
            raise DreamditError(f"checkpoint {source} has another {name} architecture than the config "
                                f"({str(err).splitlines()[0]})") from err
    if agent.average is not None and "policy_average" in payload["state"]:  # absent: the average starts now
        agent.average.load_state_dict(payload["state"]["policy_average"])


def agent_state(agent: Agent) -> dict:
    state = {name: module.state_dict() for name, module in agent.modules().items()}
    if agent.average is not None:
        state["policy_average"] = agent.average.state_dict()
    return {"config": asdict(agent.config), "num_actions": agent.num_actions, "state": state}


def training_state(agent: Agent, optimizers: dict, return_scale, counters: dict, rng) -> dict:
    """A training checkpoint: the agent and what a resumed run needs to go on as if never stopped."""
    payload = agent_state(agent)
    payload["state"]["optimizers"] = {name: optimizer.state_dict() for name, optimizer in optimizers.items()}
    payload["state"]["return_scale"] = return_scale.state_dict()
    payload["counters"] = counters
    payload["rng"] = {"torch": torch.get_rng_state(), "numpy": rng.bit_generator.state}
    return payload


def restore_training_state(payload: dict, agent: Agent, optimizers: dict, return_scale, counters: dict, rng,
                           source: str) -> None:
    """The inverse of training_state, into the trainer's objects."""
    load_modules(agent, payload, source)
    for name, optimizer in optimizers.items():
        optimizer.load_state_dict(payload["state"]["optimizers"][name])
    return_scale.load_state_dict(payload["state"]["return_scale"])
    counters.update(payload["counters"])
    torch.set_rng_state(payload["rng"]["torch"])
    rng.bit_generator.state = payload["rng"]["numpy"]
