"""End-to-end simulation helper: profile + frames + channel -> complex64 IQ chunks.

Composes ``Transmitter`` and ``Channel`` so callers (CLI, bench, tests) state
only the link: Eb/N0 per information bit (transfer-frame bits, so the ASM and
the parity count as overhead), offsets, Doppler profile and clock offset.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dsp.channel import Channel, ChannelConfig, esn0_from_ebn0
from dsp.profile import DownlinkProfile
from dsp.transmitter import Transmitter


@dataclass
class LinkConfig:
    """ebn0_db None means no noise; doppler arrays: time from the first sample;
    lead_symbols: pseudo-random idle symbols sent before the first frame, as a
    satellite's idle transmission lets a receiver settle."""

    sps: int
    ebn0_db: float | None = None
    phase_rad: float = 0.0
    freq_offset_hz: float = 0.0
    doppler_time_s: NDArray[np.float64] | None = None
    doppler_freq_hz: NDArray[np.float64] | None = None
    clock_ppm: float = 0.0
    seed: int = 0
    lead_symbols: int = 512  # idle symbols before the first frame (receiver settling)
    ebn0_time_s: NDArray[np.float64] | None = None  # varying Eb/N0 (link budget over a track)
    ebn0_profile_db: NDArray[np.float64] | None = None


def esn0_db_for(profile: DownlinkProfile, ebn0_db: float) -> float:
    """Es/N0 of the channel symbols for Eb/N0 per transfer-frame bit."""
    return esn0_from_ebn0(ebn0_db, profile.info_bits_per_channel_bit * profile.bits_per_symbol)


def simulate_chunks(
    profile: DownlinkProfile, frames: list[bytes], link: LinkConfig, frames_per_chunk: int = 16
) -> Iterator[NDArray[np.complex64]]:
    """IQ at ``profile.symbol_rate * link.sps`` for ``frames``, a few frames at a time."""
    tx = Transmitter(profile, link.sps, clock_ppm=link.clock_ppm)
    channel = Channel(
        ChannelConfig(
            fs_hz=tx.fs_hz,
            phase_rad=link.phase_rad,
            freq_offset_hz=link.freq_offset_hz,
            doppler_time_s=link.doppler_time_s,
            doppler_freq_hz=link.doppler_freq_hz,
            esn0_db=None if link.ebn0_db is None else esn0_db_for(profile, link.ebn0_db),
            esn0_time_s=link.ebn0_time_s,
            esn0_profile_db=None
            if link.ebn0_profile_db is None
            else esn0_db_for(profile, 0.0) + np.asarray(link.ebn0_profile_db, dtype=np.float64),
            seed=link.seed,
        )
    )
    if link.lead_symbols:
        rng = np.random.default_rng(link.seed + 1)
        idle = rng.integers(0, 2, link.lead_symbols * profile.bits_per_symbol, dtype=np.uint8)
        yield channel.process(tx.shaper.process(tx.modulation.map_bits(idle)))
    n = len(frames)
    for start in range(0, max(n, 1), frames_per_chunk):
        batch = frames[start : start + frames_per_chunk]
        final = start + frames_per_chunk >= n
        yield channel.process(tx.process(batch, final=final))


def simulate(
    profile: DownlinkProfile, frames: list[bytes], link: LinkConfig
) -> NDArray[np.complex64]:
    """All IQ for ``frames`` as one array."""
    return np.concatenate(list(simulate_chunks(profile, frames, link)))
