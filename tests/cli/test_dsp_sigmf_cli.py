from __future__ import annotations

import json
from pathlib import Path

import pytest

from groundstation.cli import main


def test_simulated_sigmf_recording_decodes_with_the_rate_from_its_metadata(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = tmp_path / "pass"
    sent = tmp_path / "sent.hex"
    assert main(["simulate", "--profile", "ccsds-bpsk-conv-rs", "--frames", "6",
                 "--ebn0", "7", "--out", str(base), "--format", "sigmf",
                 "--carrier-hz", "437.1e6", "--frames-out", str(sent)]) == 0  # fmt: skip
    meta = json.loads((tmp_path / "pass.sigmf-meta").read_text())
    assert meta["global"]["core:datatype"] == "cf32_le"
    assert meta["global"]["core:sample_rate"] == 38400
    assert meta["captures"][0]["core:frequency"] == pytest.approx(437.1e6)
    capsys.readouterr()
    assert main(["decode", "--profile", "ccsds-bpsk-conv-rs", "--iq",
                 str(tmp_path / "pass.sigmf-meta"), "--format", "sigmf"]) == 0  # fmt: skip
    decoded = capsys.readouterr().out.split()
    assert decoded == sent.read_text().split()


def test_sigmf_decode_refuses_a_conflicting_rate_and_other_datatypes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = tmp_path / "rec"
    assert main(["simulate", "--profile", "bpsk-uncoded", "--frames", "2", "--out", str(base),
                 "--format", "sigmf"]) == 0  # fmt: skip
    capsys.readouterr()
    args = ["decode", "--profile", "bpsk-uncoded", "--iq", str(base), "--format", "sigmf"]
    assert main([*args, "--sample-rate", "1000"]) == 2
    assert "disagrees with the SigMF core:sample_rate" in capsys.readouterr().err
    meta_path = tmp_path / "rec.sigmf-meta"
    meta = json.loads(meta_path.read_text())
    meta["global"]["core:datatype"] = "ci16_le"
    meta_path.write_text(json.dumps(meta))
    assert main(args) == 2
    assert "core:datatype is 'ci16_le'" in capsys.readouterr().err
