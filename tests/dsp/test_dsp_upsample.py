"""dsp.upsample gives the floats of scipy.signal.resample_poly(x, up, 1),
bit for bit (the FSK demodulator uses it so that decoding FSK audio loads
no scipy.signal; issue 17), and the FSK path then does not import it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile
from scipy.signal import firwin, resample_poly

from dsp.upsample import lowpass_taps, upsample


@pytest.mark.parametrize("up", [2, 3, 4, 5])
def test_the_taps_are_firwins_kaiser_low_pass_bit_for_bit(up: int) -> None:
    expected = firwin(20 * up + 1, 1.0 / up, window=("kaiser", 5.0)) * up
    assert lowpass_taps(up).tobytes() == expected.tobytes()


@pytest.mark.parametrize("up", [2, 3, 4, 5])
@pytest.mark.parametrize("n", [0, 1, 2, 5, 17, 40, 41, 100, 1000, 25_600])
def test_upsample_equals_resample_poly_bit_for_bit(up: int, n: int) -> None:
    x = np.random.default_rng(n + up).normal(size=n)
    expected = resample_poly(x, up, 1)
    got = upsample(x, up)
    assert got.shape == expected.shape
    assert got.tobytes() == expected.tobytes()


def test_an_upsampling_factor_out_of_range_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="upsampling factor 0"):
        upsample(np.ones(4), 0)


def test_the_fsk_demodulator_does_not_import_scipy_signal() -> None:
    child = (
        "import sys, numpy as np\n"
        "from dsp.fsk import FskConfig, FskDemodulator\n"
        "d = FskDemodulator(FskConfig(9600.0, 48000.0))\n"
        "x = np.sign(np.sin(np.arange(200_000) * 2 * np.pi / 37.0))\n"
        "n = d.process(x).soft.size + d.flush().soft.size\n"
        "print(n, 'scipy.signal' in sys.modules)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, timeout=300, check=True
    )
    n_symbols, loaded = run.stdout.split()
    assert int(n_symbols) > 30_000
    assert loaded == "False"


def test_the_kaiser_windows_bessel_function_is_scipys_i0_bit_for_bit() -> None:
    from scipy.special import i0

    from dsp.upsample import _bessel_i0

    x = np.concatenate([np.random.default_rng(0).uniform(-40.0, 40.0, 20_000), [0.0, 8.0, 5.0]])
    assert np.array([_bessel_i0(float(v)) for v in x]).tobytes() == i0(x).tobytes()


def test_fsk_audio_from_a_wav_file_is_demodulated_without_scipys_signal_special_or_io(
    tmp_path: Path,
) -> None:
    """Neither scipy.signal nor scipy.special (the Kaiser window's i0) nor
    scipy.io (the WAV header): ~0.5 s of start-up together. (numba itself
    loads scipy.linalg's BLAS when its CPU target starts.)"""
    wav = tmp_path / "tone.wav"
    tone = np.sign(np.sin(np.arange(200_000) * 2 * np.pi / 37.0))
    wavfile.write(wav, 48_000, (tone * 10_000).astype(np.int16))
    child = (
        "import sys\n"
        "from pathlib import Path\n"
        "from dsp.fsk import FskConfig, FskDemodulator\n"
        "from groundstation.satellites.wav import open_wav\n"
        "d = FskDemodulator(FskConfig(9600.0, 48000.0))\n"
        "n = sum(d.process(x).soft.size for x in open_wav(Path(sys.argv[1])).blocks(65536))\n"
        "n += d.flush().soft.size\n"
        "loaded = ('scipy.signal', 'scipy.special', 'scipy.io')\n"
        "print(n, sorted(m for m in loaded if m in sys.modules))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", child, str(wav)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    n_symbols, loaded = run.stdout.split(" ", 1)
    assert int(n_symbols) > 30_000
    assert loaded.strip() == "[]"
