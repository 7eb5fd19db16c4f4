"""Building the agent's networks from a config, and reading them back from a checkpoint."""
from dataclasses import asdict, dataclass


from agent.actor_critic import ActorCritic
from agent.config import Config, config_from_dict
from envs.errors import DreamditError
from world_model.autoencoder import Autoencoder
from world_model.checkpoint import load_checkpoint
from world_model.model import WorldModel


@dataclass
class Agent:
    config: Config
    num_actions: int
    autoencoder: Autoencoder
    world_model: WorldModel
    actor_critic: ActorCritic

    def modules(self) -> dict:
        return {"autoencoder": self.autoencoder, "world_model": self.world_model, "actor_critic": self.actor_critic}


def build_agent(cfg: Config, num_actions: int, device="cpu") -> Agent:
    autoencoder = Autoencoder(cfg.autoencoder)
    latent = autoencoder.latent_shape
    world_model = WorldModel(cfg.world_model, cfg.dit, latent, num_actions)
    actor_critic = ActorCritic(cfg.actor_critic, latent, cfg.world_model.context, num_actions)
    return Agent(cfg, num_actions, autoencoder.to(device), world_model.to(device), actor_critic.to(device))


def load_agent(run_or_file, device="cpu", payload: dict | None = None) -> Agent:
    """The agent of a checkpoint (read here unless its `payload` is given), in eval mode, with the payload
    kept in `.payload`."""
    payload = payload or load_checkpoint(run_or_file)
    cfg = config_from_dict(payload["config"])
    agent = build_agent(cfg, payload["num_actions"], device)
    load_modules(agent, payload, str(run_or_file))
    for module in agent.modules().values():
        module.eval()
    agent.payload = payload
    return agent


def load_modules(agent: Agent, payload: dict, source: str) -> None:
    """Load state dicts, with a one-line error when the checkpoint belongs to another env or architecture."""
    saved = payload["config"]
    if saved["env"]["spec"] != agent.config.env.spec or payload["num_actions"] != agent.num_actions:
        raise DreamditError(f"checkpoint {source} is for {saved['env']['spec']} ({payload['num_actions']} actions), "
                            f"not {agent.config.env.spec} ({agent.num_actions} actions)")
    for name, module in agent.modules().items():
        try:
            module.load_state_dict(payload["state"][name])
        except (RuntimeError, KeyError) as err:
            raise DreamditError(f"checkpoint {source} has another {name} architecture than the config "
                                f"({str(err).splitlines()[0]})") from err


def agent_state(agent: Agent) -> dict:
    return {"config": asdict(agent.config), "num_actions": agent.num_actions,
            "state": {name: module.state_dict() for name, module in agent.modules().items()}}


