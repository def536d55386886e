"""``groundstation decode --satellite --workers N``: a long recording decoded
in overlapping segments by a process pool gives the frames of the
one-process decode, in the same order (issue 17: decode throughput beside
gr-satellites). The segment lengths are scaled down here (the module's
constants) so that a short recording is cut at several places."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from dsp.chain import DecodedFrame
from groundstation.commands import decode_pool
from groundstation.commands.decode_pool import Segment, _new_at_boundary, plan_segments
from groundstation.satellites import load_catalogue
from tests.cli.test_decode_satellite_cli import decode

RECORDINGS = Path(__file__).resolve().parents[1] / "data" / "dsp" / "recordings"
FS = 48_000.0


@pytest.fixture
def short_segments(monkeypatch: pytest.MonkeyPatch) -> list[list[Segment]]:
    """Segments of seconds rather than minutes; the plans made are recorded."""
    monkeypatch.setattr(decode_pool, "MIN_PARALLEL_S", 20.0)
    monkeypatch.setattr(decode_pool, "FIRST_SEGMENT_S", 9.0)
    monkeypatch.setattr(decode_pool, "MIN_SEGMENT_S", 12.0)
    plans: list[list[Segment]] = []
    plan = decode_pool.plan_segments

    def spy(n_samples: int, fs_hz: float, workers: int) -> list[Segment]:
        plans.append(plan(n_samples, fs_hz, workers))
        return plans[-1]

    monkeypatch.setattr(decode_pool, "plan_segments", spy)
    return plans


@pytest.mark.parametrize(
    ("seconds", "workers"), [(600.0, 2), (900.0, 2), (3600.0, 4), (181.0, 2), (1000.0, 3)]
)
def test_segments_share_out_the_recording_on_the_alignment_grid(
    seconds: float, workers: int
) -> None:
    n = int(seconds * FS)
    segments = plan_segments(n, FS, workers)
    grid = int(decode_pool.ALIGN_S * FS)
    assert len(segments) >= workers
    assert segments[0].start == 0 and segments[-1].stop == n
    assert [s.last for s in segments] == [False] * (len(segments) - 1) + [True]
    assert segments[0].stop == int(decode_pool.FIRST_SEGMENT_S * FS)  # first frames come soon
    for a, b in zip(segments[:-1], segments[1:], strict=True):
        assert a.stop == b.start and b.start % grid == 0  # owned ranges tile the recording
    for s in segments:
        assert s.start < s.stop
        lead, tail = decode_pool.LEAD_S * FS, decode_pool.TAIL_S * FS
        assert s.read_start == 0 or s.start - lead - grid < s.read_start <= s.start - lead
        assert s.read_stop == n or s.stop + tail <= s.read_stop < s.stop + tail + grid
        assert s.read_start % grid == 0


@pytest.mark.parametrize(("seconds", "workers"), [(179.0, 2), (900.0, 1)])
def test_a_short_recording_or_one_worker_is_one_segment(seconds: float, workers: int) -> None:
    n = int(seconds * FS)
    assert plan_segments(n, FS, workers) == [Segment(0, 0, n, 0, n, True)]


def _frame(time_s: float, payload: bytes, tx: str = "9k6 FSK downlink") -> DecodedFrame:
    return DecodedFrame("FACSAT-1", 43721, tx, time_s, payload, 10.0, None, (), b"", 8 * 100)


def test_a_frame_both_neighbours_report_at_their_boundary_is_kept_once() -> None:
    sat = load_catalogue().find("FACSAT-1")
    tx = sat.transmitters[0].name  # 9600 Bd: an 800-bit frame lasts 83 ms
    previous = [_frame(29.99, b"a", tx), _frame(20.0, b"b", tx)]
    frames = [_frame(30.01, b"a", tx), _frame(30.01, b"c", tx), _frame(30.5, b"a", tx)]
    kept = _new_at_boundary(frames, previous, sat)
    assert kept == [frames[1], frames[2]]  # the same bytes later on are a new frame


def _tiled_facsat(path: Path, seconds: float) -> Path:
    fs, x = wavfile.read(RECORDINGS / "facsat_1.wav")
    assert fs == FS
    wavfile.write(path, int(FS), np.resize(x, int(seconds * FS)))
    return path


def test_segments_on_two_workers_give_the_one_process_frames_in_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], short_segments: list[list[Segment]]
) -> None:
    wav = _tiled_facsat(tmp_path / "facsat-60s.wav", 60.0)
    argv = ("--satellite", "FACSAT-1", "--iq", str(wav))
    code, one, err = decode(capsys, *argv, "--workers", "1")
    assert code == 0, err
    code, two, err = decode(capsys, *argv, "--workers", "2")
    assert code == 0, err
    assert len(short_segments[-1]) >= 3  # cut at two places at least
    assert two == one
    assert len(one.splitlines()) > 100


def test_json_frames_from_segments_carry_their_time_in_the_whole_recording(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], short_segments: list[list[Segment]]
) -> None:
    wav = _tiled_facsat(tmp_path / "facsat-40s.wav", 40.0)
    argv = ("--satellite", "FACSAT-1", "--iq", str(wav), "--json")
    one = [json.loads(line) for line in decode(capsys, *argv, "--workers", "1")[1].splitlines()]
    two = [json.loads(line) for line in decode(capsys, *argv, "--workers", "2")[1].splitlines()]
    assert len(short_segments[-1]) >= 2
    assert [r["frame_hex"] for r in two] == [r["frame_hex"] for r in one]
    assert [r["time_s"] for r in two] == pytest.approx([r["time_s"] for r in one], abs=1e-3)
    assert max(r["time_s"] for r in two) > 35.0


def test_workers_with_a_profile_decode_is_refused_naming_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = decode(
        capsys, "--profile", "by70-1", "--iq", "x.cf32", "--sample-rate", "48000", "--workers", "2"
    )
    assert code == 2
    assert "--workers 2: only with --satellite" in err


def test_a_worker_count_below_one_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = decode(capsys, "--satellite", "FACSAT-1", "--iq", "x.wav", "--workers", "0")
    assert code == 2
    assert "0 is not between 1 and 256" in err


def test_a_decode_keeps_freed_block_memory_instead_of_faulting_it_in_again(
    tmp_path: Path,
) -> None:
    """glibc gives freed arrays of a few MB back to the kernel at once; a
    decode asks it to keep them (keep_freed_memory), which cuts the page
    faults of a decode (counted by the kernel: no timing involved); the
    frames are the same."""
    import subprocess
    import sys

    wav = _tiled_facsat(tmp_path / "facsat-20s.wav", 20.0)
    child = (
        "import contextlib, io, resource, sys\n"
        "import groundstation.commands.dsp as command\n"
        "from groundstation.cli import main\n"
        "if sys.argv[2] != 'keep':\n"
        "    command.keep_freed_memory = lambda: False\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    code = main(['decode', '--satellite', 'FACSAT-1', '--iq', sys.argv[1]])\n"
        "n = sum(1 for line in out.getvalue().splitlines() if not line.startswith('#'))\n"
        "print(code, n, resource.getrusage(resource.RUSAGE_SELF).ru_minflt)\n"
    )
    runs = {}
    for mode in ("keep", "default"):
        run = subprocess.run(
            [sys.executable, "-c", child, str(wav), mode],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        code, frames, faults = run.stdout.split()
        runs[mode] = (int(code), int(frames), int(faults))
    assert runs["keep"][:2] == runs["default"][:2] == (0, runs["keep"][1])
    assert runs["keep"][1] > 30
    assert runs["keep"][2] < 0.6 * runs["default"][2], runs


def test_with_another_thread_running_the_workers_are_spawned_and_give_the_same_frames(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], short_segments: list[list[Segment]]
) -> None:
    """A fork taken while another thread holds a lock can leave the worker
    waiting for ever (a worker forked from a test process with threads left
    by earlier tests hung so): with threads running, workers are spawned."""
    import threading

    wav = _tiled_facsat(tmp_path / "facsat-30s.wav", 30.0)
    argv = ("--satellite", "FACSAT-1", "--iq", str(wav))
    one = decode(capsys, *argv, "--workers", "1")
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        assert not decode_pool._single_threaded()
        two = decode(capsys, *argv, "--workers", "2")
    finally:
        stop.set()
        other.join()
    assert len(short_segments[-1]) >= 2
    assert two == one and one[0] == 0
