import numpy as np
import pytest
from numpy.typing import NDArray

from dsp.profile import DownlinkProfile, builtin_profile
from dsp.receiver import FrameResult, PassSummary, Receiver, ReceiverConfig
from dsp.simulate import LinkConfig, simulate
from dsp.transmitter import random_frames


def _receive(
    profile: DownlinkProfile, iq: NDArray[np.complex64], config: ReceiverConfig, chunk: int
) -> tuple[list[FrameResult], PassSummary]:
    rx = Receiver(profile, config)
    results: list[FrameResult] = []
    for start in range(0, iq.size, chunk):
        results += rx.process(iq[start : start + chunk])
    results += rx.flush()
    return results, rx.summary()


def _good(results: list[FrameResult], frames: list[bytes]) -> int:
    sent = set(frames)
    return sum(1 for r in results if r.ok and r.frame in sent)


@pytest.mark.parametrize("name", ["ccsds-bpsk-conv-rs", "ccsds-bpsk-rs", "bpsk-uncoded", "by70-1"])
def test_each_bpsk_profile_recovers_every_frame_through_offset_phase_and_clock(name: str) -> None:
    profile = builtin_profile(name)
    frames = random_frames(profile, 12, seed=1)
    sps = 4
    link = LinkConfig(
        sps=sps, ebn0_db=9.0, phase_rad=2.5, freq_offset_hz=700.0, clock_ppm=40.0, seed=2
    )
    iq = simulate(profile, frames, link)
    results, summary = _receive(
        profile, iq, ReceiverConfig(fs_hz=profile.symbol_rate * sps), 50_000
    )
    assert _good(results, frames) == len(frames)
    assert abs(summary.acquired_offset_hz - 700.0) < 5.0


@pytest.mark.parametrize("phase_rad", [0.3, 0.3 + np.pi / 2, 0.3 + np.pi, 0.3 + 3 * np.pi / 2])
def test_qpsk_frames_decode_in_every_phase_ambiguity(phase_rad: float) -> None:
    profile = builtin_profile("ccsds-qpsk-conv-rs-i5")
    frames = random_frames(profile, 5, seed=3)
    link = LinkConfig(sps=4, ebn0_db=6.0, phase_rad=phase_rad, freq_offset_hz=20e3, seed=4)
    iq = simulate(profile, frames, link)
    results, _ = _receive(profile, iq, ReceiverConfig(fs_hz=4e6), 200_000)
    assert _good(results, frames) == len(frames)
    assert len({r.rotation for r in results}) == 1


def test_chunk_boundaries_change_no_output() -> None:
    profile = builtin_profile("ccsds-bpsk-conv-rs")
    frames = random_frames(profile, 10, seed=5)
    link = LinkConfig(
        sps=5, ebn0_db=3.0, phase_rad=1.0, freq_offset_hz=1500.0, clock_ppm=-25.0, seed=6
    )
    iq = simulate(profile, frames, link)
    config = ReceiverConfig(fs_hz=profile.symbol_rate * 5)
    whole, s_whole = _receive(profile, iq, config, iq.size)
    assert _good(whole, frames) >= 8
    rng = np.random.default_rng(7)
    cuts = np.sort(rng.choice(iq.size, 40, replace=False))
    rx = Receiver(profile, config)
    pieces = []
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, iq.size], strict=True):
        pieces += rx.process(iq[a:b])
    pieces += rx.flush()
    assert [r.to_dict() for r in pieces] == [r.to_dict() for r in whole]
    s_pieces = rx.summary()
    assert s_pieces.esn0_db == s_whole.esn0_db
    assert np.array_equal(s_pieces.freq_hz, s_whole.freq_hz)


def test_doppler_precompensation_from_range_rate_recovers_a_10_khz_shift() -> None:
    from dsp.channel import doppler_from_range_rate

    profile = builtin_profile("ccsds-bpsk-conv-rs")
    frames = random_frames(profile, 8, seed=8)
    t_s = np.linspace(0, 60, 61)
    range_rate_km_s = -6.9 + 0.08 * t_s  # approaching, slowing: +11.5 kHz -> +3.5 kHz at 500 MHz
    doppler_hz = doppler_from_range_rate(range_rate_km_s, 500e6)
    link = LinkConfig(
        sps=4,
        ebn0_db=6.0,
        doppler_time_s=t_s,
        doppler_freq_hz=doppler_hz,
        freq_offset_hz=300.0,
        seed=9,
    )
    iq = simulate(profile, frames, link)
    config = ReceiverConfig(
        fs_hz=profile.symbol_rate * 4,
        doppler_time_s=t_s,
        doppler_freq_hz=doppler_hz,
        max_offset_hz=1000,
    )
    results, summary = _receive(profile, iq, config, 30_000)
    assert doppler_hz[0] > 11e3
    assert _good(results, frames) == len(frames)
    assert abs(summary.acquired_offset_hz - 300.0) < 5.0
    # the frequency track follows the total shift within a few Hz
    expected = np.interp(summary.freq_time_s, t_s, doppler_hz) + 300.0
    assert np.max(np.abs(summary.freq_hz[1:] - expected[1:])) < 10.0


def test_frames_carry_header_counters_asm_times_and_missing_frames_are_counted() -> None:
    profile = builtin_profile("ccsds-bpsk-conv-rs")
    frames = random_frames(profile, 10, seed=10)
    sent = frames[:4] + frames[6:]  # counters 4 and 5 never transmitted
    sps = 4
    iq = simulate(profile, sent, LinkConfig(sps=sps, ebn0_db=8.0, seed=11))
    results, summary = _receive(
        profile, iq, ReceiverConfig(fs_hz=profile.symbol_rate * sps), 40_000
    )
    counts = [r.header.master_channel_frame_count for r in results if r.ok and r.header is not None]
    assert counts == [0, 1, 2, 3, 6, 7, 8, 9]
    assert summary.frames_missing == 2
    assert summary.frames_ok == 8
    symbols_per_frame = profile.channel_bits_per_frame
    gaps = np.diff([r.asm_time_s for r in results]) * profile.symbol_rate
    assert np.allclose(gaps, symbols_per_frame, atol=1.0)
    assert all(
        r.header is not None and r.header.spacecraft_id == profile.spacecraft_id for r in results
    )


def test_pass_summary_estimates_esn0_and_channel_ber() -> None:
    from scipy.special import erfc

    from dsp.simulate import esn0_db_for

    profile = builtin_profile("ccsds-bpsk-conv-rs")
    frames = random_frames(profile, 40, seed=12)
    iq = simulate(profile, frames, LinkConfig(sps=4, ebn0_db=4.0, phase_rad=0.7, seed=13))
    results, summary = _receive(profile, iq, ReceiverConfig(fs_hz=profile.symbol_rate * 4), 100_000)
    esn0_db = esn0_db_for(profile, 4.0)
    theory_ber = 0.5 * erfc(np.sqrt(10 ** (esn0_db / 10)))
    assert summary.frames_ok == 40
    assert abs(summary.esn0_db - esn0_db) < 0.6
    assert summary.pre_fec_ber is not None
    assert 0.7 * theory_ber < summary.pre_fec_ber < 1.4 * theory_ber


def test_noise_alone_yields_no_frames() -> None:
    profile = builtin_profile("ccsds-bpsk-conv-rs")
    rng = np.random.default_rng(14)
    noise = (rng.standard_normal(400_000) + 1j * rng.standard_normal(400_000)).astype(np.complex64)
    results, summary = _receive(
        profile, noise, ReceiverConfig(fs_hz=profile.symbol_rate * 4), 65_536
    )
    assert [r for r in results if r.ok] == []
    assert summary.frames_ok == 0


def test_differentially_precoded_bpsk_decodes_in_either_phase() -> None:
    # NRZ-M before the convolutional code: each frame's ASM polarity follows the data
    from dsp.profile import load_profile

    profile = load_profile(
        "name: diff\nmodulation: bpsk\nsymbol_rate: 9600\ncoding: conv+rs\nrs_basis: conventional\n"
        "frame_length: 114\nframe_format: raw\nfecf: false\ndifferential: true\n"
    )
    frames = random_frames(profile, 6, seed=15)
    for phase_rad in (0.4, 0.4 + np.pi):
        iq = simulate(
            profile,
            frames,
            LinkConfig(sps=5, ebn0_db=7.0, phase_rad=phase_rad, freq_offset_hz=400.0, seed=16),
        )
        results, _ = _receive(profile, iq, ReceiverConfig(fs_hz=48_000.0), 40_000)
        assert _good(results, frames) == len(frames)


def _noise_then_signal(
    profile: DownlinkProfile, frames: list[bytes], sps: int, noise_s: float, seed: int
) -> NDArray[np.complex64]:
    fs = profile.symbol_rate * sps
    rng = np.random.default_rng(seed)
    link = LinkConfig(sps=sps, ebn0_db=6.0, phase_rad=0.9, freq_offset_hz=-900.0, seed=seed)
    iq = simulate(profile, frames, link)
    n0 = 10 ** (-(6.0 + 10 * np.log10(profile.info_bits_per_channel_bit)) / 10)
    n = int(noise_s * fs)
    lead = (np.sqrt(n0 / 2) * (rng.standard_normal(n) + 1j * rng.standard_normal(n))).astype(
        np.complex64
    )
    return np.concatenate([lead, iq])


def test_signal_arriving_after_noise_is_acquired_again_and_decoded() -> None:
    profile = builtin_profile("ccsds-bpsk-conv-rs")
    frames = random_frames(profile, 12, seed=17)
    iq = _noise_then_signal(profile, frames, 4, 4.0, seed=18)
    results, summary = _receive(profile, iq, ReceiverConfig(fs_hz=profile.symbol_rate * 4), 100_000)
    assert _good(results, frames) >= 10
    assert abs(summary.acquired_offset_hz + 900.0) < 5.0
    assert min(r.asm_time_s for r in results if r.ok) > 4.0


def test_chunking_changes_no_output_across_reacquisition() -> None:
    profile = builtin_profile("ccsds-bpsk-rs")
    frames = random_frames(profile, 10, seed=19)
    iq = _noise_then_signal(profile, frames, 4, 2.5, seed=20)
    config = ReceiverConfig(fs_hz=profile.symbol_rate * 4)
    whole, _ = _receive(profile, iq, config, iq.size)
    assert _good(whole, frames) >= 8
    for chunk in (4096, 33_333):
        pieces, _ = _receive(profile, iq, config, chunk)
        assert [r.to_dict() for r in pieces] == [r.to_dict() for r in whole]


def test_link_budget_over_a_track_sets_the_noise_and_frames_decode_where_it_closes() -> None:
    from dsp.channel import ebn0_from_link_budget

    profile = builtin_profile("ccsds-bpsk-conv-rs")
    frames = random_frames(profile, 10, seed=21)
    t_s = np.array([0.0, 2.0, 4.5, 10.0])
    range_km = np.array([2500.0, 2500.0, 8000.0, 8000.0])  # the link closes early, fails late
    ebn0_db = ebn0_from_link_budget(
        eirp_dbw=-9.0,
        range_km=range_km,
        freq_hz=437e6,
        g_over_t_db_k=-22.0,
        data_rate_bps=9600 * 0.43,
    )
    assert ebn0_db[0] > 6 and ebn0_db[-1] < 1
    link = LinkConfig(sps=4, ebn0_time_s=t_s, ebn0_profile_db=ebn0_db, seed=22)
    iq = simulate(profile, frames, link)
    results, _ = _receive(profile, iq, ReceiverConfig(fs_hz=profile.symbol_rate * 4), 50_000)
    ok_times = [r.asm_time_s for r in results if r.ok and r.frame in set(frames)]
    assert len(ok_times) >= 4
    assert max(ok_times) < 4.5
