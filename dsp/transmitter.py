"""The simulated satellite: payload bytes -> TM frames -> channel bits -> complex64 IQ.

``TmFrameSource`` packs payload into Space Packets and those into TM frames
(frame counters, first header pointer, FECF per profile); ``RawFrameSource``
emits payload-filled frames for ``frame_format: raw``. ``Transmitter``
codes, maps and shapes them at ``sps`` samples per symbol.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from dsp.coding import ChannelCode
from dsp.modulation import MODULATION_REGISTRY
from dsp.modulator import PulseShaper
from dsp.profile import DownlinkProfile
from dsp.space_packets import PacketMultiplexer, make_packet
from dsp.tm_frame import TmFrameHeader, build_tm_frame, data_field_length


class TmFrameSource:
    """TM frames of one virtual channel carrying Space Packets of ``apid``."""

    def __init__(
        self, profile: DownlinkProfile, *, apid: int = 0x100, virtual_channel_id: int = 0
    ) -> None:
        self.profile = profile
        self.apid = apid
        self.virtual_channel_id = virtual_channel_id
        self._mux = PacketMultiplexer(data_field_length(profile.frame_length, profile.fecf))
        self._packet_count = 0
        self._frame_count = 0

    def push_payload(self, payload: bytes, packet_size: int = 200) -> None:
        """Queue payload bytes as Space Packets of at most ``packet_size`` data bytes."""
        for start in range(0, len(payload), packet_size):
            self._mux.push(
                make_packet(self.apid, self._packet_count, payload[start : start + packet_size])
            )
            self._packet_count += 1

    def next_frame(self) -> bytes:
        field, fhp = self._mux.next_field()
        count = self._frame_count % 256
        header = TmFrameHeader(
            spacecraft_id=self.profile.spacecraft_id,
            virtual_channel_id=self.virtual_channel_id,
            master_channel_frame_count=count,
            virtual_channel_frame_count=count,
            first_header_pointer=fhp,
        )
        self._frame_count += 1
        return build_tm_frame(header, field, fecf=self.profile.fecf)


class RawFrameSource:
    """Frames of random bytes (``frame_format: raw``)."""

    def __init__(self, profile: DownlinkProfile, seed: int = 0) -> None:
        self.profile = profile
        self._rng = np.random.default_rng(seed)

    def next_frame(self) -> bytes:
        return self._rng.integers(0, 256, self.profile.frame_length, dtype=np.uint8).tobytes()


def _tm_source(profile: DownlinkProfile, seed: int) -> Callable[[], bytes]:
    source = TmFrameSource(profile)
    rng = np.random.default_rng(seed)

    def next_frame() -> bytes:
        source.push_payload(rng.integers(0, 256, profile.frame_length, dtype=np.uint8).tobytes())
        return source.next_frame()

    return next_frame


FRAME_SOURCES: dict[str, Callable[[DownlinkProfile, int], Callable[[], bytes]]] = {
    "tm": _tm_source,
    "raw": lambda profile, seed: RawFrameSource(profile, seed).next_frame,
}


def random_frames(profile: DownlinkProfile, n_frames: int, seed: int = 0) -> list[bytes]:
    """``n_frames`` frames of random payload in the profile's frame format."""
    next_frame = FRAME_SOURCES[profile.frame_format](profile, seed)
    return [next_frame() for _ in range(n_frames)]


class Transmitter:
    """Frames -> complex64 IQ at ``sps`` samples per symbol (streaming)."""

    def __init__(self, profile: DownlinkProfile, sps: int, clock_ppm: float = 0.0) -> None:
        self.profile = profile
        self.sps = sps
        self.code = ChannelCode(profile)
        self.modulation = MODULATION_REGISTRY[profile.modulation]
        self.shaper = PulseShaper(sps, profile.rrc_alpha, clock_ppm)
        self._leftover_bits = np.zeros(0, dtype=np.uint8)

    @property
    def fs_hz(self) -> float:
        return float(self.profile.symbol_rate) * self.sps

    def channel_symbols(self, frames: list[bytes]) -> NDArray[np.complex64]:
        """Coded, mapped symbols for ``frames`` (no shaping)."""
        bits = np.concatenate([self._leftover_bits, self.code.encode_frames(frames)])
        k = self.modulation.bits_per_symbol
        usable = bits.size - bits.size % k
        self._leftover_bits = bits[usable:]
        return self.modulation.map_bits(bits[:usable])

    def process(self, frames: list[bytes], final: bool = False) -> NDArray[np.complex64]:
        """IQ for ``frames``; ``final`` flushes the pulse tails."""
        return self.shaper.process(self.channel_symbols(frames), final=final)
