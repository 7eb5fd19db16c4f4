"""Area (box) resize of RGB frames in numpy, the resampling OpenCV calls INTER_AREA.

Each output pixel is the average of the input area it covers, input pixels
weighted by how much of them lies inside it, so ratios need not be integers
(120x160 -> 64x64, 210x160 -> 64x64).
"""
import math

import numpy as np

# The most output rows resampled in one matrix product: small chunks read few
# input rows they do not need, but many small products cost more than a few.
_MAX_ROW_CHUNK = 8


def area_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) float32 matrix whose row i averages input span [i*s, (i+1)*s), s = n_in / n_out.

    Each row sums to 1; each column sums to n_out / n_in, so the mean of a
    signal is preserved.
    """
    scale = n_in / n_out
    start = np.arange(n_out)[:, None] * scale  # (n_out, 1)
    pixel = np.arange(n_in)[None, :]  # (1, n_in)
    overlap = np.minimum(start + scale, pixel + 1) - np.maximum(start, pixel)
    return (np.clip(overlap, 0.0, None) / scale).astype(np.float32)


class AreaResize:
    """Resizes (H, W, C) uint8 frames to (C, h, w) uint8, channels first.

    Mathematically ``Wr @ frame[..., c] @ Wc.T`` with ``area_weights``, but
    both matrices are mostly zeros, and dense products would cost ~100 us a
    frame. Rows: chunks of output rows, each a product with a window of
    about the input rows it overlaps. Columns: the weights repeat every W/g inputs
    and w/g outputs (g = gcd(W, w)), so one block, widened to act on
    interleaved channels, resamples every period in a single product. The
    intermediate arrays are allocated once (fresh ones of a few hundred KB
    cost page faults on every frame), so an instance must not be shared
    between threads.
    """

    def __init__(self, in_size: tuple[int, int], out_size: tuple[int, int] = (64, 64), channels: int = 3):
        (height, width), (self.out_height, self.out_width) = in_size, out_size
        self.channels = channels
        step, self._row_weights = _row_windows(area_weights(height, self.out_height))
        chunks, _, span = self._row_weights.shape
        # The frame, as float32, on top of zero rows that the last window may reach past its bottom.
        self._frame = np.zeros(((chunks - 1) * step + span, width * channels), np.float32)
        strides = (step * self._frame.strides[0], *self._frame.strides)
        self._windows = np.lib.stride_tricks.as_strided(
            self._frame, (chunks, span, width * channels), strides, writeable=False
        )
        self._rows = np.empty((chunks, self.out_height // chunks, width * channels), np.float32)
        period = math.gcd(width, self.out_width)
        block = area_weights(width // period, self.out_width // period)
        # (W/g * C, w/g * C): the same block for every channel.
        self._col_weights = np.kron(block, np.eye(channels, dtype=np.float32)).T.copy()
        self._out = np.empty((self.out_height * period, self._col_weights.shape[1]), np.float32)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, h, w), the shape of a resized frame."""
        return self.channels, self.out_height, self.out_width

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """(H, W, C) uint8 -> new (C, h, w) uint8 array, rounded to nearest."""
        np.copyto(self._frame[: frame.shape[0]], frame.reshape(frame.shape[0], -1))
        np.matmul(self._row_weights, self._windows, out=self._rows)  # (chunks, h/chunks, W*C)
        periods = self._rows.reshape(-1, self._col_weights.shape[0])  # (h*g, W/g*C)
        np.matmul(periods, self._col_weights, out=self._out)  # (h*g, w/g*C)
        self._out += 0.5  # values lie in [0, 255], so truncating rounds them
        out = self._out.reshape(self.out_height, self.out_width, self.channels).transpose(2, 0, 1)
        return out.astype(np.uint8, order="C")


def _row_windows(weights: np.ndarray) -> tuple[int, np.ndarray]:
    """The row step between windows and the weights (chunks, chunk, span) of each chunk of output rows.

    Chunk c reads input rows [c*step, c*step + span): step = floor(chunk * n_in / n_out)
    never passes the first row a chunk overlaps, and span reaches the last
    row of every chunk. Equal steps make the windows strided views, not
    copies; the chunk size is the one that multiplies the fewest weights.
    """
    n_out = weights.shape[0]
    sizes = [d for d in range(_MAX_ROW_CHUNK, 0, -1) if n_out % d == 0]  # the largest first wins ties
    windows = [_windows_of(weights, chunk) for chunk in sizes]
    return min(windows, key=lambda window: window[1].size)


def _windows_of(weights: np.ndarray, chunk: int) -> tuple[int, np.ndarray]:
    n_out, n_in = weights.shape
    chunks = n_out // chunk
    step = chunk * n_in // n_out
    blocks = weights.reshape(chunks, chunk, n_in)
    span = max(np.flatnonzero(block.any(axis=0))[-1] + 1 - c * step for c, block in enumerate(blocks))
    padded = np.pad(blocks, ((0, 0), (0, 0), (0, (chunks - 1) * step + span - n_in)))
    return step, np.stack([padded[c, :, c * step : c * step + span] for c in range(chunks)])
