"""dsp.upsample gives the floats of scipy.signal.resample_poly(x, up, 1),
bit for bit (the FSK demodulator uses it so that decoding FSK audio loads
no scipy.signal; issue 17), and the FSK path then does not import it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
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
