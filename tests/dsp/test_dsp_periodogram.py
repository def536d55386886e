"""dsp.periodogram gives the floats of scipy.signal.welch (two-sided, no
detrend), bit for bit (the BPSK carrier search uses it so that decoding
BPSK I/Q loads no scipy.signal; issue 17), and the BPSK I/Q path then does
not import it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.signal import welch

from dsp.periodogram import welch_two_sided


@pytest.mark.parametrize(
    ("n", "nseg"),
    [(2, 2), (301, 301), (777, 512), (4097, 4096), (5000, 4096), (24_000, 4096), (30_000, 1024)],
)
@pytest.mark.parametrize("squared", [False, True])
def test_welch_two_sided_equals_scipys_welch_bit_for_bit(n: int, nseg: int, squared: bool) -> None:
    rng = np.random.default_rng(n + nseg)
    x = rng.normal(size=n) + 1j * rng.normal(size=n)
    x = x * x if squared else x
    f, p = welch(x, 48_000.0, nperseg=nseg, return_onesided=False, detrend=False)
    f2, p2 = welch_two_sided(x, 48_000.0, nseg)
    assert f2.tobytes() == f.tobytes()
    assert p2.shape == p.shape
    assert p2.tobytes() == p.tobytes()


def test_a_segment_longer_than_the_samples_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="segment of 600 samples"):
        welch_two_sided(np.ones(500, np.complex128), 48_000.0, 600)


def test_the_bpsk_demodulator_on_iq_does_not_import_scipy_signal() -> None:
    child = (
        "import sys, numpy as np\n"
        "from dsp.psk import PskConfig, PskDemodulator\n"
        "d = PskDemodulator(PskConfig(9600.0, 48000.0, -23800.0, 23800.0))\n"
        "rng = np.random.default_rng(3)\n"
        "bits = np.repeat(rng.integers(0, 2, 20_000) * 2 - 1, 5)\n"
        "x = (bits * np.exp(2j * np.pi * 1000.0 * np.arange(bits.size) / 48000.0))\n"
        "out = d.process(x.astype(np.complex64)) + d.flush()\n"
        "print(sum(b.soft.size for b in out), 'scipy.signal' in sys.modules)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, timeout=300, check=True
    )
    n_symbols, loaded = run.stdout.split()
    assert int(n_symbols) > 20_000
    assert loaded == "False"
