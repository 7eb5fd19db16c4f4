"""Benchmark statistics against values computed by hand."""
import numpy as np
import pytest

from agent.stats import ATARI_RANDOM_HUMAN, atari_game, human_normalised_score, iqm, stratified_bootstrap_ci


def test_iqm_is_the_mean_of_the_middle_half():
    assert iqm([8, 1, 7, 2, 6, 3, 5, 4]) == 4.5  # 3, 4, 5, 6
    assert iqm([10, 1, 2, 3, 100]) == 5.0  # int(5 / 4) = 1 cut from each end: 2, 3, 10
    assert iqm([[1, 2], [3, 4]]) == 2.5  # every run of every task together
    assert iqm([7]) == 7.0


def test_human_normalised_score():
    assert human_normalised_score("atari:Pong", -20.7) == 0
    assert human_normalised_score("Pong", 14.6) == pytest.approx(1)
    assert human_normalised_score("atari:breakout", 16.1) == pytest.approx(0.5)  # (16.1 - 1.7) / (30.5 - 1.7)
    assert human_normalised_score("atari:Boxing", [0.1, 12.1, 24.1]) == pytest.approx([0, 1, 2])
    assert len(ATARI_RANDOM_HUMAN) == 26 and all(h > r for r, h in ATARI_RANDOM_HUMAN.values())
    assert atari_game("vizdoom:TakeCover") is None
    with pytest.raises(KeyError):
        human_normalised_score("vizdoom:TakeCover", 100)


def test_bootstrap_of_two_runs_by_hand():
    # Resampled means of [0, 1] are 0, 0.5 or 1 with probabilities 1/4, 1/2, 1/4: the 2.5th and 97.5th
    # percentiles are 0 and 1.
    assert stratified_bootstrap_ci([0.0, 1.0], np.mean) == (0.0, 1.0)


def test_bootstrap_resamples_within_each_task():
    # Every task's runs agree, so any within-task resample gives the same IQM: a zero-width interval.
    # (Resampling runs across tasks would not.)
    scores = np.array([[0.0, 10.0], [0.0, 10.0], [0.0, 10.0]])
    assert stratified_bootstrap_ci(scores) == (5.0, 5.0)


def test_bootstrap_is_seeded_and_contains_the_estimate():
    scores = np.random.default_rng(0).normal(size=(5, 3))
    low, high = stratified_bootstrap_ci(scores, seed=1)
    assert stratified_bootstrap_ci(scores, seed=1) == (low, high)
    assert stratified_bootstrap_ci(scores, seed=2) != (low, high)
    assert low < iqm(scores) < high
