"""The episode store: disk round trip, crash safety, segment sampling."""
import os
import tempfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envs.errors import DreamditError
from envs.store import EpisodeStore

FRAME = (3, 64, 64)


def labelled_episode(steps: int, episode_id: int = 0, frame=FRAME) -> tuple:
    """An episode whose frames, actions and rewards encode (episode id, time)."""
    codes = episode_id * 50 + np.arange(steps + 1)  # one uint8 value per frame
    frames = np.broadcast_to(codes.astype(np.uint8).reshape(-1, 1, 1, 1), (steps + 1,) + frame).copy()
    actions = 1000 * episode_id + np.arange(steps) + 1  # never 0, so padding is visible
    rewards = (actions + 0.5).astype(np.float32)
    return frames, actions, rewards


def random_episode(rng: np.random.Generator, steps: int) -> tuple:
    frames = rng.integers(0, 256, size=(steps + 1,) + FRAME, dtype=np.uint8)
    return frames, rng.integers(0, 6, size=steps), rng.normal(size=steps).astype(np.float32)


def test_round_trip_through_disk(tmp_path):
    rng = np.random.default_rng(0)
    store = EpisodeStore(tmp_path / "episodes")
    written = [random_episode(rng, steps) for steps in (1, 7, 30)]
    paths = [store.add_episode(*ep, terminated=i == 1) for i, ep in enumerate(written)]
    assert [p.name for p in paths] == ["episode_000000.npz", "episode_000001.npz", "episode_000002.npz"]

    reopened = EpisodeStore(tmp_path / "episodes")
    assert len(reopened) == 3 and reopened.num_steps == 38
    assert reopened.nbytes == store.nbytes == sum(f.nbytes + 12 * len(a) for f, a, _ in written)
    for i, (frames, actions, rewards) in enumerate(written):
        ep = reopened.episode(i)
        np.testing.assert_array_equal(ep["frames"], frames)
        np.testing.assert_array_equal(ep["actions"], actions)
        np.testing.assert_array_equal(ep["rewards"], rewards)
        assert ep["actions"].dtype == np.int64 and ep["rewards"].dtype == np.float32
        assert ep["terminated"] is (i == 1)


def test_segment_shapes_and_dtypes(tmp_path):
    store = EpisodeStore(tmp_path)
    store.add_episode(*labelled_episode(10), terminated=True)
    batch = store.sample_segments(5, 4, np.random.default_rng(0))
    expected = dict(frames=((5, 4) + FRAME, np.uint8), actions=((5, 4), np.int64), rewards=((5, 4), np.float32),
                    terminated=((5, 4), np.bool_), mask=((5, 4), np.bool_), episode=((5,), np.int64),
                    frame_index=((5, 4), np.int64))
    assert {k: (v.shape, v.dtype) for k, v in batch.items()} == expected

    without_frames = store.sample_segments(5, 4, np.random.default_rng(0), include_frames=False)
    assert "frames" not in without_frames
    for key, value in without_frames.items():
        np.testing.assert_array_equal(value, batch[key])


def check_segments(batch: dict, episodes: dict[int, tuple[int, bool]]) -> None:
    """Every row is one episode read from its start frame on, padded past its end.

    episodes maps episode id (its index in the store) -> (number of
    transitions, terminated flag).
    """
    keys = ("frames", "actions", "rewards", "terminated", "mask", "episode", "frame_index")
    for frames, actions, rewards, terminated, mask, episode, frame_index in zip(*(batch[k] for k in keys)):
        episode_id, start = divmod(int(frames[0].flat[0]), 50)
        steps, real_end = episodes[episode_id]
        pos = start + np.arange(len(mask))
        assert start < steps  # a segment starts at a transition, never at the last frame
        assert episode == episode_id
        np.testing.assert_array_equal(frame_index, np.minimum(pos, steps))
        expected_frame = episode_id * 50 + np.minimum(pos, steps)
        assert np.all(frames == expected_frame.reshape(-1, 1, 1, 1).astype(np.uint8))
        np.testing.assert_array_equal(mask, pos <= steps)
        expected_action = np.where(pos < steps, 1000 * episode_id + pos + 1, 0)
        np.testing.assert_array_equal(actions, expected_action)
        np.testing.assert_array_equal(rewards, np.where(pos < steps, expected_action + 0.5, 0.0))
        np.testing.assert_array_equal(terminated, (pos == steps - 1) & real_end)


def test_segments_follow_the_episode_and_pad_past_its_end(tmp_path):
    store = EpisodeStore(tmp_path)
    episodes = {0: (3, True), 1: (5, False), 2: (1, True)}
    for episode_id, (steps, real_end) in episodes.items():
        store.add_episode(*labelled_episode(steps, episode_id), terminated=real_end)
    batch = store.sample_segments(200, 8, np.random.default_rng(1))
    check_segments(batch, episodes)
    assert batch["terminated"].sum() > 0 and (~batch["mask"]).sum() > 0  # both cases were exercised


def test_every_transition_is_equally_likely(tmp_path):
    store = EpisodeStore(tmp_path)
    store.add_episode(*labelled_episode(1, 0, frame=(1, 1, 1)), terminated=True)
    store.add_episode(*labelled_episode(9, 1, frame=(1, 1, 1)), terminated=False)
    n = 20_000
    first = store.sample_segments(n, 1, np.random.default_rng(2))["frames"][:, 0].ravel()
    counts = np.bincount(first, minlength=60)[[0] + list(range(50, 59))]  # the 10 (episode, start) pairs
    assert counts.sum() == n
    assert np.all(np.abs(counts / n - 0.1) < 0.015), counts


def test_sampling_can_be_restricted_to_some_episodes(tmp_path):
    store = EpisodeStore(tmp_path)
    for episode_id in range(3):
        store.add_episode(*labelled_episode(4, episode_id, frame=(1, 1, 1)), terminated=False)
    frames = store.sample_segments(100, 3, np.random.default_rng(3), episodes=[0, 2])["frames"]
    assert set(np.unique(frames[:, 0] // 50)) == {0, 2}


def test_a_fraction_of_segments_can_be_drawn_to_hold_a_real_end_where_asked(tmp_path):
    store = EpisodeStore(tmp_path)
    episodes = {0: (30, True), 1: (40, False), 2: (25, True)}
    for episode_id, (steps, real_end) in episodes.items():
        store.add_episode(*labelled_episode(steps, episode_id), terminated=real_end)
    batch = store.sample_segments(100, 8, np.random.default_rng(4), end_fraction=0.25, end_at=range(3, 7))
    check_segments(batch, episodes)
    ending = batch["terminated"][:25]
    assert ending.any(1).all() and not ending[:, :3].any() and not ending[:, 7:].any()
    # The other rows stay uniform: with ends one transition in about 30, few of them hold one.
    assert batch["terminated"][25:].any(1).mean() < 0.5
    only_unended = store.sample_segments(10, 8, np.random.default_rng(4), episodes=[1], end_fraction=0.5)
    check_segments(only_unended, episodes)  # nothing to draw ends from: every row uniform
    short = EpisodeStore(tmp_path / "short")
    short.add_episode(*labelled_episode(2), terminated=True)
    batch = short.sample_segments(4, 8, np.random.default_rng(5), end_fraction=1.0, end_at=range(3, 7))
    check_segments(batch, {0: (2, True)})  # too short for the steps asked: read from its start, its end earlier
    assert batch["terminated"][:, 1].all()
    with pytest.raises(ValueError, match="between 0 and 1"):
        store.sample_segments(4, 8, np.random.default_rng(5), end_fraction=1.5)


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 12), min_size=1, max_size=4),
    flags=st.lists(st.booleans(), min_size=4, max_size=4),
    segment_length=st.integers(1, 16),
    seed=st.integers(0, 2**32 - 1),
)
def test_no_segment_mixes_two_episodes(lengths, flags, segment_length, seed):
    episodes = {i: (steps, flags[i]) for i, steps in enumerate(lengths)}
    with tempfile.TemporaryDirectory() as directory:
        store = EpisodeStore(directory)
        for episode_id, (steps, real_end) in episodes.items():
            store.add_episode(*labelled_episode(steps, episode_id, frame=(1, 2, 2)), terminated=real_end)
        check_segments(store.sample_segments(16, segment_length, np.random.default_rng(seed)), episodes)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "missing_key"])
def test_corrupt_file_names_the_file(tmp_path, damage):
    store = EpisodeStore(tmp_path)
    store.add_episode(*labelled_episode(3), terminated=True)
    path = store.add_episode(*random_episode(np.random.default_rng(0), 20), terminated=False)
    if damage == "garbage":
        path.write_bytes(b"not an episode at all")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        np.savez_compressed(path, frames=np.zeros((2,) + FRAME, np.uint8), actions=np.zeros(1, int))
    with pytest.raises(DreamditError) as error:
        EpisodeStore(tmp_path)
    message = str(error.value)
    assert str(path) in message and "delete" in message and "\n" not in message


def test_leftover_temporary_files_are_ignored_and_removed(tmp_path):
    store = EpisodeStore(tmp_path)
    store.add_episode(*labelled_episode(3), terminated=True)
    leftover = tmp_path / "episode_000001.npz.tmp"
    leftover.write_bytes(b"half an episode")  # what a run killed mid-write leaves
    reopened = EpisodeStore(tmp_path)
    assert len(reopened) == 1 and not leftover.exists()
    assert reopened.add_episode(*labelled_episode(2), terminated=False).name == "episode_000001.npz"
    assert sorted(os.listdir(tmp_path)) == ["episode_000000.npz", "episode_000001.npz"]


def test_indices_continue_after_the_highest_existing_one(tmp_path):
    store = EpisodeStore(tmp_path)
    for _ in range(3):
        store.add_episode(*labelled_episode(2), terminated=False)
    (tmp_path / "episode_000000.npz").unlink()  # e.g. a corrupt file the user deleted
    reopened = EpisodeStore(tmp_path)
    assert len(reopened) == 2 and reopened.num_steps == 4
    assert reopened.add_episode(*labelled_episode(2), terminated=False).name == "episode_000003.npz"


@pytest.mark.parametrize(
    "frames, actions, rewards, match",
    [
        (np.zeros((3,) + FRAME, np.float32), np.zeros(2, int), np.zeros(2), "uint8"),
        (np.zeros((1,) + FRAME, np.uint8), np.zeros(0, int), np.zeros(0), "at least one transition"),
        (np.zeros((3,) + FRAME, np.uint8), np.zeros(3, int), np.zeros(2), "actions"),
        (np.zeros((3,) + FRAME, np.uint8), np.zeros(2), np.zeros(2), "actions"),
        (np.zeros((3,) + FRAME, np.uint8), np.full(2, -1), np.zeros(2), "non-negative"),
        (np.zeros((3,) + FRAME, np.uint8), np.zeros(2, int), np.zeros(3), "rewards"),
        (np.zeros((3,) + FRAME, np.uint8), np.zeros(2, int), np.array([0.0, np.nan]), "finite"),
        (np.zeros((3, 3, 32, 32), np.uint8), np.zeros(2, int), np.zeros(2), "frame shape"),
    ],
)
def test_inconsistent_episodes_are_rejected(tmp_path, frames, actions, rewards, match):
    store = EpisodeStore(tmp_path)
    store.add_episode(*labelled_episode(2), terminated=False)
    with pytest.raises(ValueError, match=match):
        store.add_episode(frames, actions, rewards, terminated=False)
    assert len(store) == 1 and len(os.listdir(tmp_path)) == 1


def test_sampling_an_empty_store_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no episodes"):
        EpisodeStore(tmp_path).sample_segments(4, 5, np.random.default_rng(0))


@settings(max_examples=30, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 10), min_size=1, max_size=5),
    kill_after=st.lists(st.booleans(), min_size=5, max_size=5),
    segment_length=st.integers(1, 12),
    seed=st.integers(0, 2**32 - 1),
)
def test_kills_between_writes_lose_nothing_stored(lengths, kill_after, segment_length, seed):
    """A writer killed mid-write leaves a partial temporary file; reopening keeps every finished episode."""
    episodes = {}
    with tempfile.TemporaryDirectory() as directory:
        store = EpisodeStore(directory)
        for episode_id, steps in enumerate(lengths):
            episode = labelled_episode(steps, episode_id, frame=(1, 2, 2))
            if kill_after[episode_id]:
                # What a kill during np.savez_compressed leaves behind, then a restart.
                partial = os.path.join(directory, f"episode_{store._next_index:06d}.npz.tmp")
                with open(partial, "wb") as f:
                    f.write(b"PK\x03\x04" + bytes(37))
                store = EpisodeStore(directory)
            store.add_episode(*episode, terminated=steps % 2 == 0)
            episodes[episode_id] = (steps, steps % 2 == 0)
        reopened = EpisodeStore(directory)
        assert len(reopened) == len(lengths) and reopened.num_steps == sum(lengths)
        for i in range(len(lengths)):
            assert np.array_equal(reopened.episode(i)["frames"], store.episode(i)["frames"])
        check_segments(reopened.sample_segments(16, segment_length, np.random.default_rng(seed)), episodes)
