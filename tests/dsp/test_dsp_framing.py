import pytest

from dsp.space_packets import PacketExtractor, PacketMultiplexer, make_packet
from dsp.tm_frame import TmFrameHeader, build_tm_frame, data_field_length, parse_tm_frame


def test_tm_frame_round_trips_header_fields_and_data() -> None:
    header = TmFrameHeader(
        spacecraft_id=0x2AB,
        virtual_channel_id=5,
        master_channel_frame_count=200,
        virtual_channel_frame_count=17,
        first_header_pointer=0x123,
    )
    data = bytes(range(215))
    frame = build_tm_frame(header, data, fecf=True)
    assert len(frame) == 223
    parsed = parse_tm_frame(frame, fecf=True)
    assert parsed.header == header
    assert parsed.data_field == data
    assert parsed.crc_ok is True


def test_tm_frame_crc_flags_a_flipped_bit() -> None:
    frame = bytearray(build_tm_frame(TmFrameHeader(spacecraft_id=1), bytes(100)))
    frame[50] ^= 0x04
    assert parse_tm_frame(bytes(frame)).crc_ok is False


def test_tm_header_refuses_an_out_of_range_field_naming_it() -> None:
    with pytest.raises(ValueError, match="spacecraft_id is 1024"):
        TmFrameHeader(spacecraft_id=1024).pack()


def test_tm_header_packs_the_standard_bit_layout() -> None:
    raw = TmFrameHeader(
        spacecraft_id=0x3FF, virtual_channel_id=7, first_header_pointer=0x7FF
    ).pack()
    assert raw.hex() == "3ffe00001fff"


def test_packets_split_across_frames_are_reassembled() -> None:
    field_len = data_field_length(223, fecf=True)
    mux = PacketMultiplexer(field_len)
    packets = [make_packet(0x55, i, bytes([i]) * (50 + 37 * i)) for i in range(8)]
    for p in packets:
        mux.push(p)
    extractor = PacketExtractor()
    out = []
    for _ in range(12):
        field, fhp = mux.next_field()
        assert len(field) == field_len
        out.extend(extractor.push(field, fhp))
    assert out == packets


def test_extractor_resynchronises_on_the_first_header_pointer_after_a_gap() -> None:
    field_len = 100
    mux = PacketMultiplexer(field_len)
    packets = [make_packet(0x10, i, bytes([i]) * 70) for i in range(6)]
    for p in packets:
        mux.push(p)
    fields = [mux.next_field() for _ in range(6)]
    extractor = PacketExtractor()
    out = []
    for field, fhp in fields[1:]:  # first frame lost
        out.extend(extractor.push(field, fhp))
    # frame 2 starts mid-packet 1: packets 2.. are recovered, never a corrupt one
    assert out == packets[2:]
