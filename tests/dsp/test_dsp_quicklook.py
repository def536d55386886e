"""Quick-look computations: the decimated waterfall and the constellation density."""

from __future__ import annotations

import numpy as np

from dsp.quicklook import SymbolSnapshot, Waterfall, constellation_density

FS_HZ = 48_000.0


def _chirp(n: int, f0_hz: float, f1_hz: float) -> np.ndarray:
    t = np.arange(n) / FS_HZ
    rate = (f1_hz - f0_hz) / (n / FS_HZ)
    return np.exp(2j * np.pi * (f0_hz * t + 0.5 * rate * t**2)).astype(np.complex64)


def test_the_waterfall_follows_a_tone_across_the_pass() -> None:
    n = 480_000  # 10 s
    iq = _chirp(n, -12_000.0, 12_000.0)
    wf = Waterfall(fs_hz=FS_HZ, n_samples=n, nfft=256, max_rows=50, segments_per_row=4)
    wf.process(iq)
    wf.finish()
    assert wf.n_rows == 50 and wf.power.shape == (50, 256)
    peak_hz = wf.freq_hz()[np.argmax(wf.power, axis=1)]
    expected_hz = -12_000.0 + 24_000.0 * wf.row_time_s() / 10.0
    assert np.max(np.abs(peak_hz - expected_hz)) < 2 * FS_HZ / 256


def test_chunk_boundaries_change_no_waterfall_value() -> None:
    rng = np.random.default_rng(4)
    n = 100_003
    iq = (rng.normal(size=n) + 1j * rng.normal(size=n)).astype(np.complex64)
    whole = Waterfall(fs_hz=FS_HZ, n_samples=n, nfft=128, max_rows=37)
    whole.process(iq)
    whole.finish()
    pieces = Waterfall(fs_hz=FS_HZ, n_samples=n, nfft=128, max_rows=37)
    cuts = np.sort(rng.integers(0, n, 60))
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, n], strict=True):
        pieces.process(iq[a:b])
    pieces.finish()
    assert np.array_equal(whole.power, pieces.power, equal_nan=True)
    assert np.all(np.isfinite(whole.power))


def test_the_waterfall_transforms_a_bounded_number_of_samples_per_row() -> None:
    # 15 min at 4 MS/s (1 Msym/s, 4 samples per symbol): rows and work stay bounded
    wf = Waterfall(fs_hz=4e6, n_samples=int(900 * 4e6), nfft=1024, max_rows=600)
    assert wf.n_rows <= 600
    assert wf.used_per_row == 8 * 1024
    assert wf.power.nbytes <= 600 * 1024 * 4


def test_a_short_last_row_is_kept_and_an_empty_one_stays_nan() -> None:
    wf = Waterfall(fs_hz=FS_HZ, n_samples=1000, nfft=256, max_rows=2)
    wf.process(np.ones(700, np.complex64))  # row 1 (500..999) gets 200 samples: < nfft
    wf.finish()
    assert np.all(np.isfinite(wf.power[0])) and np.all(np.isnan(wf.power[1]))


def test_constellation_density_shows_the_bpsk_points() -> None:
    rng = np.random.default_rng(1)
    symbols = (rng.choice([-1.0, 1.0], 5000) + 0.05 * rng.normal(size=5000)).astype(np.complex64)
    hist = constellation_density(symbols * 3.0, bins=40)  # scaled to unit power first
    assert hist.sum() == 5000
    q_row = 20  # Q near 0
    assert hist[q_row - 1 : q_row + 1, 29:31].sum() > 2000  # I = +1
    assert hist[q_row - 1 : q_row + 1, 9:11].sum() > 2000  # I = -1


def test_a_symbol_snapshot_keeps_only_its_window_up_to_its_size() -> None:
    snap = SymbolSnapshot(start_sample=100.0, stop_sample=200.0, max_symbols=30)
    pos = np.arange(0, 400, 4, dtype=np.float64)
    snap(np.arange(pos.size).astype(np.complex64), pos)
    kept = snap.symbols
    assert kept.size == 25 and kept[0] == 25  # positions 100..196
    snap(np.ones(10, np.complex64), np.full(10, 150.0))
    assert snap.symbols.size == 30
