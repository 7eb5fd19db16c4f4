"""Real environments behind one factory, the vector-env collector and the episode store."""
from envs.errors import DreamditError, run_command
from envs.factory import action_names, action_repeat, list_env_specs, make_env
from envs.store import EpisodeStore
from envs.vector import EpisodeCollector, make_vector_env

__all__ = [
    "DreamditError",
    "EpisodeCollector",
    "EpisodeStore",
    "action_names",
    "action_repeat",
    "list_env_specs",
    "make_env",
    "make_vector_env",
    "run_command",
]
