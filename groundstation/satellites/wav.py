"""WAV recordings -> sample arrays for dsp.chain: mono is receiver audio
(real), stereo is I/Q (complex). Integer PCM is scaled to +-1.

``read_wav`` reads a whole file; ``open_wav`` maps it and converts it block
by block (``WavRecording.blocks``), so a long pass runs in bounded memory.
Both convert through ``_samples``: a block is what the same samples of the
whole file would be.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.io import wavfile


def _read(path: Path, *, mmap: bool) -> tuple[float, NDArray[np.generic]]:
    try:
        fs_hz, data = wavfile.read(path, mmap=mmap)
    except (ValueError, OSError) as exc:
        raise ValueError(f"{path}: not a readable WAV file ({exc})") from exc
    x = data if mmap else np.asarray(data)
    if not (x.ndim == 1 or (x.ndim == 2 and x.shape[1] == 2)):
        raise ValueError(
            f"{path}: WAV has {x.shape[1] if x.ndim == 2 else x.ndim} channels, expected 1 "
            "(receiver audio) or 2 (I/Q)"
        )
    return float(fs_hz), x


def _samples(x: NDArray[Any]) -> NDArray[np.float32] | NDArray[np.complex64]:
    """PCM frames (n,) or (n, 2) as stored -> float32 audio or complex64 I/Q."""
    if np.issubdtype(x.dtype, np.integer):
        scale = float(np.iinfo(x.dtype).max) + 1.0
        if x.dtype == np.uint8:  # 8-bit WAV is offset binary
            x = x.astype(np.float64) - 128.0
            scale = 128.0
        x = x.astype(np.float64) / scale
    if x.ndim == 1:
        return x.astype(np.float32)
    return (x[:, 0] + 1j * x[:, 1]).astype(np.complex64)


def read_wav(path: Path) -> tuple[NDArray[np.float32] | NDArray[np.complex64], float]:
    """(samples, sample rate in Hz). Raises ValueError naming the file when it
    is not a mono or stereo WAV."""
    fs_hz, x = _read(path, mmap=False)
    return _samples(x), fs_hz


@dataclass(frozen=True)
class WavRecording:
    """A WAV file opened for streaming. iq: stereo (I/Q) rather than mono
    receiver audio; n_samples: frames in the file. Blocks are read from the
    file (``data_offset``, ``dtype``), or cut from ``_data`` for formats
    numpy cannot read directly (24-bit PCM)."""

    path: Path
    fs_hz: float
    iq: bool
    n_samples: int
    dtype: np.dtype[Any]
    data_offset: int | None
    _data: NDArray[Any] | None = None

    def blocks(
        self, block_samples: int, start_sample: int = 0, stop_sample: int | None = None
    ) -> Iterator[NDArray[np.float32] | NDArray[np.complex64]]:
        """The samples [start_sample, stop_sample) (by default all) in blocks
        of ``block_samples`` (the last one shorter)."""
        stop = self.n_samples if stop_sample is None else min(stop_sample, self.n_samples)
        if self._data is not None:
            for start in range(start_sample, stop, block_samples):
                yield _samples(self._data[start : min(start + block_samples, stop)])
            return
        channels = 2 if self.iq else 1
        with open(self.path, "rb") as handle:
            handle.seek((self.data_offset or 0) + start_sample * channels * self.dtype.itemsize)
            for start in range(start_sample, stop, block_samples):
                n = min(block_samples, stop - start)
                raw = np.fromfile(handle, dtype=self.dtype, count=n * channels)
                if raw.size < n * channels:
                    raise ValueError(
                        f"{self.path}: WAV data ends at frame {start + raw.size // channels}"
                    )
                yield _samples(raw.reshape(-1, 2) if self.iq else raw)


def open_wav(path: Path) -> WavRecording:
    """The header of WAV file ``path``, for reading it in blocks (formats
    numpy cannot map, such as 24-bit PCM, are read whole). Raises ValueError
    naming the file when it is not a mono or stereo WAV."""
    try:
        fs_hz, x = _read(path, mmap=True)
    except ValueError:
        fs_hz, x = _read(path, mmap=False)
        return WavRecording(Path(path), fs_hz, x.ndim == 2, int(x.shape[0]), x.dtype, None, x)
    assert isinstance(x, np.memmap)
    offset = int(x.offset)
    n, dtype, iq = int(x.shape[0]), x.dtype, x.ndim == 2
    del x  # the map is not kept: blocks are read
    return WavRecording(Path(path), fs_hz, iq, n, dtype, offset)
