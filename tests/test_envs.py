"""The env factory, the ViZDoom and Atari envs (real games, no mocks) and the area resize."""
import sys
import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st

from envs.atari_env import AtariEnv
from envs.errors import DreamditError
from envs.factory import list_env_specs, make_env
from envs.resize import AreaResize, area_weights
from envs.vizdoom_env import VizdoomEnv


def play(env, actions):
    """Step ``actions`` until the episode ends; return (rewards, terminated, truncated, info)."""
    rewards = []
    for action in actions:
        _, reward, terminated, truncated, info = env.step(action)
        rewards.append(reward)
        if terminated or truncated:
            return rewards, terminated, truncated, info
    raise AssertionError(f"no end in {len(actions)} steps")


# ---- area resize ----


@pytest.mark.parametrize("n_in, n_out", [(120, 64), (160, 64), (210, 64), (64, 64), (5, 3), (3, 7)])
def test_area_weights_average_and_preserve_the_mean(n_in, n_out):
    weights = area_weights(n_in, n_out)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)  # each output is an average
    np.testing.assert_allclose(weights.sum(axis=0), n_out / n_in, rtol=1e-6)  # each input counts equally


def test_area_weights_on_a_tiny_case():
    # 5 -> 2: each output covers 2.5 inputs, sharing the middle one.
    np.testing.assert_allclose(area_weights(5, 2), [[0.4, 0.4, 0.2, 0, 0], [0, 0, 0.2, 0.4, 0.4]], atol=1e-7)


def assert_resize_is_the_dense_product(in_size, out_size, seed=0):
    frame = np.random.default_rng(seed).integers(0, 256, (*in_size, 3), dtype=np.uint8)
    resized = AreaResize(in_size, out_size)(frame)
    assert resized.shape == (3, *out_size) and resized.dtype == np.uint8 and resized.flags.c_contiguous
    rows, cols = area_weights(in_size[0], out_size[0]), area_weights(in_size[1], out_size[1])
    dense = rows @ frame.transpose(2, 0, 1).astype(np.float64) @ cols.T  # (3, h, w)
    assert np.abs(resized - dense).max() <= 0.5 + 1e-3
    # Rounding moves each pixel by at most 1/2, so the mean moves by at most that.
    assert abs(resized.mean() - frame.mean()) <= 0.5


@pytest.mark.parametrize("in_size", [(120, 160), (210, 160)])  # ViZDoom's and the ALE's frames
def test_area_resize_of_the_real_frame_sizes(in_size):
    assert_resize_is_the_dense_product(in_size, (64, 64))


@settings(max_examples=60, deadline=None)
@given(st.tuples(st.integers(1, 50), st.integers(1, 50)), st.tuples(st.integers(1, 50), st.integers(1, 50)))
def test_area_resize_of_any_size(in_size, out_size):
    assert_resize_is_the_dense_product(in_size, out_size)


def test_area_resize_keeps_a_constant_image_constant():
    resize = AreaResize((210, 160))
    for value in (0, 1, 128, 254, 255):
        frame = np.full((210, 160, 3), value, dtype=np.uint8)
        assert (resize(frame) == value).all()


# ---- factory ----


def test_list_env_specs_covers_both_families():
    specs = list_env_specs()
    expected = ["vizdoom:Basic", "vizdoom:TakeCover", "vizdoom:DefendCenter", "vizdoom:HealthGathering",
                "vizdoom:MyWayHome", "atari:Pong", "atari:Breakout", "atari:MsPacman"]
    assert set(expected) <= set(specs)
    assert len([s for s in specs if s.startswith("atari:")]) > 50
    assert not any("Multi" in s or "Audio" in s or "Cig" in s for s in specs)  # not single-agent scenarios


@pytest.mark.parametrize(
    "spec, hint",
    [("foo:Bar", ""), ("Pong", ""), ("vizdoom:TakeCovr", "vizdoom:TakeCover"), ("atari:Breakuot", "atari:Breakout")],
)
def test_unknown_spec_is_a_one_line_user_error(spec, hint):
    with pytest.raises(DreamditError) as error:
        make_env(spec)
    message = str(error.value)
    assert "\n" not in message and "vizdoom:<Scenario>" in message and "atari:<Game>" in message
    if hint:
        assert f"did you mean '{hint}'?" in message
    else:
        assert "did you mean" not in message


@pytest.mark.parametrize("option", ["repeat=0", "repeat=two", "skip=4", "repeat"])
def test_a_bad_env_option_is_a_one_line_user_error(option):
    with pytest.raises(DreamditError, match="the only option is repeat=N") as error:
        make_env(f"vizdoom:TakeCover,{option}")
    assert "\n" not in str(error.value)


def test_repeat_plays_each_decision_n_times_with_rewards_summed():
    """Take Cover with repeat=4 is the plain game with every action pressed 4 steps running, ends included."""
    rng = np.random.default_rng(0)
    decisions = rng.integers(0, 2, 600)
    repeated, plain = make_env("vizdoom:TakeCover,repeat=4", seed=5), make_env("vizdoom:TakeCover", seed=5)
    assert repeated.action_names == plain.action_names
    assert repeated.metadata["render_fps"] == plain.metadata["render_fps"] / 4
    repeated.reset(), plain.reset()
    for action in decisions:
        obs, reward, terminated, truncated, info = repeated.step(action)
        total = 0.0
        for _ in range(4):
            plain_obs, plain_reward, plain_terminated, plain_truncated, plain_info = plain.step(action)
            total += plain_reward
            if plain_terminated or plain_truncated:
                break
        assert np.array_equal(obs, plain_obs) and reward == total
        assert (terminated, truncated) == (plain_terminated, plain_truncated)
        if terminated or truncated:
            break
    repeated.close(), plain.close()
    assert terminated and info["episode"] == plain_info["episode"]  # returns count every tic played


def test_a_missing_package_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "ale_py", None)  # as if ale-py were not installed
    monkeypatch.delitem(sys.modules, "envs.atari_env")
    with pytest.raises(DreamditError, match="pip install ale-py"):
        make_env("atari:Pong")
    specs = list_env_specs()
    assert "vizdoom:Basic" in specs and not any(spec.startswith("atari:") for spec in specs)


def test_names_are_case_insensitive_and_accept_the_long_vizdoom_name():
    env = make_env("vizdoom:DefendTheCenter")
    assert env.action_names == ["TURN_LEFT", "TURN_RIGHT", "ATTACK"]
    env.close()
    env = make_env("atari:pong")
    assert env.action_names == ["NOOP", "FIRE", "RIGHT", "LEFT", "RIGHTFIRE", "LEFTFIRE"]
    env.close()


# ---- both families ----


@pytest.mark.parametrize(
    "spec", ["vizdoom:Basic", "vizdoom:TakeCover", "vizdoom:DefendCenter", "atari:Pong", "atari:Breakout"]
)
def test_observations_are_64x64_rgb_channels_first(spec):
    env = make_env(spec, seed=0)
    assert env.observation_space.shape == (3, 64, 64) and env.action_space.n == len(env.action_names)
    obs, _ = env.reset()
    frames = [obs] + [env.step(env.action_space.sample())[0] for _ in range(5)]
    env.close()
    for frame in frames:
        assert frame.shape == (3, 64, 64) and frame.dtype == np.uint8
        assert env.observation_space.contains(frame)
        assert frame.std() > 1  # a picture, not a blank
    assert not (frames[0][0] == frames[0][2]).all()  # colour, not grey


@pytest.mark.parametrize("spec", ["vizdoom:Basic", "atari:Breakout"])
def test_gymnasium_env_checker_passes(spec):
    env = make_env(spec, seed=0)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not having a spec.*")  # envs made without gym.make
        check_env(env)
    env.close()


@pytest.mark.parametrize("spec", ["vizdoom:TakeCover", "atari:Pong"])
def test_same_seed_same_run(spec):
    def run(seed):
        env = make_env(spec, seed=seed)
        frames = [env.reset()[0]]
        for step in range(60):
            frames.append(env.step(step % env.action_space.n)[0])
            if step % 20 == 19:  # resets, seeded by the constructor's seed
                frames.append(env.reset()[0])
        env.close()
        return np.stack(frames)

    first = run(7)
    np.testing.assert_array_equal(first, run(7))
    assert not np.array_equal(first, run(8))


# ---- ViZDoom ----


def test_take_cover_truncates_at_its_tic_cap_with_the_tics_survived_as_return():
    assert make_env("vizdoom:TakeCover").episode_tics == 2100
    # 102 tics: 25 steps of 4 tics, then one of 2; standing still survives that long with this seed.
    env = VizdoomEnv("TakeCover", seed=0, episode_tics=102)
    env.reset()
    rewards, terminated, truncated, info = play(env, [0] * 100)
    env.close()
    assert truncated and not terminated
    assert sum(rewards) == 102 and len(rewards) == 26
    assert info["episode"] == {"r": 102.0, "l": 26}


def test_take_cover_death_is_terminated_and_pays_one_per_tic():
    env = make_env("vizdoom:TakeCover", seed=0)
    env.reset()
    rewards, terminated, truncated, info = play(env, [0] * 600)  # standing still: shot within 600 steps
    env.close()
    assert terminated and not truncated
    assert set(rewards[:-1]) == {4.0} and 1 <= rewards[-1] <= 4  # the last step counts the tics lived
    assert info["episode"] == {"r": sum(rewards), "l": len(rewards)}


def test_basic_timeout_is_a_truncation():
    env = make_env("vizdoom:Basic", seed=0)
    env.reset()
    rewards, terminated, truncated, info = play(env, [0] * 100)  # moving left never kills the monster
    env.close()
    # The 300-tic timeout: 75 steps of -1 a tic.
    assert truncated and not terminated and len(rewards) == 75 and sum(rewards) == -300
    assert info["episode"]["l"] == 75


def test_defend_the_center_reports_its_ammo_and_health_as_game_variables():
    env = make_env("vizdoom:DefendCenter", seed=0)
    _, info = env.reset()
    assert info["game_variables"] == {"AMMO2": 26.0, "HEALTH": 100.0}
    attack = env.unwrapped.action_names.index("ATTACK")
    for _ in range(8):
        _, _, _, _, info = env.step(attack)
    env.close()
    assert info["game_variables"]["AMMO2"] < 26  # every shot spends a round


# ---- Atari ----


def test_life_loss_ends_the_episode_only_in_training():
    rng = np.random.default_rng(0)
    actions = rng.integers(4, size=5000)
    train, evaluate = make_env("atari:Breakout", seed=3, train=True), make_env("atari:Breakout", seed=3)
    train.reset(), evaluate.reset()
    rewards, terminated, truncated, info = play(train, actions)
    assert terminated and not truncated and "episode" not in info  # a life lost, the game goes on
    for action in actions[: len(rewards)]:  # the same game, up to that step
        assert not any(evaluate.step(action)[2:4])
    evaluate.close()

    game_rewards, episodes, continued = list(rewards), 1, 0
    while "episode" not in info:
        train.reset()  # one no-op step into the same game
        continued += 1
        rewards, terminated, truncated, info = play(train, actions)
        game_rewards += rewards
        episodes += 1
    train.close()
    assert episodes == 5  # Breakout's five lives
    # The statistics cover the whole game; its length counts the no-op steps after lost lives.
    assert info["episode"] == {"r": sum(game_rewards), "l": len(game_rewards) + continued}


def test_atari_rewards_are_not_clipped():
    env = make_env("atari:Boxing", seed=0)  # a punch to the head scores 2 at once
    env.reset()
    rewards = [env.step(a)[1] for a in np.random.default_rng(0).integers(env.action_space.n, size=1500)]
    env.close()
    assert max(rewards) > 1 or min(rewards) < -1


@pytest.mark.parametrize("train", [False, True])
def test_atari_frame_cap_is_a_truncation_that_ends_the_game(train):
    env = AtariEnv("Pong", seed=0, train=train, max_frames=400)  # Pong has no lives to lose
    env.reset()
    rewards, terminated, truncated, info = play(env, [0] * 200)
    assert truncated and not terminated
    assert 93 <= len(rewards) <= 100  # 400 frames, less 1 to 30 no-ops, 4 a step
    assert info["episode"] == {"r": sum(rewards), "l": len(rewards)}
    env.reset()  # a new game, even in training
    assert len(play(env, [0] * 200)[0]) >= 93
    env.close()
