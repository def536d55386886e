"""Interoperability: IQ written by our simulator decodes in gr-satellites
(an independent implementation of the CCSDS codes: dual-basis RS, randomizer,
convolutional code, differential precoding)."""

import subprocess
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from dsp.amateur_tx import CatalogueTransmitter
from dsp.amateur_tx import random_frames as amateur_random_frames
from dsp.channel import Channel, ChannelConfig
from dsp.kiss import kiss_decode
from dsp.profile import DownlinkProfile, builtin_profile
from dsp.simulate import LinkConfig, simulate
from dsp.transmitter import random_frames
from groundstation.satellites import load_catalogue

RUNNER = Path(__file__).with_name("grsat_run.py")
FRAMINGS = {"conv+rs": "CCSDS Concatenated", "rs": "CCSDS Reed-Solomon"}


def satyaml(profile: DownlinkProfile) -> str:
    lines = [
        "name: GSTEST",
        "norad: 99999",
        "data:",
        "  &tlm Telemetry:",
        "    unknown",
        "transmitters:",
        "  downlink:",
        "    frequency: 437.000e+6",
        f"    modulation: {profile.modulation.upper()}",
        f"    baudrate: {profile.symbol_rate}",
        f"    framing: {FRAMINGS[profile.coding]}",
        f"    RS basis: {profile.rs_basis}",
        f"    RS interleaving: {profile.rs_interleave}",
        f"    frame size: {profile.frame_length}",
        f"    scrambler: {'CCSDS' if profile.randomizer else 'none'}",
    ]
    if profile.differential:
        lines.append("    precoding: differential")
    lines += ["    data:", "    - *tlm", ""]
    return "\n".join(lines)


def _gr_satellites(
    tmp_path: Path, profile: DownlinkProfile, iq: NDArray[np.complex64], sps: int, tag: str
) -> list[bytes]:
    iq_path = tmp_path / f"{tag}.cf32"
    iq.tofile(iq_path)
    yml = tmp_path / "gstest.yml"
    yml.write_text(satyaml(profile))
    kiss = tmp_path / f"{tag}.kiss"
    run = subprocess.run(
        [
            "/usr/bin/python3",
            str(RUNNER),
            str(yml),
            "--iq",
            "--rawfile",
            str(iq_path),
            "--samp_rate",
            str(profile.symbol_rate * sps),
            "--kiss_out",
            str(kiss),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return kiss_decode(kiss.read_bytes()) if kiss.exists() else []


@pytest.mark.parametrize("name", ["ccsds-bpsk-conv-rs", "by70-1", "ccsds-bpsk-rs"])
def test_gr_satellites_decodes_our_simulated_iq(grsat: None, tmp_path: Path, name: str) -> None:
    # gr-satellites leaves the BPSK 180-degree ambiguity to luck (its Costas loop
    # may lock either way and it looks for the ASM upright only), so it gets the
    # stream and its negation: its loops behave identically on both, and the
    # one it locks upright on decodes.
    profile = builtin_profile(name)
    frames = random_frames(profile, 12, seed=31)
    sps = 5
    link = LinkConfig(sps=sps, ebn0_db=9.0, phase_rad=0.5, freq_offset_hz=200.0, seed=32)
    iq = simulate(profile, frames, link)
    upright = _gr_satellites(tmp_path, profile, iq, sps, "upright")
    negated = _gr_satellites(tmp_path, profile, -iq, sps, "negated")
    sent = set(frames)
    assert [f for f in upright + negated if f not in sent] == []
    assert len(set(upright) | set(negated)) >= len(frames) - 3  # its loops settle on the first ones


def test_gr_satellites_decodes_our_simulated_manchester_dbpsk(grsat: None, tmp_path: Path) -> None:
    """QO-100's beacon as dsp.amateur_tx sends it (AO-40 FEC, Manchester DBPSK,
    400 baud) decodes in gr-satellites' "DBPSK Manchester": the chip order
    and the differential code (the phase turns for a 1) are the AO-40
    beacon's as gr-satellites reads real ones."""
    tx = load_catalogue().find("QO-100").transmitters[0]
    sender = CatalogueTransmitter(tx, seed=1)
    frames = amateur_random_frames(tx, 3, seed=2)
    channel = Channel(
        ChannelConfig(fs_hz=sender.fs_hz, phase_rad=1.0, freq_offset_hz=60.0, esn0_db=15.0)
    )
    iq = channel.process(sender.process(frames, final=True))
    iq = np.concatenate([iq, np.zeros(int(sender.fs_hz), np.complex64)])
    iq_path, yml, kiss = tmp_path / "qo100.cf32", tmp_path / "qo100.yml", tmp_path / "qo100.kiss"
    iq.tofile(iq_path)
    yml.write_text(
        "\n".join(
            [
                "name: GSTEST",
                "norad: 99999",
                "data:",
                "  &tlm Telemetry:",
                "    unknown",
                "transmitters:",
                "  downlink:",
                "    frequency: 10489.800e+6",
                "    modulation: DBPSK Manchester",
                "    baudrate: 400",
                "    framing: AO-40 FEC",
                "    data:",
                "    - *tlm",
                "",
            ]
        )
    )
    run = subprocess.run(
        ["/usr/bin/python3", str(RUNNER), str(yml), "--iq", "--rawfile", str(iq_path)]
        + ["--samp_rate", str(sender.fs_hz), "--kiss_out", str(kiss)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    theirs = kiss_decode(kiss.read_bytes()) if kiss.exists() else []
    assert [f for f in theirs if f not in frames] == []
    assert len(set(theirs)) >= 2  # its loops may still be settling on the first
