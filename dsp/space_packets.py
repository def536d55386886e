"""Space Packets in TM frame data fields: packets <-> frame data fields.

``PacketMultiplexer`` (transmit) cuts a stream of CCSDS Space Packets (built
with ``spacepackets``) into fixed-size data fields and computes each first
header pointer; idle packets (APID 0x7FF) fill frames when no data waits.
``PacketExtractor`` (receive) reassembles packets from data fields with their
first header pointers, dropping partial packets after a frame gap.
"""

from __future__ import annotations

from spacepackets.ccsds.spacepacket import (
    PacketType,
    SpacePacket,
    SpacePacketHeader,
)

from dsp.tm_frame import FHP_NO_PACKET_START

IDLE_APID = 0x7FF
HEADER_LEN = 6


def make_packet(apid: int, seq_count: int, payload: bytes) -> bytes:
    """One TM Space Packet with ``payload`` as user data."""
    if not payload:
        raise ValueError("payload is empty, a Space Packet needs at least one byte")
    header = SpacePacketHeader(
        packet_type=PacketType.TM, apid=apid, seq_count=seq_count % 16384, data_len=len(payload) - 1
    )
    packed: bytes = SpacePacket(header, None, payload).pack()
    return bytes(packed)


class PacketMultiplexer:
    """Fills data fields of ``field_length`` bytes from queued packets."""

    def __init__(self, field_length: int) -> None:
        if field_length <= 0:
            raise ValueError(f"field_length is {field_length}, expected > 0")
        self.field_length = field_length
        self._pending = bytearray()
        self._starts: list[int] = []  # packet start offsets within _pending
        self._idle_count = 0

    def push(self, packet: bytes) -> None:
        self._starts.append(len(self._pending))
        self._pending.extend(packet)

    def next_field(self) -> tuple[bytes, int]:
        """(data field, first header pointer)."""
        while len(self._pending) < self.field_length:
            need = self.field_length - len(self._pending)
            self.push(make_packet(IDLE_APID, self._idle_count, bytes(max(need - HEADER_LEN, 1))))
            self._idle_count += 1
        field = bytes(self._pending[: self.field_length])
        inside = [s for s in self._starts if s < self.field_length]
        fhp = inside[0] if inside else FHP_NO_PACKET_START
        del self._pending[: self.field_length]
        self._starts = [s - self.field_length for s in self._starts if s >= self.field_length]
        return field, fhp


class PacketExtractor:
    """Reassembles packets from consecutive data fields of one virtual channel."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._synced = False

    def reset(self) -> None:
        """Forget a partial packet (call on a frame gap or a failed frame)."""
        self._buffer.clear()
        self._synced = False

    def push(self, data_field: bytes, first_header_pointer: int) -> list[bytes]:
        """Complete packets ending in this data field (idle packets dropped)."""
        if not self._synced:
            if first_header_pointer == FHP_NO_PACKET_START or first_header_pointer >= len(
                data_field
            ):
                return []
            data_field = data_field[first_header_pointer:]
            self._synced = True
        self._buffer.extend(data_field)
        packets = []
        while len(self._buffer) >= HEADER_LEN:
            header = SpacePacketHeader.unpack(bytes(self._buffer[:HEADER_LEN]))
            total = int(header.packet_len)
            if len(self._buffer) < total:
                break
            if header.apid != IDLE_APID:
                packets.append(bytes(self._buffer[:total]))
            del self._buffer[:total]
        return packets
