"""NRZI line code: data bits <-> channel bits (uint8 0/1 arrays).

A 0 is sent as a change of level, a 1 as no change (the AX.25 / HDLC
convention). Decoding looks only at pairs of channel bits, so it does not
care about the polarity of the demodulated signal. ``previous`` is the
channel bit before the first one; both functions return the new one so a
stream can be cut anywhere.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def nrzi_encode(bits: NDArray[np.uint8], previous: int = 0) -> tuple[NDArray[np.uint8], int]:
    """Data bits -> channel bits (level toggles on every 0); returns (bits, last level)."""
    data = np.asarray(bits, dtype=np.uint8)
    toggles = np.cumsum(1 - data.astype(np.int64))
    channel = ((toggles + previous) % 2).astype(np.uint8)
    return channel, int(channel[-1]) if channel.size else previous


def nrzi_decode(bits: NDArray[np.uint8], previous: int = 0) -> tuple[NDArray[np.uint8], int]:
    """Channel bits -> data bits (1 where the level did not change); returns (bits, last level)."""
    channel = np.asarray(bits, dtype=np.uint8)
    before = np.concatenate([np.array([previous], dtype=np.uint8), channel[:-1]])
    data = (1 - (channel ^ before)).astype(np.uint8)
    return data, int(channel[-1]) if channel.size else previous
