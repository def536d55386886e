"""``groundstation decode --satellite``: every transmitter of a catalogue
satellite from a recording (issue 14, "Command line"). The 15 real
recordings decode through the command line with every frame gr-satellites
found; --json carries per-frame metadata; --kiss writes frames that KISS
decoding gives back; stereo WAV I/Q, raw cf32 and SigMF inputs decode;
recordings are read in blocks; bad input exits 2 naming it, nothing decoded
exits 1 saying what was tried."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy.io import wavfile

from dsp.amateur_sim import (
    FRAMERS,
    add_noise,
    bpsk_baseband,
    ccsds_framer,
    fm_iq,
    fsk_audio,
    upconvert,
)
from dsp.chain import DecodedFrame, ccsds_profile
from dsp.coding import ChannelCode
from dsp.kiss import kiss_decode
from groundstation.cli import main
from groundstation.commands import dsp as dsp_command
from groundstation.satellites import load_catalogue

RECORDINGS = Path(__file__).resolve().parents[1] / "data" / "dsp" / "recordings"
# file: satellite, as the recordings README names them (NORAD ids for some)
SATELLITE_OF = {
    "by701": "BY70-1",
    "trisat": "46280",
    "ks_1q": "KS-1Q",
    "entrysat": "EntrySat",
    "fmn1": "43192",
    "pwsat2": "PW-Sat2",
    "us01": "US01",
    "upmsat_2": "UPMSat 2",
    "facsat_1": "FACSAT-1",
    "luojia-1": "Luojia-1",
    "suomi_100": "Suomi 100",
    "ca03_9k6": "CA03",
    "gomx_3": "40949",
    "aisat": "AISAT",
    "ao73": "AO-73",
}
FS = 48_000.0


def reference(name: str) -> set[str]:
    return set((RECORDINGS / "frames" / f"{name}.hex").read_text().split())


def decode(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = main(["decode", *argv])
    except SystemExit as exc:  # argparse's own refusals
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def frame_lines(out: str) -> list[str]:
    """The frame lines of hex output; every other line is a comment."""
    lines = [line for line in out.splitlines() if line]
    assert all(line.startswith("#") or bytes.fromhex(line) for line in lines)
    return [line for line in lines if not line.startswith("#")]


@pytest.mark.parametrize("name", list(SATELLITE_OF))
def test_each_recording_decodes_through_the_command_line_with_the_reference_frames(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = decode(
        capsys, "--satellite", SATELLITE_OF[name], "--iq", str(RECORDINGS / f"{name}.wav")
    )
    assert code == 0, err
    frames = frame_lines(out)
    assert reference(name) <= set(frames)
    assert out.splitlines()[-1].startswith(f"# {len(frames)} frames")


def test_json_gives_each_frame_with_transmitter_time_carrier_snr_and_corrections(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = decode(
        capsys, "--satellite", "41909", "--iq", str(RECORDINGS / "by701.wav"), "--json"
    )
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]  # stdout: JSON lines only
    assert len(records) >= 25 and err.startswith("# BY70-1 (41909)")
    assert reference("by701") <= {r["frame_hex"] for r in records}
    for r in records:
        assert (r["satellite"], r["norad_id"]) == ("BY70-1", 41909)
        assert r["transmitter"] == "9k6 BPSK downlink"
        assert 0 <= r["time_s"] <= 12.8
        assert 10_800 < r["carrier_hz"] < 11_700  # the SSB subcarrier the receiver found
        assert 0 < r["snr_db"] < 40
        assert set(r["corrections"]) == {"rs"} and r["corrections"]["rs"] >= 0
        assert r["length"] == 114 == len(bytes.fromhex(r["frame_hex"]))
    times = [r["time_s"] for r in records]
    assert times == sorted(times)


def test_kiss_file_holds_the_printed_frames(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kiss = tmp_path / "frames.kiss"
    code, out, _ = decode(
        capsys, "--satellite", "AISAT", "--iq", str(RECORDINGS / "aisat.wav"), "--kiss", str(kiss)
    )
    assert code == 0
    printed = [bytes.fromhex(line) for line in frame_lines(out)]
    assert len(printed) >= 21
    assert kiss_decode(kiss.read_bytes()) == printed


def test_a_recording_is_read_in_blocks_and_gives_the_same_frames_whatever_their_size(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dsp.chain import SatelliteReceiver

    argv = ("--satellite", "FACSAT-1", "--iq", str(RECORDINGS / "facsat_1.wav"))
    sizes: list[int] = []
    process = SatelliteReceiver.process

    def spy(self: SatelliteReceiver, samples: NDArray[np.generic]) -> list[DecodedFrame]:
        sizes.append(samples.size)
        return process(self, samples)

    monkeypatch.setattr(SatelliteReceiver, "process", spy)
    code, out, _ = decode(capsys, *argv)
    assert code == 0
    n_samples = wavfile.read(RECORDINGS / "facsat_1.wav", mmap=True)[1].shape[0]
    assert sum(sizes) == n_samples
    assert max(sizes) == dsp_command.SATELLITE_CHUNK_SAMPLES < n_samples
    monkeypatch.setattr(dsp_command, "SATELLITE_CHUNK_SAMPLES", 4099)
    assert decode(capsys, *argv)[1:] == (out, "")
    assert max(sizes[-10:]) == 4099


# ----- simulated I/Q: stereo WAV, cf32, SigMF -----
def _frames(n: int, size: int, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size, dtype=np.uint8).tobytes() for _ in range(n)]


def us01_iq(frames: list[bytes]) -> np.ndarray:
    """US01's downlink (FSK 9600 Bd, AX.25 G3RUH) as FM I/Q, 2.5 kHz off
    centre, 400 ppm clock offset, noise."""
    tx = load_catalogue().find("US01").transmitters[0]
    audio = fsk_audio(FRAMERS["ax25-g3ruh"](frames, 3), FS, tx.baud_rate, clock_ppm=-400)
    iq = fm_iq(audio / 0.3, FS, tx.deviation_hz or tx.baud_rate / 2, 2500.0)
    return np.asarray(add_noise(iq, 0.1, seed=5), np.complex64)


def by70_iq(frames: list[bytes]) -> np.ndarray:
    """BY70-1's downlink (BPSK 9600 Bd, CCSDS concatenated, differential) as
    I/Q 1.7 kHz off centre, 100 ppm clock offset, noise."""
    tx = load_catalogue().find("BY70-1").transmitters[0]
    code = ChannelCode(ccsds_profile(tx, True))
    bits = ccsds_framer(code)(frames, 3)  # the code precodes differentially
    shaped = upconvert(bpsk_baseband(bits, 5, clock_ppm=100), FS, -1_700.0, 0.9)
    return np.asarray(add_noise(0.2 * shaped, 0.02, seed=6), np.complex64)


def test_stereo_wav_is_decoded_as_iq(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frames = _frames(3, 90, seed=1)
    iq = us01_iq(frames)
    path = tmp_path / "us01-iq.wav"
    pcm = np.stack([iq.real, iq.imag], axis=1) / 2.0
    wavfile.write(path, int(FS), np.round(pcm * 32767).astype(np.int16))
    code, out, _ = decode(capsys, "--satellite", "US01", "--iq", str(path))
    assert code == 0
    assert "of I/Q at 48000 Hz" in out.splitlines()[0]
    assert frame_lines(out) == [f.hex() for f in frames]


def test_cf32_with_sample_rate_and_sigmf_are_decoded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frames = _frames(3, 114, seed=2)
    iq = by70_iq(frames)
    raw = tmp_path / "by70.cf32"
    iq.tofile(raw)
    code, out, _ = decode(
        capsys, "--satellite", "BY70-1", "--iq", str(raw), "--sample-rate", "48000"
    )
    assert code == 0 and frame_lines(out) == [f.hex() for f in frames]

    iq.tofile(tmp_path / "by70.sigmf-data")
    meta = {"global": {"core:datatype": "cf32_le", "core:sample_rate": 48000}, "captures": []}
    (tmp_path / "by70.sigmf-meta").write_text(json.dumps(meta))
    for name in ("by70.sigmf-meta", "by70.sigmf-data"):
        code, out, _ = decode(capsys, "--satellite", "BY70-1", "--iq", str(tmp_path / name))
        assert code == 0 and frame_lines(out) == [f.hex() for f in frames]
    # the base name needs --format
    code, out, _ = decode(
        capsys, "--satellite", "BY70-1", "--iq", str(tmp_path / "by70"), "--format", "sigmf"
    )
    assert code == 0 and frame_lines(out) == [f.hex() for f in frames]


# ----- errors -----
def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_an_unknown_satellite_exits_2_naming_close_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = decode(capsys, "--satellite", "BY70", "--iq", str(RECORDINGS / "by701.wav"))
    assert code == 2 and out == ""
    line = one_line(err)
    assert line.startswith("groundstation decode: error: satellite 'BY70' is not in the catalogue")
    assert "did you mean BY70-1 (41909)?" in line
    code, _, err = decode(capsys, "--satellite", "41908", "--iq", str(RECORDINGS / "by701.wav"))
    assert code == 2 and "did you mean BY70-1 (41909)?" in one_line(err)


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--satellite", "US01", "--iq", "{d}/nope.wav"], "WAV file '{d}/nope.wav' does not exist"),
        (["--satellite", "US01", "--iq", "{d}/text.wav"], "WAV file '{d}/text.wav': "),
        (["--satellite", "US01", "--iq", "{d}/empty.wav"], "'{d}/empty.wav' holds no samples"),
        (["--satellite", "US01", "--iq", "{d}/audio.wav", "--sample-rate", "96000"],
         "--sample-rate 96000 disagrees with the WAV header's sample rate 48000"),
        (["--satellite", "US01", "--iq", "{d}/x.cf32"], "--sample-rate is required for raw cf32"),
        (["--satellite", "GOMX-3", "--iq", "{d}/x.cf32", "--sample-rate", "19200"],
         "'{d}/x.cf32': sample rate 19200 Hz is below twice every baud rate of GOMX-3 (19200)"),
        (["--satellite", "US01", "--iq", "{d}/audio.wav", "--packets", "--max-offset-hz", "5"],
         "--max-offset-hz, --packets: only with --profile"),
        (["--profile", "by70-1", "--iq", "{d}/audio.wav"],
         "WAV file '{d}/audio.wav' is mono receiver audio; --profile decodes complex I/Q"),
        (["--iq", "{d}/audio.wav"], "one of the arguments --satellite --profile is required"),
        (["--satellite", "US01", "--iq", "{d}/audio.wav", "--kiss", "{d}/no/dir/out.kiss"],
         "{d}/no/dir/out.kiss: No such file or directory"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], named: str
) -> None:
    (tmp_path / "text.wav").write_text("not a wav file\n")
    wavfile.write(tmp_path / "empty.wav", 48000, np.zeros(0, np.int16))
    wavfile.write(tmp_path / "audio.wav", 48000, np.zeros(4800, np.int16))
    np.zeros(4800, np.complex64).tofile(tmp_path / "x.cf32")
    code, out, err = decode(capsys, *[a.format(d=tmp_path) for a in argv])
    assert code == 2, err
    line = one_line(err)
    assert line.startswith("groundstation decode: error: ")
    assert named.format(d=tmp_path) in line


def test_nothing_decoded_exits_1_saying_what_was_tried_and_what_the_spectrum_shows(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # BY70-1's recording is not FACSAT-1's downlink
    code, out, err = decode(
        capsys, "--satellite", "FACSAT-1", "--iq", str(RECORDINGS / "by701.wav")
    )
    assert code == 1
    assert frame_lines(out) == [] and out.splitlines()[-1] == "# 0 frames"
    assert "Traceback" not in err
    assert "no frame of FACSAT-1 (43721) decoded from" in err
    assert "610453 samples (12.7 s) of receiver audio at 48000 Hz" in err
    assert "tried 9k6 FSK downlink: FSK 9600 Bd, ax100-asm-golay" in err
    assert "hint: a signal stands" in err and "check that this is FACSAT-1" in err


def test_nothing_decoded_from_silence_or_noise_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    silent = tmp_path / "silent.wav"
    wavfile.write(silent, 48000, np.zeros(48000, np.int16))
    code, _, err = decode(capsys, "--satellite", "GOMX-3", "--iq", str(silent))
    assert code == 1 and "the recording is silent" in err
    noise = tmp_path / "noise.wav"
    rng = np.random.default_rng(3)
    wavfile.write(noise, 48000, (rng.normal(0, 3000, 96000)).astype(np.int16))
    code, _, err = decode(capsys, "--satellite", "GOMX-3", "--iq", str(noise), "--json")
    assert code == 1 and "the spectrum is flat" in err
    assert "FSK 19200 Bd, ax100-rs" in err


def test_a_transmitter_too_fast_for_the_sample_rate_is_named_as_not_tried(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "slow.wav"
    wavfile.write(path, 12000, np.zeros(12000, np.int16))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # silence gave numpy's divide-by-zero warning
        code, _, err = decode(capsys, "--satellite", "PW-Sat2", "--iq", str(path))
    assert code == 1 and "Traceback" not in err and "silent" in err
    assert "not tried: " in err and "BPSK 9600 Bd" in err
    assert "tried " in err and "BPSK 1200 Bd" in err


def test_the_console_script_decodes_in_its_own_process(tmp_path: Path) -> None:
    import subprocess

    script = Path(sys.executable).with_name("groundstation")
    run = subprocess.run(
        [
            str(script),
            "decode",
            "--satellite",
            "EntrySat",
            "--iq",
            str(RECORDINGS / "entrysat.wav"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert reference("entrysat") <= set(frame_lines(run.stdout))
