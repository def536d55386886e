"""The FSK demodulator's level tracker and moving average (dsp.fsk) give
the same floats, bit for bit, as their plain NumPy statements: the numba
kernel and the sliced sums that made the FSK path faster (issue 17) change
no decoded bit."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from dsp.fsk import midpoint_levels, midpoint_levels_reference, moving_average


def moving_average_by_gathers(x: NDArray[np.float64], n: float) -> NDArray[np.float64]:
    """The moving average as first written: index arrays over every sample."""
    n = max(int(round(n)), 1)
    c = np.concatenate([[0.0], np.cumsum(x)])
    idx = np.arange(x.size)
    lo = np.clip(idx - n // 2, 0, x.size)
    hi = np.clip(idx - n // 2 + n, 0, x.size)
    return (c[hi] - c[lo]) / np.maximum(hi - lo, 1)


def signals() -> list[NDArray[np.float64]]:
    rng = np.random.default_rng(17)
    nrz = np.repeat(rng.choice([-1.0, 1.0], 400), 10) * 0.7 + 0.2
    return [
        np.zeros(0),
        np.array([-0.0]),
        np.array([0.3, -0.2, 0.1]),
        nrz + rng.normal(0, 0.3, nrz.size),
        np.concatenate([np.full(3000, 0.9), nrz]),  # a run longer than the window
        np.full(500, -0.4),  # one level only: nothing to measure
        np.cumsum(rng.normal(0, 1, 5000)),  # drifting, large values
    ]


@pytest.mark.parametrize("window", [1, 2, 7, 64, 640, 10_000])
def test_moving_average_by_slices_equals_the_gathered_one_bit_for_bit(window: int) -> None:
    for x in signals():
        expected = moving_average_by_gathers(x, window)
        got = moving_average(x, window)
        assert got.tobytes() == expected.tobytes(), (x.size, window)


@pytest.mark.parametrize("window", [1, 2, 7, 64, 640, 10_000])
def test_the_numba_level_tracker_equals_the_numpy_one_bit_for_bit(window: int) -> None:
    for x in signals():
        expected = midpoint_levels_reference(x, window)
        got = midpoint_levels(x, window)
        assert got.dtype == np.float64
        assert got.tobytes() == expected.tobytes(), (x.size, window)


def test_a_level_window_shorter_than_one_sample_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="level window 0"):
        midpoint_levels(np.ones(10), 0)
