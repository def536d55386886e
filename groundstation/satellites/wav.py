"""WAV recordings -> sample arrays for dsp.chain: mono is receiver audio
(real), stereo is I/Q (complex). Integer PCM is scaled to +-1.

``read_wav`` reads a whole file; ``open_wav`` maps it and converts it block
by block (``WavRecording.blocks``), so a long pass runs in bounded memory.
Both convert through ``_samples``: a block is what the same samples of the
whole file would be. ``open_wav`` reads the RIFF header itself for the
formats numpy reads directly (8/16/32-bit integer and 32/64-bit float PCM,
plain or WAVE_FORMAT_EXTENSIBLE): importing ``scipy.io`` costs ~0.3 s of
CPU (it loads scipy.sparse and the MATLAB readers), a third of a decode's
start-up (bench/decode.py). Anything else goes to ``scipy.io.wavfile``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: (format tag, bits per sample) -> the dtype of PCM data numpy reads as is
_PCM_DTYPES: dict[tuple[int, int], np.dtype[Any]] = {
    (1, 8): np.dtype("u1"),
    (1, 16): np.dtype("<i2"),
    (1, 32): np.dtype("<i4"),
    (3, 32): np.dtype("<f4"),
    (3, 64): np.dtype("<f8"),
}
_EXTENSIBLE = 0xFFFE


def _read(path: Path, *, mmap: bool) -> tuple[float, NDArray[np.generic]]:
    from scipy.io import wavfile  # ~0.3 s import: for the formats _parse_header leaves

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


def _parse_header(path: Path) -> WavRecording | None:
    """The recording of a little-endian RIFF/WAVE file of 1 or 2 channels in a
    format of _PCM_DTYPES whose data chunk lies whole in the file; None for
    anything else (scipy.io.wavfile reads it or says what is wrong)."""
    with open(path, "rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        size = path.stat().st_size
        fmt: tuple[int, int, float, int, int] | None = None
        position = 12
        while position + 8 <= size:
            handle.seek(position)
            chunk_id, chunk_size = handle.read(4), int.from_bytes(handle.read(4), "little")
            if chunk_id == b"fmt " and 16 <= chunk_size <= 64:
                raw = handle.read(chunk_size)
                tag = int.from_bytes(raw[0:2], "little")
                if tag == _EXTENSIBLE and chunk_size >= 26:
                    tag = int.from_bytes(raw[24:26], "little")  # the sub-format GUID's first bytes
                channels = int.from_bytes(raw[2:4], "little")
                rate = int.from_bytes(raw[4:8], "little")
                block_align = int.from_bytes(raw[12:14], "little")
                bits = int.from_bytes(raw[14:16], "little")
                fmt = (tag, channels, float(rate), block_align, bits)
            elif chunk_id == b"data":
                if fmt is None:
                    return None
                tag, channels, fs_hz, block_align, bits = fmt
                dtype = _PCM_DTYPES.get((tag, bits))
                data = position + 8
                if (
                    dtype is None
                    or channels not in (1, 2)
                    or block_align != channels * dtype.itemsize
                    or chunk_size % block_align
                    or data + chunk_size > size
                ):
                    return None
                n = chunk_size // block_align
                return WavRecording(Path(path), fs_hz, channels == 2, n, dtype, data)
            position += 8 + chunk_size + (chunk_size & 1)
    return None


def open_wav(path: Path) -> WavRecording:
    """The header of WAV file ``path``, for reading it in blocks (formats
    numpy cannot map, such as 24-bit PCM, are read whole). Raises ValueError
    naming the file when it is not a mono or stereo WAV."""
    try:
        parsed = _parse_header(Path(path))
    except OSError as exc:
        raise ValueError(f"{path}: not a readable WAV file ({exc})") from exc
    if parsed is not None:
        return parsed
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
