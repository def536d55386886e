from typing import Any

import numpy as np
from numpy.typing import NDArray

from dsp.acquisition import acquire_frequency
from dsp.channel import Channel, ChannelConfig
from dsp.demodulator import DemodConfig, SymbolDemodulator, _demod_core
from dsp.modulation import MODULATION_REGISTRY
from dsp.modulator import PulseShaper
from dsp.profile import builtin_profile
from dsp.receiver import m2m4_esn0_db
from dsp.rrc import rrc_taps
from dsp.simulate import LinkConfig, simulate
from dsp.transmitter import random_frames


def test_rrc_taps_have_unit_energy_and_give_nyquist_pulses_when_matched() -> None:
    taps = rrc_taps(4, 0.35, span_symbols=16)
    assert abs(np.sum(taps**2) - 1) < 1e-12
    raised = np.convolve(taps, taps)
    centre = raised.size // 2
    at_symbols = raised[centre % 4 :: 4]
    peak = np.argmax(np.abs(at_symbols))
    others = np.delete(at_symbols, peak)
    assert abs(at_symbols[peak] - 1) < 1e-3
    assert np.max(np.abs(others)) < 1e-2


def test_pulse_shaper_output_does_not_depend_on_how_symbols_are_split() -> None:
    rng = np.random.default_rng(1)
    symbols = MODULATION_REGISTRY["qpsk"].map_bits(rng.integers(0, 2, 2000, dtype=np.uint8))
    whole = PulseShaper(5, 0.35, clock_ppm=100).process(symbols, final=True)
    shaper = PulseShaper(5, 0.35, clock_ppm=100)
    parts = [
        shaper.process(symbols[a : a + 77], final=a + 77 >= symbols.size)
        for a in range(0, 1000, 77)
    ]
    assert np.array_equal(np.concatenate(parts), whole)
    # last symbol + 6-symbol pulse tail, at the offset clock
    assert abs(whole.size - (999 + 6) * 5 / (1 + 100e-6)) < 2


def test_acquisition_finds_offset_and_rate_at_0db_esn0() -> None:
    profile = builtin_profile("ccsds-bpsk-conv-rs")
    frames = random_frames(profile, 4)
    t_s = np.array([0.0, 100.0])
    link = LinkConfig(
        sps=5,
        ebn0_db=3.4,
        freq_offset_hz=-3200.0,
        doppler_time_s=t_s,
        doppler_freq_hz=-120 * t_s,
        seed=3,
    )
    iq = simulate(profile, frames, link)
    acq = acquire_frequency(
        iq[:32768], 48000.0, 2, max_offset_hz=5000, max_rate_hz_s=200, decimate=2
    )
    assert abs(acq.offset_hz + 3200.0) < 3.0
    assert abs(acq.rate_hz_s + 120.0) < 10.0


def test_numba_demodulator_loop_agrees_with_its_python_interpretation() -> None:
    profile = builtin_profile("ccsds-bpsk-conv-rs")
    iq = simulate(
        profile,
        random_frames(profile, 1),
        LinkConfig(sps=4, ebn0_db=5.0, phase_rad=1.0, freq_offset_hz=30.0, seed=4),
    )[:6000]
    outputs = []
    for core in (_demod_core, _demod_core.py_func):
        demod = SymbolDemodulator(DemodConfig(sps=4.0, rrc_alpha=0.35, detector=0), 38400.0)
        step = np.full(iq.size, 2 * np.pi * 25.0 / 38400.0)
        state = demod._state.copy()
        outputs.append(
            core(
                iq,
                step,
                demod._yhist.copy(),
                state,
                demod._table,
                demod._half,
                64,
                4.0,
                demod._gains,
                0,
                38400.0,
            )
        )
    fast, slow = outputs
    assert fast[0].size == slow[0].size > 1000
    assert np.max(np.abs(fast[0] - slow[0])) < 1e-3
    assert np.max(np.abs(fast[1] - slow[1])) < 1e-6


def test_m2m4_estimator_matches_known_esn0() -> None:
    rng = np.random.default_rng(5)
    for esn0_db in (0.0, 5.0, 10.0):
        n0 = 10 ** (-esn0_db / 10)
        symbols = 1 - 2.0 * rng.integers(0, 2, 200_000)
        z = symbols + np.sqrt(n0 / 2) * (
            rng.standard_normal(symbols.size) + 1j * rng.standard_normal(symbols.size)
        )
        p2 = np.abs(z) ** 2
        assert abs(m2m4_esn0_db(float(p2.sum()), float((p2**2).sum()), p2.size) - esn0_db) < 0.2


def test_free_space_loss_and_link_budget_match_hand_calculation() -> None:
    from dsp.channel import ebn0_from_link_budget, free_space_loss_db

    # 1000 km at 437 MHz: 20*log10(4*pi*1e6*437e6/c) = 145.25 dB
    assert abs(float(free_space_loss_db(np.array([1000.0]), 437e6)[0]) - 145.25) < 0.01
    ebn0 = ebn0_from_link_budget(
        eirp_dbw=0.0,
        range_km=np.array([1000.0, 2000.0]),
        freq_hz=437e6,
        g_over_t_db_k=-15.0,
        data_rate_bps=9600.0,
    )
    # 0 - 145.25 - 15 + 228.6 - 39.82 = 28.53 dB; twice the range costs 6.02 dB
    assert abs(ebn0[0] - 28.53) < 0.02
    assert abs((ebn0[0] - ebn0[1]) - 6.02) < 0.01


def test_channel_noise_follows_a_time_varying_esn0_profile() -> None:
    from dsp.channel import Channel, ChannelConfig

    fs = 1000.0
    config = ChannelConfig(
        fs_hz=fs, esn0_time_s=np.array([0.0, 10.0]), esn0_profile_db=np.array([0.0, 20.0]), seed=1
    )
    noise = Channel(config).process(np.zeros(10_000, dtype=np.complex64))
    early = np.mean(np.abs(noise[:500]) ** 2)  # around t=0.25 s: Es/N0 ~ 0.5 dB
    late = np.mean(np.abs(noise[-500:]) ** 2)  # around t=9.75 s: Es/N0 ~ 19.5 dB
    assert abs(10 * np.log10(early / late) - 19.0) < 0.5


def test_demodulator_gain_recovers_from_a_burst_40_db_above_its_starting_level() -> None:
    # started on near-silence (gain set for it), then a loud BPSK burst: the AGC
    # must come down within a few symbols, not overshoot into a negative gain
    rng = np.random.default_rng(6)
    bits = rng.integers(0, 2, 3000, dtype=np.uint8)
    loud = PulseShaper(4, 0.35).process(MODULATION_REGISTRY["bpsk"].map_bits(bits), final=True)
    quiet = (0.01 * (rng.standard_normal(4000) + 1j * rng.standard_normal(4000))).astype(
        np.complex64
    )
    iq = np.concatenate([quiet, 100 * loud]).astype(np.complex64)
    power = float(np.mean(np.abs(quiet) ** 2))
    demod = SymbolDemodulator(
        DemodConfig(sps=4.0, rrc_alpha=0.35, detector=0), 1.0, initial_gain=1 / np.sqrt(power * 4)
    )
    symbols = demod.process(iq, np.zeros(iq.size)).symbols
    late = symbols[-1500:]
    assert np.all(np.isfinite(late))
    assert abs(np.mean(np.abs(late) ** 2) - 1.0) < 0.3
    assert np.mean(np.abs(late.real)) > 0.8


def _numpy_channel(config: ChannelConfig, chunks: list[NDArray[np.complex64]]) -> NDArray[Any]:
    """The channel as NumPy arrays computed it before its kernels (the reference)."""
    rng = np.random.default_rng(config.seed)
    phase0, first, out = config.phase_rad, 0, []
    for iq in chunks:
        t = (first + np.arange(iq.size)) / config.fs_hz
        f = np.full(t.shape, config.freq_offset_hz)
        if config.doppler_time_s is not None and config.doppler_freq_hz is not None:
            f += np.interp(t, config.doppler_time_s, config.doppler_freq_hz)
        step = 2 * np.pi * f / config.fs_hz
        phase = phase0 + np.cumsum(step) - step
        phase0 = float(np.mod(phase[-1] + step[-1], 2 * np.pi))
        first += iq.size
        y = (iq * np.exp(1j * phase)).astype(np.complex64)
        assert config.esn0_time_s is not None and config.esn0_profile_db is not None
        n0_t = 10 ** (-np.interp(t, config.esn0_time_s, config.esn0_profile_db) / 10)
        noise = rng.standard_normal(2 * iq.size, dtype=np.float32).view(np.complex64)
        out.append(y + noise * np.sqrt(n0_t / 2).astype(np.float32))
    return np.concatenate(out)


def test_channel_kernels_give_the_numpy_reference_bit_for_bit_across_chunks() -> None:
    rng = np.random.default_rng(4)
    iq = (rng.standard_normal(90_000) + 1j * rng.standard_normal(90_000)).astype(np.complex64)
    t_s = np.arange(0.0, 5.0, 0.5)
    config = ChannelConfig(
        fs_hz=19_200.0,
        phase_rad=0.7,
        freq_offset_hz=350.0,
        doppler_time_s=t_s + 0.25,  # held before the first point
        doppler_freq_hz=3000.0 * np.cos(t_s),
        esn0_time_s=t_s,
        esn0_profile_db=8.0 + 4.0 * np.sin(t_s),
        seed=9,
    )
    chunks = [iq[i : i + 16_411] for i in range(0, iq.size, 16_411)]  # runs past the profiles
    channel = Channel(config)
    out = np.concatenate([channel.process(c) for c in chunks])
    assert np.array_equal(out, _numpy_channel(config, chunks))


def test_polyphase_shaping_gives_the_interpolating_kernel_bit_for_bit() -> None:
    rng = np.random.default_rng(5)
    symbols = MODULATION_REGISTRY["qpsk"].map_bits(rng.integers(0, 2, 3000, dtype=np.uint8))
    for sps in (2, 4, 8):
        fast, general = PulseShaper(sps, 0.35), PulseShaper(sps, 0.35)
        assert fast._taps is not None
        general._taps = None  # the per-sample table interpolation
        for i in range(0, symbols.size, 377):
            final = i + 377 >= symbols.size
            a = fast.process(symbols[i : i + 377], final=final)
            b = general.process(symbols[i : i + 377], final=final)
            assert np.array_equal(a, b)
    assert PulseShaper(3, 0.35)._taps is None and PulseShaper(4, 0.35, clock_ppm=5)._taps is None
