"""Statistics of benchmark results, as rliable (Agarwal et al., 2021) defines them.

Scores are arrays (runs, tasks): one final evaluation per seed and env. The interquartile mean
(IQM) is the mean of the middle half of all scores; its confidence interval comes from a
stratified bootstrap (runs resampled with replacement within each task) and percentiles.
Also how long a policy repeats one action, which tells a jittering policy from one that holds.
"""
import numpy as np

# Atari 100k games -> (random, human) scores: the table of DQN (Mnih et al., 2015) that SimPLe,
# IRIS, DreamerV3, DIAMOND and rliable normalise with.
ATARI_RANDOM_HUMAN = {
    "Alien": (227.8, 7127.7), "Amidar": (5.8, 1719.5), "Assault": (222.4, 742.0), "Asterix": (210.0, 8503.3),
    "BankHeist": (14.2, 753.1), "BattleZone": (2360.0, 37187.5), "Boxing": (0.1, 12.1), "Breakout": (1.7, 30.5),
    "ChopperCommand": (811.0, 7387.8), "CrazyClimber": (10780.5, 35829.4), "DemonAttack": (152.1, 1971.0),
    "Freeway": (0.0, 29.6), "Frostbite": (65.2, 4334.7), "Gopher": (257.6, 2412.5), "Hero": (1027.0, 30826.4),
    "Jamesbond": (29.0, 302.8), "Kangaroo": (52.0, 3035.0), "Krull": (1598.0, 2665.5),
    "KungFuMaster": (258.5, 22736.3), "MsPacman": (307.3, 6951.6), "Pong": (-20.7, 14.6),
    "PrivateEye": (24.9, 69571.3), "Qbert": (163.9, 13455.0), "RoadRunner": (11.5, 7845.0),
    "Seaquest": (68.4, 42054.7), "UpNDown": (533.4, 11693.2),
}


def atari_game(env: str) -> str | None:
    """'atari:Pong', 'Pong' or 'pong' -> 'Pong'; None for anything not in the Atari 100k table."""
    name = env.split(":")[-1].lower()
    return next((game for game in ATARI_RANDOM_HUMAN if game.lower() == name), None)


def human_normalised_score(env: str, score):
    """(score - random) / (human - random) for an Atari 100k game; score may be an array."""
    game = atari_game(env)
    if game is None:
        raise KeyError(f"no random/human scores for {env!r}")
    random, human = ATARI_RANDOM_HUMAN[game]
    return (np.asarray(score, dtype=np.float64) - random) / (human - random)


def iqm(scores) -> float:
    """Mean of all scores after cutting int(n / 4) from each end (scipy's trim_mean(scores, 0.25))."""
    values = np.sort(np.asarray(scores, dtype=np.float64).ravel())
    cut = int(0.25 * len(values))
    return float(values[cut:len(values) - cut].mean())


def stratified_bootstrap_ci(scores, statistic=iqm, reps: int = 10_000, confidence: float = 0.95,
                            seed: int = 0) -> tuple[float, float]:
    """Percentile interval of statistic(scores) for scores (runs, tasks), or (runs,) for one task.

    Each replicate draws, for every task on its own, as many runs as there are, with replacement.
    """
    scores = np.asarray(scores, dtype=np.float64)
    scores = scores[:, None] if scores.ndim == 1 else scores
    runs, tasks = scores.shape
    picks = np.random.default_rng(seed).integers(0, runs, size=(reps, runs, tasks))
    replicates = np.take_along_axis(np.broadcast_to(scores, picks.shape), picks, axis=1)  # (reps, runs, tasks)
    values = np.array([statistic(replicate) for replicate in replicates])
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def mean_run_length(actions) -> float:
    """Mean length of the runs of one repeated action in a sequence of actions (steps,)."""
    actions = np.asarray(actions)
    return len(actions) / (1 + np.count_nonzero(np.diff(actions)))
