"""Exploration while collecting data: random actions held for a while, in the explorer and in the real loop."""
import numpy as np
import torch

import train
from agent.acting import HoldExplorer, RandomActor
from agent.options import parse_config
from agent.stats import mean_run_length

OBS = np.zeros((8, 3, 64, 64), np.uint8)
NOT_FIRST = np.zeros(8, bool)


def test_without_holds_the_explorer_passes_the_actor_through():
    torch.manual_seed(0)
    expected = [RandomActor(5).act(OBS, NOT_FIRST) for _ in range(20)]
    torch.manual_seed(0)
    explorer = HoldExplorer(RandomActor(5), 5, prob=0.0, mean_steps=8, seed=0)
    assert all(np.array_equal(explorer.act(OBS, NOT_FIRST), e) for e in expected)


def test_holds_last_the_mean_number_of_steps():
    # Many actions, so two holds in a row almost never pick the same one and merge.
    explorer = HoldExplorer(RandomActor(1000), 1000, prob=1.0, mean_steps=8, seed=0)
    actions = np.stack([explorer.act(OBS, NOT_FIRST) for _ in range(2000)])  # (steps, envs)
    runs = [mean_run_length(actions[:, env]) for env in range(8)]
    assert 7 < np.mean(runs) < 9


def test_a_new_episode_ends_the_hold():
    explorer = HoldExplorer(RandomActor(1000), 1000, prob=1.0, mean_steps=1e9, seed=0)
    first = explorer.act(OBS, NOT_FIRST)
    assert np.array_equal(explorer.act(OBS, NOT_FIRST), first)
    restarted = np.arange(8) < 3
    after = explorer.act(OBS, restarted)
    assert np.array_equal(after[3:], first[3:]) and np.all(after[:3] != first[:3])


def test_warm_up_holds_its_random_actions_in_the_real_game(tmp_path):
    runs = {}
    for hold in (1, 8):
        cfg, _ = parse_config(["--preset", "smoke", "--run-dir", str(tmp_path / f"hold{hold}"),
                               "--explore-hold-steps", str(hold), "--warmup-steps", "600"])
        trainer = train.Trainer(cfg)
        trainer.bar = train.tqdm(disable=True)
        trainer.collect(cfg.train.warmup_steps, random=True)
        trainer.vec.close()
        episodes = [trainer.store.episode(i)["actions"] for i in range(len(trainer.store))]
        runs[hold] = np.mean([mean_run_length(a) for a in episodes if len(a) > 20])
    # Take Cover has two actions: fresh uniform choices repeat for 2 steps on average; 8-step holds
    # (merging when two in a row pick the same action) last longer still.
    assert runs[1] < 2.6 and runs[8] > 6
