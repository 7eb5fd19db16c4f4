"""Vector envs and the episode collector, on real ViZDoom and Atari envs."""
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from envs.errors import DreamditError
from envs.factory import make_env
from envs.store import EpisodeStore
from envs.vector import EpisodeCollector, make_vector_env


def run_until_episodes(collector: EpisodeCollector, episodes: int, rng: np.random.Generator, max_steps=2000):
    """Random actions until ``episodes`` real episodes ended.

    Returns the reported stats, the observations the collector marked as
    first frames, and the number of real transitions taken: every step but
    the reset steps, after which the collector marks a first frame.
    """
    finished, first_frames = [], [frame.copy() for frame in collector.obs[collector.is_first]]
    real_steps = 0
    for _ in range(max_steps):
        finished += collector.step(rng.integers(collector.vec.single_action_space.n, size=collector.vec.num_envs))
        first_frames += [frame.copy() for frame in collector.obs[collector.is_first]]
        real_steps += np.sum(~collector.is_first)
        if len(finished) >= episodes:
            return finished, first_frames, real_steps
    raise AssertionError(f"only {len(finished)} episodes ended in {max_steps} steps")


def test_collector_stores_exactly_the_real_transitions(tmp_path):
    vec = make_vector_env("vizdoom:Basic", 2, seed=0)
    store = EpisodeStore(tmp_path)
    collector = EpisodeCollector(vec, store)
    assert collector.obs.shape == (2, 3, 64, 64) and collector.obs.dtype == np.uint8
    assert collector.is_first.all()
    finished, first_frames, real_steps = run_until_episodes(collector, 6, np.random.default_rng(0))
    vec.close()

    assert len(store) == len(finished)
    stored = [store.episode(i) for i in range(len(store))]
    assert sorted(len(ep["actions"]) for ep in stored) == sorted(f["length"] for f in finished)
    assert sorted(ep["rewards"].sum() for ep in stored) == pytest.approx(sorted(f["return"] for f in finished))
    assert store.num_steps == sum(f["length"] for f in finished)
    assert collector.num_steps == real_steps > store.num_steps  # the running episodes are not stored yet
    first = {frame.tobytes() for frame in first_frames}
    for ep in stored:
        assert len(ep["frames"]) == len(ep["actions"]) + 1
        assert ep["frames"][0].tobytes() in first  # each episode starts at a reset observation
        assert not any(frame.tobytes() in first for frame in ep["frames"][1:])  # and holds no other
    # Basic ends on a kill (a real end) or at its 300-tic limit (75 steps, a truncation).
    assert [ep["terminated"] for ep in stored] == [len(ep["actions"]) < 75 for ep in stored]
    assert {ep["terminated"] for ep in stored} == {True, False}  # this seed has both kinds


def test_episode_stats_without_a_store():
    vec = make_vector_env("vizdoom:Basic", 2, seed=1)
    collector = EpisodeCollector(vec, store=None)
    finished, _, real_steps = run_until_episodes(collector, 2, np.random.default_rng(1))
    vec.close()
    assert collector.num_steps == real_steps
    assert all(1 <= f["length"] <= 75 for f in finished)


def test_same_seed_same_episodes(tmp_path):
    stores = []
    for run in range(2):
        vec = make_vector_env("vizdoom:Basic", 2, seed=5)
        stores.append(EpisodeStore(tmp_path / str(run)))
        run_until_episodes(EpisodeCollector(vec, stores[-1]), 2, np.random.default_rng(5))
        vec.close()
    assert len(stores[0]) == len(stores[1])
    for i in range(len(stores[0])):
        np.testing.assert_array_equal(stores[0].episode(i)["frames"], stores[1].episode(i)["frames"])


def test_atari_life_losses_end_stored_episodes_but_not_reported_games(tmp_path):
    vec = make_vector_env("atari:Breakout", 1, seed=0, train=True)
    store = EpisodeStore(tmp_path)
    finished, _, _ = run_until_episodes(EpisodeCollector(vec, store), 1, np.random.default_rng(0))
    vec.close()
    lives = [store.episode(i) for i in range(len(store))]
    assert len(finished) == 1 and len(lives) == 5  # one game of five lives
    assert all(life["terminated"] for life in lives)
    assert finished[0]["return"] == sum(life["rewards"].sum() for life in lives)


def test_asynchronous_atari_vector_env():
    vec = make_vector_env("atari:Pong", 2, seed=0, asynchronous=True)
    collector = EpisodeCollector(vec, store=None)
    for _ in range(5):
        collector.step(np.zeros(2, dtype=np.int64))
    vec.close()
    assert collector.obs.shape == (2, 3, 64, 64) and collector.obs.dtype == np.uint8
    assert collector.num_steps == 10 and not collector.is_first.any()


def test_unknown_spec_is_a_user_error():
    with pytest.raises(DreamditError):
        make_vector_env("vizdoom:NoSuchScenario", 2, seed=0)


def test_collector_refuses_same_step_autoreset():
    vec = SyncVectorEnv([lambda: make_env("vizdoom:Basic", seed=0)], autoreset_mode=AutoresetMode.SAME_STEP)
    with pytest.raises(ValueError, match="next-step"):
        EpisodeCollector(vec, store=None)
    vec.close()
