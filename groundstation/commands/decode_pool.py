"""A long --satellite decode on several cores: the recording cut into
segments that overlap, each decoded by its own receiver in a process pool,
the frames merged in time order (issue 17: ``groundstation decode`` beside
gr-satellites, which runs its blocks in several threads).

A segment owns the samples [start, stop) and its receiver reads
[start - LEAD_S, stop + TAIL_S): the lead lets the receiver find level,
carrier and clock before the first frame it owns, the tail lets it finish a
frame that starts before ``stop``. A frame belongs to the segment whose
owned range holds its start; one that two neighbouring segments both report
near their common boundary (its start estimated a little differently by
each) is kept once. Segment bounds sit on a grid of ALIGN_S seconds, a
common multiple of the blocks the demodulators cut at absolute positions
(BPSK carrier search: 0.5 or 1.5 s; FSK timing: 32 symbols), so each
segment's receiver cuts its blocks where the one-process decode does.

Segments are handed out in order and their frames printed as each segment
ends: the first segment is short (FIRST_SEGMENT_S), so the first frames come
out soon. Workers are forked when this process runs one Python thread (the
command line), so they share the parent's imports and start in
milliseconds; otherwise they are spawned.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dsp.chain import DecodedFrame
    from dsp.satellite import SatelliteSpec

    #: what a worker gets: the command's arguments, the satellite, its segment
    SegmentTask = tuple[argparse.Namespace, SatelliteSpec, "Segment"]

#: receiver settling before a segment's first owned sample, and frame tail after its
#: last (the longest frame of the catalogue, AO-40 FEC at 400 bit/s, lasts 6.5 s)
LEAD_S = 9.0
TAIL_S = 9.0
#: segment bounds on this grid (a common multiple of the demodulators' absolute blocks at 48 kHz)
ALIGN_S = 3.0
FIRST_SEGMENT_S = 30.0
#: the other segments: the rest of the recording cut into SEGMENTS_PER_WORKER per worker
#: (several, so that the workers finish together), each at least MIN_SEGMENT_S (the
#: overlap costs (LEAD_S + TAIL_S) / segment of CPU). With 2 per worker a 15-min
#: recording on 2 workers went in 5 segments, 3 of them one after the other
SEGMENTS_PER_WORKER = 4
MIN_SEGMENT_S = 60.0
#: recordings shorter than this are decoded in one process
MIN_PARALLEL_S = 180.0


@dataclass(frozen=True)
class Segment:
    """Owned samples [start, stop); samples read [read_start, read_stop)."""

    index: int
    start: int
    stop: int
    read_start: int
    read_stop: int
    last: bool


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def plan_segments(n_samples: int, fs_hz: float, workers: int) -> list[Segment]:
    """The segments of a recording of ``n_samples`` at ``fs_hz`` for ``workers``
    processes; one segment (the whole recording) when it is too short to share."""
    if workers <= 1 or n_samples < MIN_PARALLEL_S * fs_hz:
        return [Segment(0, 0, n_samples, 0, n_samples, True)]
    grid = max(int(round(ALIGN_S * fs_hz)), 1)
    lead = grid * math.ceil(LEAD_S / ALIGN_S)
    tail = grid * math.ceil(TAIL_S / ALIGN_S)
    first = grid * math.ceil(FIRST_SEGMENT_S / ALIGN_S)
    rest = n_samples - first
    n_rest = max(1, min(SEGMENTS_PER_WORKER * workers, int(rest // (MIN_SEGMENT_S * fs_hz))))
    step = grid * max(1, math.ceil(rest / n_rest / grid))
    bounds = [0, first, *range(first + step, n_samples, step), n_samples]
    bounds = sorted(set(bounds))
    segments = []
    for i, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        last = stop == n_samples
        segments.append(
            Segment(i, start, stop, max(0, start - lead), min(n_samples, stop + tail), last)
        )
    return segments


def segment_frames(found: list[DecodedFrame], segment: Segment, fs_hz: float) -> list[DecodedFrame]:
    """The frames of ``found`` (a receiver's, timed from ``segment.read_start``)
    that ``segment`` owns, timed from the recording's first sample, in order.
    The receiver's run over a segment is ``commands.dsp.decode_segment``
    (this module builds on nothing of the command's)."""
    offset_s = segment.read_start / fs_hz
    lo, hi = segment.start / fs_hz, segment.stop / fs_hz
    owned = []
    for frame in found:
        time_s = frame.time_s + offset_s
        if lo <= time_s < hi or (segment.last and time_s >= hi):
            owned.append(replace(frame, time_s=time_s))
    return sorted(owned, key=lambda f: (f.time_s, f.transmitter))


def _frame_s(frame: DecodedFrame, sat: SatelliteSpec) -> float:
    baud = next(tx.baud_rate for tx in sat.transmitters if tx.name == frame.transmitter)
    return frame.n_bits / baud


def _new_at_boundary(
    frames: list[DecodedFrame], previous: list[DecodedFrame], sat: SatelliteSpec
) -> list[DecodedFrame]:
    """``frames`` less those the previous segment already gave: the same bytes
    of the same transmitter starting within one frame's duration."""
    return [
        f
        for f in frames
        if not any(
            p.transmitter == f.transmitter
            and p.frame == f.frame
            and abs(p.time_s - f.time_s) < _frame_s(f, sat)
            for p in previous
        )
    ]


def _single_threaded() -> bool:
    """Forking is safe: this process runs one Python thread. A fork taken
    while another thread holds a lock (logging's, an import's, a library's)
    leaves the child waiting on it for ever: a worker forked from a test
    process with threads left by earlier tests hung so. (numpy's OpenBLAS
    threads are native and fork-safe: OpenBLAS stops them around a fork.)
    Otherwise workers are spawned (each imports what it needs)."""
    import threading

    return threading.active_count() == 1


def decode_in_segments(
    args: argparse.Namespace,
    sat: SatelliteSpec,
    segments: list[Segment],
    workers: int,
    decode_segment: Callable[[SegmentTask], list[DecodedFrame]],
) -> Iterator[list[DecodedFrame]]:
    """Each segment's frames in segment order, decoded by ``workers``
    processes, each running ``decode_segment`` (a module-level function, so
    that a spawned worker can import it) on (args, sat, segment)."""
    import multiprocessing  # ~20 ms import: when a pool runs

    tasks = [(args, sat, s) for s in segments]
    method = "fork" if _single_threaded() else "spawn"
    sys.stdout.flush()  # forked workers must not inherit buffered output
    with multiprocessing.get_context(method).Pool(min(workers, len(segments))) as pool:
        previous: list[DecodedFrame] = []
        for frames in pool.imap(decode_segment, tasks):
            frames = _new_at_boundary(frames, previous, sat)
            previous = frames
            yield frames
