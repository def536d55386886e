"""WAV recordings -> sample arrays for dsp.chain: mono is receiver audio
(real), stereo is I/Q (complex). Integer PCM is scaled to +-1."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.io import wavfile


def read_wav(path: Path) -> tuple[NDArray[np.float32] | NDArray[np.complex64], float]:
    """(samples, sample rate in Hz). Raises ValueError naming the file when it
    is not a mono or stereo WAV."""
    try:
        fs_hz, data = wavfile.read(path)
    except (ValueError, OSError) as exc:
        raise ValueError(f"{path}: not a readable WAV file ({exc})") from exc
    x = np.asarray(data)
    if np.issubdtype(x.dtype, np.integer):
        scale = float(np.iinfo(x.dtype).max) + 1.0
        if x.dtype == np.uint8:  # 8-bit WAV is offset binary
            x = x.astype(np.float64) - 128.0
            scale = 128.0
        x = x.astype(np.float64) / scale
    if x.ndim == 1:
        return x.astype(np.float32), float(fs_hz)
    if x.ndim == 2 and x.shape[1] == 2:
        return (x[:, 0] + 1j * x[:, 1]).astype(np.complex64), float(fs_hz)
    raise ValueError(
        f"{path}: WAV has {x.shape[1] if x.ndim == 2 else x.ndim} channels, expected 1 "
        "(receiver audio) or 2 (I/Q)"
    )
