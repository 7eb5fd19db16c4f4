"""The action screen (agent/screen.py): the Defend the Center smoke run's agent in the real game."""
import json
import math

import numpy as np
import pytest
import torch

from agent.acting import LatentActor
from agent.checkpoint import load_agent
from agent.evaluate import load_actor
from agent.options import parse_config
from agent.screen import ScreenActor, dreamed_reward
from conftest import run_cli
from envs import DreamditError, action_names, make_env


def play(actor, spec: str, decisions: int) -> list[int]:
    """The actions `actor` takes in `decisions` real decisions of one episode, sampling with a fixed generator."""
    env = make_env(spec, seed=0)
    obs, _ = env.reset(seed=0)
    generator, actions = torch.Generator().manual_seed(0), []
    for step in range(decisions):
        action = int(actor.act(obs[None], np.array([step == 0]), generator=generator)[0])
        actions.append(action)
        obs, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            break
    env.close()
    return actions


def test_screen_lets_the_action_act_only_where_the_dreamed_reward_passes(smoke_run_defend_center):
    agent = load_agent(smoke_run_defend_center)
    spec, C = agent.config.env.spec, agent.config.world_model.context
    attack = action_names(spec).index("ATTACK")
    policy = LatentActor(agent.autoencoder, agent.actor_critic, C, "cpu")
    with torch.no_grad():
        alone = play(policy, spec, 40)
        passing = play(ScreenActor(agent, attack, -math.inf, seed=0), spec, 40)
        blocking = ScreenActor(agent, attack, math.inf, seed=0)
        blocked = play(blocking, spec, 40)
    assert passing == alone  # every dreamed reward passes: the policy's own choices
    assert attack in alone[C - 1:], "the policy never shot: the test would not see the screen"
    assert attack not in blocked[C - 1:] and blocking.screened > 0  # once the window is real, no shot passes


def test_screen_asks_the_world_model_about_the_screened_action_alone(smoke_run_defend_center):
    agent = load_agent(smoke_run_defend_center)
    spec, C = agent.config.env.spec, agent.config.world_model.context
    attack = action_names(spec).index("ATTACK")
    screen = ScreenActor(agent, attack, 0.5, seed=0)
    with torch.no_grad():
        play(screen, spec, C)  # a window of C real frames, and C - 1 real actions
        windows, between = screen.history.repeat(2, 1, 1, 1, 1), screen.taken.repeat(2, 1)
        turn = 0 if attack else 1
        screen.screened = 0
        chosen = screen.revise(windows, between, torch.tensor([attack, turn]))
        reward = dreamed_reward(agent, windows[:1], between[:1], attack, seed=0)[0]
        logits = agent.actor_critic.policy_logits(windows[:1])[0]
    logits[attack] = -math.inf
    assert chosen[0] == (attack if reward > 0.5 else logits.argmax())
    assert chosen[1] == turn  # another action is not asked about
    assert screen.screened == int(reward <= 0.5)


def test_eval_command_screens_shots_in_the_real_game(smoke_run_defend_center, tmp_path):
    out = tmp_path / "eval.json"
    result = run_cli("eval", "--checkpoint", smoke_run_defend_center, "--episodes", 2, "--screen-action", "ATTACK",
                     "--json", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(json.loads(out.read_text())["returns"]) == 2


def test_eval_sets_or_clears_the_screen_of_a_run(smoke_run_defend_center):
    screened, _, _ = load_actor(smoke_run_defend_center, "cpu", 0, {"screen_action": "ATTACK", "screen_reward": 0.2})
    assert isinstance(screened, ScreenActor) and screened.threshold == 0.2
    assert screened.action == action_names(screened.agent.config.env.spec).index("ATTACK")
    alone, _, _ = load_actor(smoke_run_defend_center, "cpu", 0, {"screen_action": ""})
    assert type(alone) is LatentActor


def test_eval_command_refuses_an_action_the_env_does_not_have_in_one_line(smoke_run_defend_center, tmp_path):
    result = run_cli("eval", "--checkpoint", smoke_run_defend_center, "--episodes", 1, "--screen-action", "JUMP",
                     cwd=tmp_path)
    assert result.returncode == 2 and "TURN_LEFT, TURN_RIGHT, ATTACK" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_eval_command_refuses_screen_and_lookahead_together_in_one_line(smoke_run_defend_center, tmp_path):
    result = run_cli("eval", "--checkpoint", smoke_run_defend_center, "--episodes", 1, "--screen-action", "ATTACK",
                     "--lookahead-samples", 2, cwd=tmp_path)
    assert result.returncode == 2 and "give one of them" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_training_refuses_a_misspelt_screen_action_before_it_makes_a_run_directory(tmp_path):
    result = run_cli("--preset", "smoke", "--screen-action", "ATTAK", "--run-dir", tmp_path / "run", cwd=tmp_path)
    assert result.returncode == 2 and "--screen-action ATTAK is not an action of vizdoom:TakeCover" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "run").exists()


def test_a_model_free_run_refuses_the_screen():
    with pytest.raises(DreamditError, match="--algo ppo"):
        parse_config(["--algo", "ppo", "--screen-action", "ATTACK"])
