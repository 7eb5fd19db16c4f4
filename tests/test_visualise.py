"""The visualisation commands on the smoke run, as a user runs them: dream videos, plots, headless play,
and the dream images and GIF logged during training."""
import importlib.util
import json

import imageio.v2 as imageio
import numpy as np
import pytest
from PIL import Image

import train
from agent.dream_video import log_dreams
from agent.options import parse_config
from agent.play import PANEL_FONT, PANEL_WIDTH
from agent.render import grid_size, label_height, line_height
from conftest import run_cli

SMOKE_CONTEXT, SMOKE_HORIZON = 2, 4  # the smoke preset's world_model.context and .horizon


def read_video(path) -> np.ndarray:
    """All frames of a GIF or MP4: (T, h, w, 3)."""
    reader = imageio.get_reader(path)
    try:
        return np.stack([frame[..., :3] for frame in reader.iter_data()])
    finally:
        reader.close()


def assert_png(path) -> None:
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width > 100 and image.height > 100


def test_open_loop_dream_gif_has_one_frame_per_step_and_a_pair_of_cells_per_dream(smoke_run, tmp_path):
    out = tmp_path / "dream.gif"
    # A horizon beyond the model's 4 steps chains two whole-trajectory dreams.
    result = run_cli("dream", "--checkpoint", smoke_run, "--out", out, "--n", 3, "--horizon", 6, "--cell", 128,
                     "--episodes", 1, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    video = read_video(out)
    # 3 real/dream pairs, two pairs a row; cells of 128 px with a three-line label.
    assert video.shape == (SMOKE_CONTEXT + 6, *grid_size(6, 4, (128 + label_height(128, 3), 128)), 3)
    assert not np.array_equal(video[0], video[-1])


@pytest.mark.skipif(importlib.util.find_spec("imageio_ffmpeg") is None, reason="imageio-ffmpeg not installed")
def test_policy_dream_mp4(smoke_run, tmp_path):
    out = tmp_path / "dream.mp4"
    result = run_cli("dream", "--checkpoint", smoke_run, "--out", out, "--mode", "policy", "--n", 2, "--cell", 128,
                     "--episodes", 1, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    video = read_video(out)
    assert video.shape == (SMOKE_CONTEXT + SMOKE_HORIZON, *grid_size(2, 2, (128 + label_height(128, 2), 128)), 3)


def test_dream_rejects_an_unknown_video_format_in_one_line(smoke_run, tmp_path):
    result = run_cli("dream", "--checkpoint", smoke_run, "--out", tmp_path / "dream.avi", cwd=tmp_path)
    assert result.returncode == 2 and ".gif or .mp4" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_plot_learning_curves_and_fidelity(smoke_run, tmp_path):
    curves = tmp_path / "curves.png"
    result = run_cli("plot", smoke_run, "--out", curves, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert_png(curves)
    fidelity, plot = tmp_path / "fidelity.json", tmp_path / "fidelity.png"
    result = run_cli("fidelity", "--checkpoint", smoke_run, "--horizon", 3, "--episodes", 1, "--segments", 4,
                     "--json", fidelity, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    result = run_cli("plot", "--fidelity", fidelity, "--out", plot, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert_png(plot)


def test_headless_play_records_frames_that_follow_the_keys(smoke_run, tmp_path, monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    out, log = tmp_path / "play.gif", tmp_path / "play.jsonl"
    keys = "1,.,2,.,r,.,p,."  # action 1, action 2, switch to the real game, hand over to the policy
    result = run_cli("play", "--checkpoint", smoke_run, "--keys", keys, "--fps", 0, "--cell", 128,
                     "--record", out, "--log", log, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    video = read_video(out)
    assert video.shape == (8, 128, 128 + PANEL_WIDTH, 3)
    frames = [json.loads(line) for line in log.read_text().splitlines()]
    assert [f["action"] for f in frames[:4]] == [0, 0, 1, 1]
    assert [f["dream"] for f in frames] == [True] * 4 + [False] * 4
    assert [f["policy"] for f in frames] == [False] * 6 + [True] * 2
    game = video[..., :128, :].astype(int)
    assert np.abs(game[4] - game[3]).mean() > 5  # the real game's frame replaced the dream's
    # The panel's lines: 0 mode and step, 1 driver, 2 action; the frame rate below them changes every frame.
    line = lambda i: video[:, 4 + i * line_height(PANEL_FONT):4 + (i + 1) * line_height(PANEL_FONT), 128:]  # noqa
    assert not np.array_equal(line(2)[2], line(2)[1])  # the newly chosen action is named
    assert not np.array_equal(line(0)[4], line(0)[3])  # DREAM -> REAL GAME
    assert not np.array_equal(line(1)[6], line(1)[5])  # driver: you -> policy


def test_training_logs_real_vs_dream_images_and_a_gif(tmp_path):
    cfg, _ = parse_config(["--preset", "smoke", "--run-dir", str(tmp_path / "run"), "--env", "vizdoom:Basic"])
    trainer = train.Trainer(cfg)
    trainer.bar = train.tqdm(disable=True)
    trainer.collect(cfg.train.warmup_steps, random=True)
    names = trainer.vec.get_attr("action_names")[0]
    gif = log_dreams(trainer.writer, trainer.agent, trainer.store, 123, trainer.run_dir, names, n=2)
    trainer.writer.close()
    trainer.vec.close()
    assert gif == trainer.run_dir / "dreams" / "dream_00000123.gif"
    assert len(read_video(gif)) == SMOKE_CONTEXT + SMOKE_HORIZON
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(trainer.run_dir))
    events.Reload()
    image = events.Images("dreams/real_vs_dream")[0]
    # Two rows (real over dreamed) of C + H frames of 64 px for each of the two dreams.
    assert (image.step, image.height, image.width) == (123, *grid_size(4 * 6, 6, (64, 64)))
