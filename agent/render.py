"""Drawing for people: frames upscaled with text labels, grids of them, GIF/MP4 files.

Shared by `dreamdit dream`, `dreamdit play` and the dream images logged during
training. Pillow draws the text (it comes with matplotlib and imageio); MP4
needs the ffmpeg binary that `imageio-ffmpeg` bundles, GIF needs nothing more.
"""
import functools
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from envs.errors import DreamditError

GAP = 2  # pixels between the cells of a grid
BACKGROUND = (24, 24, 24)
VIDEO_SUFFIXES = (".gif", ".mp4")


@functools.lru_cache(maxsize=8)
def font(cell: int) -> ImageFont.ImageFont:
    """The label font for cells `cell` pixels wide: 1/16 of the width, readable down to 128 px."""
    return ImageFont.load_default(size=max(10, cell // 16))


def line_height(cell: int) -> int:
    ascent, descent = font(cell).getmetrics()
    return ascent + descent + 2


def label_height(cell: int, lines: int) -> int:
    """Height of the text strip under a cell holding `lines` lines (even, as video encoders want)."""
    height = lines * line_height(cell) + 4
    return height + height % 2


def check_cell(cell: int) -> int:
    """`cell` if it is a usable frame size in pixels (even, as video encoders want), else DreamditError."""
    if cell < 16 or cell % 2:
        raise DreamditError(f"--cell must be an even number of pixels, at least 16, not {cell}")
    return cell


def upscale(frame: np.ndarray, size: int) -> np.ndarray:
    """A (3, h, w) or (h, w, 3) uint8 frame -> (size, size, 3), nearest neighbour so pixels stay crisp."""
    if frame.shape[0] == 3:
        frame = frame.transpose(1, 2, 0)
    return np.asarray(Image.fromarray(np.ascontiguousarray(frame)).resize((size, size), Image.NEAREST))


def labelled(frame: np.ndarray, lines: list[str], cell: int, num_lines: int | None = None,
             colour=(235, 235, 235)) -> np.ndarray:
    """The frame upscaled to `cell` pixels with `lines` of text in a strip below it: (cell + strip, cell, 3).

    `num_lines` fixes the strip's height, so cells with fewer lines still line up in a grid.
    """
    strip = label_height(cell, num_lines or len(lines))
    image = Image.new("RGB", (cell, cell + strip), BACKGROUND)
    image.paste(Image.fromarray(upscale(frame, cell)), (0, 0))
    draw, step = ImageDraw.Draw(image), line_height(cell)
    for i, line in enumerate(lines):
        draw.text((3, cell + 2 + i * step), line, fill=colour, font=font(cell))
    return np.asarray(image)


def text_panel(lines: list[str], width: int, cell: int, height: int | None = None) -> np.ndarray:
    """Lines of text on the background, (height, width, 3), in the font of `cell`-pixel cells;
    the height is that of the lines unless given."""
    image = Image.new("RGB", (width, height or label_height(cell, len(lines))), BACKGROUND)
    draw, step = ImageDraw.Draw(image), line_height(cell)
    for i, line in enumerate(lines):
        draw.text((6, 4 + i * step), line, fill=(235, 235, 235), font=font(cell))
    return np.asarray(image)


def wrap(words: list[str], width: int, cell: int, sep: str = "   ") -> list[str]:
    """Join `words` into lines no wider than `width` pixels in the font of `cell`-pixel cells."""
    lines = [""]
    for word in words:
        candidate = f"{lines[-1]}{sep}{word}" if lines[-1] else word
        if lines[-1] and font(cell).getlength(candidate) > width - 6:
            lines.append(word)
        else:
            lines[-1] = candidate
    return lines


def grid_size(count: int, columns: int, cell_shape: tuple[int, int]) -> tuple[int, int]:
    """(height, width) of a grid of `count` cells of (height, width) `cell_shape` in `columns` columns."""
    rows = math.ceil(count / columns)
    return rows * (cell_shape[0] + GAP) - GAP, columns * (cell_shape[1] + GAP) - GAP


def grid(cells: list[np.ndarray], columns: int) -> np.ndarray:
    """Same-shaped (h, w, 3) cells laid out row by row; empty slots stay background."""
    h, w = cells[0].shape[:2]
    out = np.empty((*grid_size(len(cells), columns, (h, w)), 3), np.uint8)
    out[:] = BACKGROUND
    for i, cell in enumerate(cells):
        top, left = (i // columns) * (h + GAP), (i % columns) * (w + GAP)
        out[top:top + h, left:left + w] = cell
    return out


def check_video_path(path) -> Path:
    """`path` as a Path if a video can be written there, else DreamditError (checked before any long work)."""
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise DreamditError(f"cannot write {path}: the video must end in .gif or .mp4")
    if not path.parent.is_dir():
        raise DreamditError(f"cannot write {path}: no directory {path.parent}")
    if path.suffix.lower() == ".mp4":
        try:
            import imageio_ffmpeg  # noqa: F401  (imageio finds the ffmpeg binary through it)
        except ImportError:
            raise DreamditError("writing .mp4 needs imageio-ffmpeg: pip install imageio-ffmpeg, "
                                "or write a .gif") from None
    return path


def open_video(path, fps: float):
    """A writer with `append_data(frame)` and `close()` for a .gif or .mp4 file, frames (h, w, 3) uint8."""
    import imageio.v2 as imageio

    path = check_video_path(path)
    if path.suffix.lower() == ".gif":
        # GIF frame times are whole hundredths of a second.
        return imageio.get_writer(path, mode="I", duration=round(100 / fps) * 10, loop=0)
    # macro_block_size=2: keep the frame size as drawn (all sizes here are even) instead of rescaling it.
    return imageio.get_writer(path, fps=fps, macro_block_size=2, quality=8)


def write_video(path, frames, fps: float) -> None:
    """Write (h, w, 3) uint8 frames to a .gif or .mp4 file."""
    writer = open_video(path, fps)
    try:
        for frame in frames:
            writer.append_data(frame)
    finally:
        writer.close()
