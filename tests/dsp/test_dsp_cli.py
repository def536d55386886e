import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from groundstation.cli import run_command
from groundstation.commands import dsp as dsp_command


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="groundstation")
    sub = parser.add_subparsers(dest="command", required=True)
    dsp_command.register(sub)
    args = parser.parse_args(argv)
    return run_command(args)


def test_simulate_then_decode_prints_every_sent_frame(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    iq = tmp_path / "pass.cf32"
    sent = tmp_path / "sent.hex"
    code = _run(
        [
            "simulate",
            "--profile",
            "ccsds-bpsk-conv-rs",
            "--frames",
            "6",
            "--ebn0",
            "7",
            "--out",
            str(iq),
            "--sps",
            "4",
            "--freq-offset-hz",
            "800",
            "--phase-rad",
            "1.2",
            "--frames-out",
            str(sent),
        ]
    )
    assert code == 0
    assert iq.stat().st_size > 6 * 4144 * 4 * 8
    capsys.readouterr()
    assert (
        _run(
            ["decode", "--profile", "ccsds-bpsk-conv-rs", "--iq", str(iq), "--sample-rate", "38400"]
        )
        == 0
    )
    lines = capsys.readouterr().out.split()
    assert lines == sent.read_text().split()


def test_decode_json_reports_frames_and_pass_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    iq = tmp_path / "pass.cf32"
    _run(
        ["simulate", "--profile", "ccsds-bpsk-rs", "--frames", "4", "--ebn0", "9", "--out", str(iq)]
    )
    capsys.readouterr()
    assert (
        _run(
            [
                "decode",
                "--profile",
                "ccsds-bpsk-rs",
                "--iq",
                str(iq),
                "--sample-rate",
                "38400",
                "--json",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["frames_ok"] == 4
    assert [f["master_channel_frame_count"] for f in report["frames"]] == [0, 1, 2, 3]
    assert all(f["crc_ok"] for f in report["frames"])
    assert report["summary"]["esn0_db"] > 5
    assert len(report["packets"]) >= 3


def test_decode_with_range_rate_csv_precompensates_doppler(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    track = tmp_path / "track.csv"
    t_s = np.arange(0, 30.0, 1.0)
    track.write_text("time_s,range_rate_km_s\n" + "".join(f"{t},{-5.0 + 0.1 * t}\n" for t in t_s))
    iq = tmp_path / "pass.cf32"
    common = ["--range-rate-csv", str(track), "--carrier-hz", "437e6"]
    _run(
        [
            "simulate",
            "--profile",
            "ccsds-bpsk-conv-rs",
            "--frames",
            "4",
            "--ebn0",
            "8",
            "--out",
            str(iq),
        ]
        + common
    )
    capsys.readouterr()
    code = _run(
        [
            "decode",
            "--profile",
            "ccsds-bpsk-conv-rs",
            "--iq",
            str(iq),
            "--sample-rate",
            "38400",
            "--json",
            "--max-offset-hz",
            "500",
        ]
        + common
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out)["summary"]["frames_ok"] == 4


def test_a_bad_profile_file_is_reported_with_field_and_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = tmp_path / "mine.yaml"
    profile.write_text("name: mine\nmodulation: gmsk\nsymbol_rate: 9600\n")
    iq = tmp_path / "x.cf32"
    np.zeros(16, np.complex64).tofile(iq)
    code = _run(["decode", "--profile", str(profile), "--iq", str(iq), "--sample-rate", "38400"])
    assert code == 2
    err = capsys.readouterr().err
    assert "'modulation'" in err and "gmsk" in err


def test_decode_refuses_a_file_that_is_not_whole_cf32_samples(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    iq = tmp_path / "odd.cf32"
    iq.write_bytes(bytes(12))
    assert (
        _run(["decode", "--profile", "ccsds-bpsk-rs", "--iq", str(iq), "--sample-rate", "38400"])
        == 2
    )
    assert "12 bytes" in capsys.readouterr().err


def test_decode_packets_prints_the_space_packets_carried_by_the_frames(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from spacepackets.ccsds.spacepacket import SpacePacketHeader

    iq = tmp_path / "pass.cf32"
    _run(
        [
            "simulate",
            "--profile",
            "ccsds-bpsk-conv-rs",
            "--frames",
            "8",
            "--ebn0",
            "8",
            "--out",
            str(iq),
        ]
    )
    capsys.readouterr()
    assert (
        _run(
            [
                "decode",
                "--profile",
                "ccsds-bpsk-conv-rs",
                "--iq",
                str(iq),
                "--sample-rate",
                "38400",
                "--packets",
            ]
        )
        == 0
    )
    packets = [bytes.fromhex(line) for line in capsys.readouterr().out.split()]
    assert len(packets) >= 6
    headers = [SpacePacketHeader.unpack(p[:6]) for p in packets]
    assert {h.apid for h in headers} == {0x100}
    assert [h.seq_count for h in headers] == list(
        range(headers[0].seq_count, headers[0].seq_count + len(headers))
    )
    assert all(len(p) == h.packet_len for p, h in zip(packets, headers, strict=True))
