"""The real training loop end to end on ViZDoom with the smoke preset, and the commands around it."""
import hashlib
import json
import shutil
from dataclasses import asdict, fields

import numpy as np
import pytest
import torch

import train
from agent.acting import LatentActor
from agent.cli import COMMANDS
from agent.checkpoint import build_agent, load_agent
from agent.config import PRESETS, Config
from agent.options import parse_config
from agent.updates import annealed_lr
from conftest import run_cli
from envs import make_env
from world_model.checkpoint import load_checkpoint
from world_model.sampler import Dream


def test_smoke_run_writes_checkpoint_events_and_results(smoke_run):
    results = json.loads((smoke_run / "results.json").read_text())
    assert results["env_steps"] >= 400 and results["final_eval"]["episodes"] == 2
    assert len(results["final_eval"]["returns"]) == 2 and results["peak_memory_gb"] > 0
    assert (smoke_run / "checkpoint.pt").is_file() and json.loads((smoke_run / "config.json").read_text())
    assert list(smoke_run.glob("events.out.tfevents.*"))
    assert len(list((smoke_run / "episodes").glob("episode_*.npz"))) > 0
    payload = torch.load(smoke_run / "checkpoint.pt", weights_only=True)
    assert payload["counters"]["policy_updates"] > 0


def test_eval_command_on_the_smoke_run_acts_as_the_run_evaluates_unless_told(smoke_run, tmp_path):
    out = tmp_path / "eval.json"
    result = run_cli("eval", "--checkpoint", smoke_run, "--episodes", 3, "--json", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(out.read_text())
    assert figures["command"] == f"dreamdit eval --checkpoint {smoke_run} --episodes 3 --json {out}"
    assert len(figures["returns"]) == 3 and figures["mean"] == pytest.approx(np.mean(figures["returns"]))
    results = json.loads((smoke_run / "results.json").read_text())
    assert figures["greedy"] and results["final_eval"]["greedy"]
    # It names the run it measured as the run's results.json does: the manifest pairs the two files by these.
    assert (figures["trained_seed"], figures["trained_env_steps"]) == (3, results["env_steps"])
    assert figures["checkpoint_sha256"] == results["checkpoint_sha256"]
    assert results["checkpoint_sha256"] == hashlib.sha256((smoke_run / "checkpoint.pt").read_bytes()).hexdigest()
    result = run_cli("eval", "--checkpoint", smoke_run, "--episodes", 1, "--no-greedy", "--json", out, cwd=tmp_path)
    assert result.returncode == 0 and not json.loads(out.read_text())["greedy"], result.stderr[-2000:]


def test_greedy_acting_takes_the_most_likely_action_where_sampling_takes_both():
    cfg, _ = parse_config(["--preset", "smoke"])
    agent = build_agent(cfg, num_actions=2)
    with torch.no_grad():  # action 1 slightly the more likely everywhere
        agent.actor_critic.actor[-1].bias.copy_(torch.tensor([0.0, 0.2]))
    actor = LatentActor(agent.autoencoder, agent.actor_critic, cfg.world_model.context, "cpu")
    frames = np.random.default_rng(0).integers(0, 256, (64, 3, 64, 64), dtype=np.uint8)
    first = np.ones(64, bool)
    assert (actor.act(frames, first, greedy=True) == 1).all()
    sampled = actor.act(frames, first, generator=torch.Generator().manual_seed(0))
    assert 0 < sampled.sum() < 64


def test_eval_command_plays_the_random_baseline_without_a_checkpoint(tmp_path):
    out = tmp_path / "random.json"
    result = run_cli("eval", "--random", "--env", "vizdoom:TakeCover", "--episodes", 3, "--json", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(out.read_text())
    assert figures["env"] == "vizdoom:TakeCover" and len(figures["returns"]) == 3 and min(figures["returns"]) > 0
    for args in (["--random"], ["--env", "vizdoom:TakeCover"], ["--random", "--env", "vizdoom:Nowhere"]):
        result = run_cli("eval", *args, "--episodes", 1, cwd=tmp_path)
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_fidelity_command_on_the_smoke_run(smoke_run, tmp_path):
    out, plot = tmp_path / "fidelity.json", tmp_path / "fidelity.png"
    result = run_cli("fidelity", "--checkpoint", smoke_run, "--horizon", 6, "--episodes", 2, "--segments", 16,
                     "--json", out, "--plot", plot, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(out.read_text())
    modes = figures["modes"]
    assert set(modes) == {"whole_trajectory", "autoregressive", "repeat_last_frame"}
    assert all(len(m["latent_mse"]) == 6 for m in modes.values())
    assert modes["autoregressive"]["network_evals_per_transition"] == 6 * modes["whole_trajectory"][
        "network_evals_per_transition"]
    heads = figures["heads_on_real_frames"]  # the heads read on the real frames, beside the dreams
    assert len(heads["termination_accuracy"]) == 6 and 0 <= heads["end_prob_elsewhere"] <= 1
    assert heads["real_ends"] == modes["whole_trajectory"]["real_ends"]
    held = figures["action_sensitivity"]  # one entry per action of Take Cover, each a probability
    assert len(held["end_within_horizon_elsewhere"]) == 2 and 0 <= held["spread_between_actions"] <= 1
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_budgets_count_game_steps_whatever_the_action_repeat(tmp_path):
    cfg, _ = parse_config(["--preset", "smoke", "--run-dir", str(tmp_path / "run"),
                           "--env", "vizdoom:TakeCover,repeat=4"])
    trainer = train.Trainer(cfg)
    trainer.bar = train.tqdm(disable=True)
    trainer.collect(200, random=True)
    trainer.vec.close()
    decisions = trainer.collector.num_steps
    assert trainer.counters["env_steps"] == 4 * decisions  # a quarter as many decisions as game steps
    assert 200 <= 4 * decisions < 200 + 4 * cfg.env.num_envs


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_plays_a_real_env(preset):
    cfg, _ = parse_config(["--preset", preset])
    env = make_env(cfg.env.spec)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (3, 64, 64) and env.action_space.n >= 2
    env.close()


@pytest.mark.parametrize("minibatches", [1, 2])
def test_policy_updates_see_only_dreams(tmp_path, monkeypatch, minibatches):
    cfg, _ = parse_config(["--preset", "smoke", "--run-dir", str(tmp_path / "run"), "--env", "vizdoom:Basic",
                           "--dream-minibatches", str(minibatches)])
    trainer = train.Trainer(cfg)
    trainer.bar = train.tqdm(disable=True)
    trainer.collect(cfg.train.warmup_steps, random=True)
    trainer.train_world_model(1)
    dreams, seen = [], []
    real_dream = train.dream
    monkeypatch.setattr(train, "dream", lambda *a, **k: dreams.append(real_dream(*a, **k)) or dreams[-1])
    real_loss = train.imagination_loss
    monkeypatch.setattr(train, "imagination_loss", lambda ac, d, *a: seen.append(d) or real_loss(ac, d, *a))
    before = [p.clone() for p in trainer.agent.world_model.parameters()]
    trainer.train_policy_in_dreams(3)
    trainer.vec.close()
    assert len(dreams) == 3 and len(seen) == 3 * minibatches and all(isinstance(d, Dream) for d in seen)
    for i, whole in enumerate(dreams):  # the updates consumed exactly what the sampler produced, shared out
        parts = seen[i * minibatches:(i + 1) * minibatches]
        if minibatches == 1:
            assert parts[0] is whole
        for name in ("latents", "actions", "rewards", "end_probs"):
            assert torch.equal(torch.cat([getattr(part, name) for part in parts]), getattr(whole, name))
    assert all(torch.equal(b, p) for b, p in zip(before, trainer.agent.world_model.parameters()))
    assert trainer.counters["policy_updates"] == 3 * minibatches


@pytest.mark.parametrize("args, message", [
    (["--env", "vizdoom:Nope"], "unknown env spec"),
    (["--preset", "smoky"], "did you mean smoke"),
    (["--total-step", "10"], "did you mean --total-steps"),
    (["--total-steps", "-5"], "must be at least 1"),
    (["--horizon", "0"], "must be at least 1"),
    (["--context", "30"], "exceeds"),
    (["--seed", "abc"], "takes a int"),
    (["--world-model-end-fraction", "1.5"], "between 0 and 1"),
    (["--explore-hold-steps", "0.5"], "must be at least 1"),
    (["--dream-minibatches", "0"], "must be at least 1"),
    (["--dream-minibatches", "5"], "exceeds --dream-batch"),
    (["--actor-horizon", "5"], "--actor-horizon must be between 0"),
])
def test_bad_input_gives_one_line_and_status_2(tmp_path, args, message):
    result = run_cli("--preset", "smoke", "--run-dir", tmp_path / "run", *args, cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_help_lists_every_option_by_a_name_that_parses_back_to_its_default(tmp_path):
    result = run_cli("--help", cwd=tmp_path, timeout=120)
    assert result.returncode == 0 and not list(tmp_path.iterdir()), result.stderr  # nothing trained, nothing written
    for command in COMMANDS:
        assert f"\n  {command} " in result.stdout
    shown = [line.strip().split(" ", 1) for line in result.stdout.splitlines() if line.startswith("  --")]
    assert len(shown) == len([f for s in fields(Config()) for f in fields(getattr(Config(), s.name))])
    argv = [item for name, value in shown for item in (name, json.loads(value))]
    cfg, _ = parse_config([str(item).lower() if isinstance(item, bool) else str(item) for item in argv])
    assert asdict(cfg) == asdict(Config())


def test_truncated_checkpoint_gives_one_line_error(smoke_run, tmp_path):
    broken = tmp_path / "broken.pt"
    data = (smoke_run / "checkpoint.pt").read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    result = run_cli("eval", "--checkpoint", broken, "--episodes", 1, cwd=tmp_path)
    assert result.returncode == 2 and "corrupt or truncated" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_continuing_a_run_never_changes_the_autoencoder_its_world_model_learnt_on(smoke_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(smoke_run, run)
    before = load_checkpoint(run)["state"]["autoencoder"]
    # More autoencoder updates than the run made, and more steps: only the steps may be added.
    result = run_cli("--preset", "smoke", "--run-dir", run, "--seed", 3, "--resume", "--total-steps", 500,
                     "--autoencoder-updates", 50, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    after = load_checkpoint(run)
    assert after["counters"]["env_steps"] >= 500
    assert all(torch.equal(before[name], after["state"]["autoencoder"][name]) for name in before)


def test_an_existing_run_is_only_continued_with_resume(smoke_run, tmp_path):
    result = run_cli("--preset", "smoke", "--run-dir", smoke_run, cwd=tmp_path)
    assert result.returncode == 2 and "--resume" in result.stderr


def test_policy_average_leaves_training_as_it_was_and_is_what_evaluation_plays(smoke_run, tmp_path):
    run = tmp_path / "run"
    result = run_cli("--preset", "smoke", "--run-dir", run, "--seed", 3, "--policy-average-decay", 0.5, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    plain, averaged = load_checkpoint(smoke_run)["state"], load_checkpoint(run)["state"]
    # Keeping an average draws no random numbers: the same seed trains the very same networks.
    for name in ("autoencoder", "world_model", "actor_critic"):
        assert all(torch.equal(plain[name][key], averaged[name][key]) for key in plain[name])
    average = averaged["policy_average"]
    assert average["n_averaged"] == load_checkpoint(run)["counters"]["policy_updates"]
    latest = averaged["actor_critic"]["actor.0.weight"]
    assert not torch.equal(average["module.actor.0.weight"], latest)
    assert torch.equal(load_agent(run).actor_critic.state_dict()["actor.0.weight"], average["module.actor.0.weight"])
    assert torch.equal(load_agent(run, average=False).actor_critic.state_dict()["actor.0.weight"], latest)
    result = run_cli("eval", "--checkpoint", run, "--episodes", 1, "--latest-weights", cwd=tmp_path)
    assert result.returncode == 0 and "return" in result.stdout, result.stderr[-3000:]


def test_annealed_policy_learning_rate_falls_to_zero_over_the_run_and_leaves_the_world_model_alone(tmp_path):
    run = tmp_path / "run"
    result = run_cli("--preset", "smoke", "--run-dir", run, "--actor-critic.anneal-lr", "true", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    cfg, optimizers = Config(), load_checkpoint(run)["state"]["optimizers"]
    # The smoke preset's last iteration starts at game step 300 of 400: a quarter of the learning rate is left.
    assert optimizers["actor_critic"]["param_groups"][0]["lr"] == pytest.approx(cfg.actor_critic.lr / 4)
    assert optimizers["world_model"]["param_groups"][0]["lr"] == cfg.train.world_model_lr
    assert annealed_lr(1.0, 0, 400) == 1.0 and annealed_lr(1.0, 500, 400) == 0.0
