"""Decision-time lookahead (agent/lookahead.py): the shared smoke run's agent in the real game."""
import json

import numpy as np
import torch

from agent.checkpoint import load_agent
from agent.lookahead import LookaheadActor
from conftest import run_cli
from envs import make_env


def test_lookahead_waits_for_a_real_window_then_takes_the_action_of_best_dreamed_return(smoke_run):
    agent = load_agent(smoke_run)
    C = agent.config.world_model.context
    actor = LookaheadActor(agent, horizon=2, samples=3, seed=0)
    env = make_env(agent.config.env.spec, seed=0)
    obs, _ = env.reset(seed=0)
    with torch.no_grad():
        for step in range(C + 2):
            taken, seeds = None if actor.taken is None else actor.taken.clone(), actor.seeds.get_state()
            action = actor.act(obs[None], np.array([step == 0]))
            assert actor.decisions == max(0, step - C + 2)  # the first C - 1 decisions are the policy's
            if actor.decisions:
                actor.seeds.set_state(seeds)  # the same dreams again
                assert action[0] == actor.scores(actor.history, taken).argmax(1)[0]
            obs, *_ = env.step(int(action[0]))
    env.close()


def test_eval_command_looks_ahead_in_the_real_game(smoke_run, tmp_path):
    out = tmp_path / "eval.json"
    result = run_cli("eval", "--checkpoint", smoke_run, "--episodes", 2, "--lookahead-samples", 2, "--json", out,
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(json.loads(out.read_text())["returns"]) == 2


def test_eval_command_refuses_a_lookahead_past_the_world_models_frames_in_one_line(smoke_run, tmp_path):
    result = run_cli("eval", "--checkpoint", smoke_run, "--episodes", 1, "--lookahead-samples", 2,
                     "--lookahead-horizon", 99, cwd=tmp_path)
    assert result.returncode == 2 and "--lookahead-horizon" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
