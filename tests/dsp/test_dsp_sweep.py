"""The receiver against theory on simulated signals (dsp.sweep; the full curves
and gr-satellites beside them are in bench/receiver_sweep.py): per family,
the raw-bit error rate at one or two Eb/N0 points stays within a stated
margin of the theoretical curve, and coded framings find their frames where
the sweep shows they should. Fixed seeds; each point counts hundreds of bit
errors and the margins leave several standard deviations, so the checks do
not flake, while a demodulator that loses half a dB more than it does
today fails them."""

import numpy as np
import pytest

from dsp.carrier_search import find_bpsk_carrier
from dsp.psk import PskConfig
from dsp.sweep import (
    FAMILIES,
    crossing_db,
    frame_error_rate,
    measure,
    noise_std,
    simulate,
    theory_ber,
    theory_ebn0_db,
)

# family: (Eb/N0 dB, frames, stated margin dB): BER <= theory at Eb/N0 - margin.
# Measured losses at BER 1e-3 (bench): FSK and AFSK -0.1 to -1.1 dB (the
# discriminator beats per-symbol non-coherent detection), BPSK/DBPSK ~0 dB.
BER_CASES = [
    ("fsk-1200-fm-audio", 9.0, 40, 0.5),
    ("fsk-9600-fm-audio", 9.0, 30, 0.5),
    ("fsk-9600-iq", 9.0, 30, 0.5),
    ("fsk-4800-fm-audio", 8.0, 20, 0.5),
    ("afsk-1200-audio", 8.0, 40, 0.5),
    # high Eb/N0, where a pre-detection filter that cut the 4800-baud signal left a floor
    ("afsk-4800-audio", 11.0, 200, 0.5),
    ("bpsk-1200-audio", 4.0, 40, 0.5),
    ("bpsk-9600-audio", 4.0, 30, 0.5),
    ("bpsk-1200-iq", 4.0, 40, 0.5),
    # low Eb/N0, where the carrier search lost 1200-baud signals in 48 kHz of IQ;
    # 1 dB: at this SNR the Costas loop slips now and then under the 30 Hz/s drift
    ("bpsk-1200-iq", 3.0, 40, 1.0),
    # 140 Hz/s: the Doppler rate of a pass at 435 MHz near TCA, not corrected
    ("bpsk-1200-iq-doppler", 4.0, 40, 0.5),
    ("dbpsk-1200-audio", 4.0, 6, 0.5),
    ("dbpsk-1200-iq", 2.0, 6, 0.5),
    # Manchester DBPSK (the AO-40 beacon): both chips of a bit go into its symbol
    ("dbpsk-manchester-400-audio", 4.0, 3, 0.5),
    ("dbpsk-manchester-400-iq", 4.0, 3, 0.5),
]

# family: (Eb/N0 dB, frames, least share found): coded framings near their threshold
FER_CASES = [
    ("fsk-4800-fm-audio", 9.0, 20, 0.9),
    ("afsk-4800-audio", 8.0, 20, 0.9),
    ("dbpsk-1200-audio", 3.0, 10, 0.8),
    ("dbpsk-1200-iq", 3.5, 10, 0.8),
    ("dbpsk-manchester-400-audio", 3.0, 8, 0.8),
    ("dbpsk-manchester-400-iq", 3.5, 8, 0.8),
]


@pytest.mark.parametrize(
    ("name", "ebn0_db", "n_frames", "margin_db"),
    BER_CASES,
    ids=[f"{c[0]}-{c[1]:g}dB" for c in BER_CASES],
)
def test_raw_bit_error_rate_is_within_the_stated_margin_of_theory(
    name: str, ebn0_db: float, n_frames: int, margin_db: float
) -> None:
    family = FAMILIES[name]
    signal = simulate(family, ebn0_db, n_frames, seed=41)
    m = measure(family, signal)
    limit = theory_ber(family.detection, ebn0_db - margin_db)
    assert m.bits * limit >= 300  # enough errors at the limit for the check to be sharp
    assert m.missing <= 0.01 * m.bits
    assert m.ber <= limit, f"BER {m.ber:.3e} > {limit:.3e} (theory at {ebn0_db - margin_db} dB)"
    assert m.extra == 0


@pytest.mark.parametrize(
    ("name", "ebn0_db", "n_frames", "least"),
    FER_CASES,
    ids=[f"{c[0]}-{c[1]:g}dB" for c in FER_CASES],
)
def test_coded_framing_finds_its_frames_near_its_threshold(
    name: str, ebn0_db: float, n_frames: int, least: float
) -> None:
    family = FAMILIES[name]
    m = measure(family, simulate(family, ebn0_db, n_frames, seed=43))
    assert m.frames_found >= least * n_frames
    assert m.extra == 0


def test_theory_inverse_and_frame_error_rate_agree() -> None:
    for detection in ("noncoherent-fsk", "coherent-bpsk", "dbpsk"):
        for ber in (1e-2, 1e-3, 1e-5):
            assert theory_ber(detection, theory_ebn0_db(detection, ber)) == pytest.approx(ber)
    assert frame_error_rate(1e-3, 1000) == pytest.approx(1 - 0.999**1000)
    # 10.0 dB is where the falling curve passes 1e-2 (log interpolation)
    assert crossing_db([9.0, 11.0], [1e-1, 1e-3], 1e-2) == pytest.approx(10.0)
    assert np.isnan(crossing_db([9.0, 11.0], [1e-1, 5e-2], 1e-2))


def test_noise_is_set_from_the_signal_power_per_channel_bit() -> None:
    # Eb/N0 0 dB at 1 sample per bit: noise variance per component = power / 2
    assert noise_std(2.0, 0.0, 1200.0, 1200.0) == pytest.approx(1.0)
    assert noise_std(1.0, 10.0, 48000.0, 1200.0) == pytest.approx(np.sqrt(2.0))


def test_two_tones_are_not_taken_for_a_bpsk_carrier() -> None:
    # the square of two tones has a line at their sum, as a BPSK carrier's square
    # does; the sub-band search predicts that line from the tones' own spectrum
    fs_hz = 48_000.0
    n = np.arange(int(0.5 * fs_hz))
    rng = np.random.default_rng(3)
    block = (
        np.exp(2j * np.pi * 1000 * n / fs_hz)
        + np.exp(2j * np.pi * 1600 * n / fs_hz)
        + 0.05 * (rng.standard_normal(n.size) + 1j * rng.standard_normal(n.size))
    ).astype(np.complex64)
    estimate = find_bpsk_carrier(block, fs_hz, 1200.0, min_hz=-23_800, max_hz=23_800)
    assert estimate.significance_db < PskConfig(1200.0, fs_hz, 0.0, 1.0).subband_detect_db
