"""The PPO baseline: its math on tiny tensors, its rollouts on a real env, and `--algo ppo` end to end."""
import json
import shutil

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tqdm import tqdm

from agent.bench_manifest import RUN_KEYS
from agent.options import parse_config
from agent.ppo import PPOTrainer
from agent.ppo_network import PPOConfig, PPONetwork, gae, ppo_loss
from conftest import run_cli
from world_model.autoencoder import AutoencoderConfig
from world_model.checkpoint import checkpoint_sha256

RESULT_KEYS = set(RUN_KEYS) | {"checkpoint_sha256"}  # what the results manifest reads, and the final checkpoint


@pytest.fixture(scope="module")
def ppo_run(tmp_path_factory):
    """One real `--algo ppo --preset smoke` run on ViZDoom Basic."""
    work = tmp_path_factory.mktemp("ppo")
    result = run_cli("--algo", "ppo", "--preset", "smoke", "--env", "vizdoom:Basic", "--run-dir", work / "run",
                     "--seed", 2, cwd=work)
    assert result.returncode == 0, result.stderr[-3000:]
    return work / "run"


def test_gae_by_hand():
    # Three envs side by side (columns): no end; terminated at t=1; truncated at t=1. gamma = lambda = 0.5.
    rewards = torch.tensor([[1.0, 1, 1], [2, 2, 2], [3, 0, 0]])
    values = torch.tensor([[0.5, 0.5, 0.5], [1, 1, 1], [2, 2, 2]])
    terminated = torch.tensor([[0.0, 0, 0], [0, 1, 0], [0, 0, 0]])
    ended = torch.tensor([[0.0, 0, 0], [0, 1, 1], [0, 0, 0]])
    advantages = gae(rewards, values, torch.tensor([4.0, 4, 4]), terminated, ended, gamma=0.5, lam=0.5)
    # no end: A2 = 3 + 0.5*4 - 2 = 3; A1 = (2 + 0.5*2 - 1) + 0.25*3 = 2.75; A0 = (1 + 0.5 - 0.5) + 0.25*2.75
    assert advantages[:, 0].tolist() == [1.6875, 2.75, 3.0]
    # terminated: A1 = 2 - 1 (no bootstrap, no recursion); A0 = 1 + 0.25*1
    assert advantages[:2, 1].tolist() == [1.25, 1.0]
    # truncated: A1 = 2 + 0.5*V(last frame, values[2]) - 1 = 2, no recursion; A0 = 1 + 0.25*2
    assert advantages[:2, 2].tolist() == [1.5, 2.0]


def test_loss_at_the_rollout_policy_and_gradient_reaches_the_encoder():
    cfg = PPOConfig(hidden_size=16)
    network = PPONetwork(cfg, AutoencoderConfig(width=8), context=2, num_actions=3)
    windows = torch.randint(0, 256, (6, 2, 3, 64, 64), dtype=torch.uint8)
    with torch.no_grad():
        logits, values = network(windows)
    actions = torch.distributions.Categorical(logits=logits).sample()
    batch = {"windows": windows, "actions": actions, "values": values, "returns": values + 1,
             "logprobs": torch.distributions.Categorical(logits=logits).log_prob(actions),
             "advantages": torch.randn(6)}
    loss, logs = ppo_loss(network, batch, cfg)
    assert logs["approx_kl"] == pytest.approx(0, abs=1e-6) and logs["clipfrac"] == 0
    assert logs["policy_loss"] == pytest.approx(0, abs=1e-6)  # ratio 1 on normalised advantages
    assert logs["value_loss"] == pytest.approx(0.5)  # every return is its value + 1
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in network.encoder.parameters())


@pytest.mark.parametrize("repeat", [1, 3])
def test_rollout_skips_the_reset_steps_of_next_step_autoreset(tmp_path, repeat):
    cfg, _ = parse_config(["--algo", "ppo", "--preset", "smoke", "--env", f"vizdoom:Basic,repeat={repeat}",
                           "--run-dir", str(tmp_path / "run"), "--ppo.num-steps", "200"])
    trainer = PPOTrainer(cfg)
    trainer.bar = tqdm(disable=True)
    steps, _ = trainer.collect()
    trainer.vec.close()
    b = {key: value[:steps] for key, value in trainer.buffer.items()}
    assert b["ended"].sum() > 0  # Basic ends within 75 steps: the rollout crossed episode ends
    assert torch.equal(b["valid"][1:], 1 - b["ended"][:-1])  # exactly the step after an end is not learned from
    assert (b["rewards"][b["valid"] == 0] == 0).all()
    assert trainer.counters["env_steps"] == repeat * int(b["valid"].sum())  # the budget counts game steps


def test_ppo_smoke_run_writes_the_same_outputs_as_dreamdit(ppo_run):
    results = json.loads((ppo_run / "results.json").read_text())
    assert set(results) == RESULT_KEYS and results["algo"] == "ppo"
    assert results["checkpoint_sha256"] == checkpoint_sha256(ppo_run)
    assert 400 <= results["env_steps"] < 400 + 2  # the budget, overshot by less than one step of the 2 envs
    assert len(results["final_eval"]["returns"]) == 2
    assert json.loads((ppo_run / "config.json").read_text())["ppo"]["num_envs"] == 2
    payload = torch.load(ppo_run / "checkpoint.pt", weights_only=True)
    assert payload["config"]["train"]["algo"] == "ppo" and payload["counters"]["updates"] > 0
    events = EventAccumulator(str(ppo_run))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"charts/episodic_return", "charts/episodic_length", "charts/SPS", "charts/eval_return",
            "losses/policy_loss", "losses/value_loss", "losses/entropy", "losses/approx_kl"} <= tags


def test_eval_command_on_the_ppo_run(ppo_run, tmp_path):
    out = tmp_path / "eval.json"
    result = run_cli("eval", "--checkpoint", ppo_run, "--episodes", 2, "--json", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(out.read_text())
    assert figures["env"] == "vizdoom:Basic" and len(figures["returns"]) == 2


def test_eval_command_refuses_to_look_ahead_without_a_world_model(ppo_run, tmp_path):
    result = run_cli("eval", "--checkpoint", ppo_run, "--episodes", 1, "--lookahead-samples", 2, cwd=tmp_path)
    assert result.returncode == 2 and "no world model" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_eval_command_refuses_to_screen_without_a_world_model(ppo_run, tmp_path):
    result = run_cli("eval", "--checkpoint", ppo_run, "--episodes", 1, "--screen-action", "ATTACK", cwd=tmp_path)
    assert result.returncode == 2 and "no world model" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_resume_continues_a_ppo_run(ppo_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(ppo_run, run)
    before = torch.load(run / "checkpoint.pt", weights_only=True)["counters"]
    result = run_cli("--algo", "ppo", "--preset", "smoke", "--env", "vizdoom:Basic", "--run-dir", run, "--seed", 2,
                     "--total-steps", before["env_steps"] + 50, "--resume", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    after = torch.load(run / "checkpoint.pt", weights_only=True)["counters"]
    assert after["updates"] > before["updates"] and 0 <= after["env_steps"] - (before["env_steps"] + 50) < 2
