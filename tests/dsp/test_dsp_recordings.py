"""Real satellite recordings (public domain, from the satellite-recordings
collection gr-satellites tests with): audio WAV, signal on a subcarrier."""

from pathlib import Path

import numpy as np
from scipy.io import wavfile
from scipy.signal import hilbert

from dsp.profile import builtin_profile
from dsp.receiver import Receiver, ReceiverConfig

DATA = Path(__file__).parents[1] / "data" / "dsp" / "recordings"


def test_by70_1_recording_yields_at_least_the_13_frames_gr_satellites_finds() -> None:
    fs_hz, audio = wavfile.read(DATA / "by701.wav")
    iq = hilbert(audio.astype(np.float64) / 32768.0).astype(np.complex64)
    profile = builtin_profile("by70-1")
    rx = Receiver(
        profile, ReceiverConfig(fs_hz=float(fs_hz), center_offset_hz=12_000.0, max_offset_hz=3000.0)
    )
    results = []
    for start in range(0, iq.size, 48_000):
        results += rx.process(iq[start : start + 48_000])
    results += rx.flush()
    good = [r for r in results if r.ok]
    assert len(good) >= 13
    assert len({r.frame for r in good}) == len(good)
    assert all(len(r.frame) == 114 for r in good)
    times = np.array([r.asm_time_s for r in good])
    assert np.all(np.diff(times) > 0.2)  # one 114-byte frame lasts 0.25 s
