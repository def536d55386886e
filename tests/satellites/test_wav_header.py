"""groundstation.satellites.wav reads the RIFF header itself for the PCM
formats numpy reads directly (so a decode does not import scipy.io, issue
17), giving what scipy.io.wavfile gives; other files still go to scipy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from groundstation.satellites.wav import _parse_header, _read, _samples, open_wav

RECORDINGS = Path(__file__).resolve().parents[1] / "data" / "dsp" / "recordings"


def _same_as_scipy(path: Path) -> None:
    parsed = _parse_header(path)
    assert parsed is not None
    fs_hz, mapped = _read(path, mmap=True)
    assert isinstance(mapped, np.memmap)
    assert (parsed.fs_hz, parsed.n_samples, parsed.dtype) == (
        fs_hz,
        *mapped.shape[:1],
        mapped.dtype,
    )
    assert (parsed.data_offset, parsed.iq) == (mapped.offset, mapped.ndim == 2)
    whole = _samples(_read(path, mmap=False)[1])
    assert np.concatenate(list(parsed.blocks(4099))).tobytes() == whole.tobytes()


@pytest.mark.parametrize("name", sorted(p.stem for p in RECORDINGS.glob("*.wav")))
def test_each_recordings_header_reads_as_scipy_reads_it(name: str) -> None:
    _same_as_scipy(RECORDINGS / f"{name}.wav")


@pytest.mark.parametrize("dtype", ["int16", "int32", "uint8", "float32", "float64"])
@pytest.mark.parametrize("channels", [1, 2])
def test_each_pcm_format_numpy_reads_as_is_reads_as_scipy_reads_it(
    tmp_path: Path, dtype: str, channels: int
) -> None:
    x = np.random.default_rng(channels).normal(size=(1001, channels)) * (
        100 if "int" in dtype else 0.3
    )
    path = tmp_path / "x.wav"
    wavfile.write(path, 44_100, x.astype(dtype).squeeze())
    _same_as_scipy(path)


def test_a_blocks_range_is_those_samples_of_the_whole(tmp_path: Path) -> None:
    path = tmp_path / "ramp.wav"
    wavfile.write(path, 48_000, np.arange(10_000, dtype=np.int16))
    wav = open_wav(path)
    part = np.concatenate(list(wav.blocks(1000, start_sample=2500, stop_sample=7777)))
    whole = np.concatenate(list(wav.blocks(1 << 16)))
    assert part.tobytes() == whole[2500:7777].tobytes()


def test_a_24_bit_file_goes_to_scipy_and_a_text_file_is_refused_naming_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "pcm24.wav"
    frames = (np.arange(300, dtype=np.int32) * 256).astype("<i4")
    raw = b"".join(int(v).to_bytes(4, "little", signed=True)[1:] for v in frames)
    fmt = (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + (48_000).to_bytes(4, "little")
    fmt += (
        (48_000 * 3).to_bytes(4, "little") + (3).to_bytes(2, "little") + (24).to_bytes(2, "little")
    )
    body = b"WAVE" + b"fmt " + (16).to_bytes(4, "little") + fmt
    body += b"data" + len(raw).to_bytes(4, "little") + raw
    path.write_bytes(b"RIFF" + len(body).to_bytes(4, "little") + body)
    assert _parse_header(path) is None
    wav = open_wav(path)
    assert wav.n_samples == 300 and wav.fs_hz == 48_000.0
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    with pytest.raises(ValueError, match="notes.wav: not a readable WAV file"):
        open_wav(text)
