"""CCSDS TM Transfer Frames (CCSDS 132.0-B): header fields + data field <-> frame bytes.

Primary header (6 bytes): version 00, spacecraft id (10 bits), virtual
channel id (3), OCF flag (1), master and virtual channel frame counts (8
each), data field status (secondary header flag, sync flag, packet order,
segment length id, first header pointer (11 bits)). An optional frame error
control field (CRC-16-CCITT over everything before it) closes the frame.
"""

from __future__ import annotations

from dataclasses import dataclass

from dsp.crc import crc16_ccitt

PRIMARY_HEADER_LEN = 6
FECF_LEN = 2
OCF_LEN = 4
FHP_NO_PACKET_START = 0x7FF
FHP_IDLE = 0x7FE


@dataclass(frozen=True)
class TmFrameHeader:
    """The TM primary header fields."""

    spacecraft_id: int
    virtual_channel_id: int = 0
    master_channel_frame_count: int = 0
    virtual_channel_frame_count: int = 0
    first_header_pointer: int = 0
    ocf_flag: bool = False
    secondary_header_flag: bool = False
    sync_flag: bool = False
    packet_order_flag: bool = False
    segment_length_id: int = 3
    version: int = 0

    def pack(self) -> bytes:
        fields = (
            ("spacecraft_id", self.spacecraft_id, 10),
            ("virtual_channel_id", self.virtual_channel_id, 3),
            ("master_channel_frame_count", self.master_channel_frame_count, 8),
            ("virtual_channel_frame_count", self.virtual_channel_frame_count, 8),
            ("first_header_pointer", self.first_header_pointer, 11),
            ("segment_length_id", self.segment_length_id, 2),
            ("version", self.version, 2),
        )
        for name, value, width in fields:
            if not 0 <= value < (1 << width):
                raise ValueError(
                    f"TM header field {name} is {value}, expected 0..{(1 << width) - 1}"
                )
        word0 = (
            (self.version << 14)
            | (self.spacecraft_id << 4)
            | (self.virtual_channel_id << 1)
            | int(self.ocf_flag)
        )
        status = (
            (int(self.secondary_header_flag) << 15)
            | (int(self.sync_flag) << 14)
            | (int(self.packet_order_flag) << 13)
            | (self.segment_length_id << 11)
            | self.first_header_pointer
        )
        return bytes(
            [
                word0 >> 8,
                word0 & 0xFF,
                self.master_channel_frame_count,
                self.virtual_channel_frame_count,
                status >> 8,
                status & 0xFF,
            ]
        )

    @classmethod
    def unpack(cls, raw: bytes) -> TmFrameHeader:
        if len(raw) < PRIMARY_HEADER_LEN:
            raise ValueError(f"TM header is {len(raw)} bytes, expected at least 6")
        word0 = (raw[0] << 8) | raw[1]
        status = (raw[4] << 8) | raw[5]
        return cls(
            version=word0 >> 14,
            spacecraft_id=(word0 >> 4) & 0x3FF,
            virtual_channel_id=(word0 >> 1) & 0x7,
            ocf_flag=bool(word0 & 1),
            master_channel_frame_count=raw[2],
            virtual_channel_frame_count=raw[3],
            secondary_header_flag=bool(status >> 15),
            sync_flag=bool((status >> 14) & 1),
            packet_order_flag=bool((status >> 13) & 1),
            segment_length_id=(status >> 11) & 0x3,
            first_header_pointer=status & 0x7FF,
        )


@dataclass(frozen=True)
class TmFrame:
    """A parsed frame; ``crc_ok`` is None when the profile has no FECF."""

    header: TmFrameHeader
    data_field: bytes
    ocf: bytes | None
    crc_ok: bool | None


def data_field_length(frame_length: int, fecf: bool, ocf: bool = False) -> int:
    """Bytes of data field in a frame of ``frame_length`` bytes."""
    n = frame_length - PRIMARY_HEADER_LEN - (FECF_LEN if fecf else 0) - (OCF_LEN if ocf else 0)
    if n <= 0:
        raise ValueError(f"frame_length is {frame_length} bytes, too short for a TM frame")
    return n


def build_tm_frame(
    header: TmFrameHeader, data_field: bytes, *, fecf: bool = True, ocf: bytes | None = None
) -> bytes:
    """Header + data field (+ OCF) (+ CRC-16 FECF)."""
    if header.ocf_flag != (ocf is not None):
        raise ValueError(f"ocf_flag is {header.ocf_flag} but ocf is {ocf!r}")
    if ocf is not None and len(ocf) != OCF_LEN:
        raise ValueError(f"OCF is {len(ocf)} bytes, expected 4")
    body = header.pack() + bytes(data_field) + (ocf or b"")
    if fecf:
        crc = crc16_ccitt(body)
        body += bytes([crc >> 8, crc & 0xFF])
    return body


def parse_tm_frame(frame: bytes, *, fecf: bool = True) -> TmFrame:
    """Split a frame into header, data field, OCF and FECF status."""
    header = TmFrameHeader.unpack(frame)
    end = len(frame)
    crc_ok: bool | None = None
    if fecf:
        end -= FECF_LEN
        crc_ok = crc16_ccitt(frame[:end]) == ((frame[end] << 8) | frame[end + 1])
    ocf = None
    if header.ocf_flag:
        ocf = bytes(frame[end - OCF_LEN : end])
        end -= OCF_LEN
    return TmFrame(
        header=header,
        data_field=bytes(frame[PRIMARY_HEADER_LEN:end]),
        ocf=ocf,
        crc_ok=crc_ok,
    )
