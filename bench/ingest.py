"""Delivery benchmark: Kafka publish rate and latency, HDF5 and SigMF write rates.

Needs a broker: GS_TEST_KAFKA_BOOTSTRAP (as exported by
``scripts/services/kafka.sh start``); without it the script starts one with
that script and stops it at the end.

Figures (each with the reference measured in the same run):
* frames/s published with acks=all through `KafkaPublisher` (durable spool +
  idempotent producer in its own process), 223- and 1115-byte frames, with
  the CPU time per frame of the publishing process and of the producer
  process; reference: a bare kafka-python producer with the same settings
  and no spool (its process's CPU time per frame beside it);
* end-to-end latency publish -> consume (p50, p99) at a paced 2,000 frames/s,
  consumer in another process;
* frames.h5 write rate for a contact's frames; reference: writing the same
  bytes to a plain file;
* SigMF IQ write rate (complex64, with the SHA-512 on the way); reference: a
  plain file write of the same bytes.

Last line: ``RESULT ingest frames_per_s=.. p50_ms=.. p99_ms=.. iq_write_mb_s=..``
(frames_per_s for 223-byte frames).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ingest.config import KafkaConfig  # noqa: E402
from ingest.consumer import KafkaSource  # noqa: E402
from ingest.h5frames import ContactAttrs, FramesH5Writer  # noqa: E402
from ingest.kafka_publisher import KafkaPublisher, ensure_topics  # noqa: E402
from ingest.sigmf import SigMFWriter  # noqa: E402
from ingest.topics import FrameMeta, TopicNames, parse_utc_iso  # noqa: E402

T0 = datetime(2026, 11, 27, tzinfo=UTC)


def meta(seq: int, t: datetime) -> FrameMeta:
    return FrameMeta("bench", 25544, "lisbon", "dish-1", t, 0, seq % 256, seq % 4, True, seq)


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def publish_rate(bootstrap: str, frame_len: int, n: int, spool: Path) -> tuple[float, float, float]:
    """frames/s, and CPU us per frame of this process and of the producer process."""
    cfg = KafkaConfig(bootstrap, topic_prefix=f"bench{uuid.uuid4().hex[:8]}", spool_dir=spool)
    pub = KafkaPublisher(cfg).start()
    pub.connected.wait(30)
    frame = bytes(range(256)) * (frame_len // 256 + 1)
    frame = frame[:frame_len]
    now = datetime.now(UTC)
    assert pub.producer_pid is not None
    cpu0 = process_cpu_s(os.getpid()), process_cpu_s(pub.producer_pid)
    t = time.perf_counter()
    for seq in range(n):
        pub.publish_frame(frame, meta(seq, now))
    if not pub.flush(300):
        raise SystemExit(f"publisher did not drain: {pub.last_error}")
    dt = time.perf_counter() - t
    cpu1 = process_cpu_s(os.getpid()), process_cpu_s(pub.producer_pid)
    pub.close()
    return n / dt, (cpu1[0] - cpu0[0]) / n * 1e6, (cpu1[1] - cpu0[1]) / n * 1e6


def bare_producer_rate(bootstrap: str, frame_len: int, n: int) -> tuple[float, float]:
    """frames/s, and CPU us per frame of this process (producer threads included)."""
    from kafka import KafkaProducer

    topic = f"bench{uuid.uuid4().hex[:8]}.frames"
    ensure_topics(bootstrap, [topic], partitions=3)
    c = KafkaConfig(bootstrap)
    p = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        compression_type=c.compression_type,
        linger_ms=c.linger_ms,
        batch_size=c.batch_bytes,
    )
    frame = (bytes(range(256)) * (frame_len // 256 + 1))[:frame_len]
    now = datetime.now(UTC)
    cpu0 = time.process_time()
    t = time.perf_counter()
    for seq in range(n):
        m = meta(seq, now)
        p.send(topic, value=frame, key=m.key, headers=m.headers())
    p.flush()
    dt = time.perf_counter() - t
    cpu_us = (time.process_time() - cpu0) / n * 1e6
    p.close()
    return n / dt, cpu_us


def _consume_latencies(bootstrap: str, topic: str, n: int, q: mp.Queue[str | list[float]]) -> None:
    source = KafkaSource(bootstrap, topic, from_beginning=True)
    lat: list[float] = []
    q.put("ready")
    for rec in source.records(idle_timeout_s=20):
        now = time.time()
        sent = parse_utc_iso(dict(rec.headers)["frame-time"].decode()).timestamp()
        lat.append((now - sent) * 1000)
        if len(lat) >= n:
            break
    source.close()
    q.put(lat)


def latency(bootstrap: str, spool: Path, rate_hz: float, duration_s: float) -> np.ndarray:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    names = TopicNames(prefix)
    ensure_topics(bootstrap, names.all(), partitions=3)
    n = int(rate_hz * duration_s)
    q: mp.Queue[str | list[float]] = mp.get_context("spawn").Queue()
    proc = mp.get_context("spawn").Process(
        target=_consume_latencies, args=(bootstrap, names.frames, n, q)
    )
    proc.start()
    assert q.get(timeout=60) == "ready"
    time.sleep(3)  # let the consumer get its partitions
    pub = KafkaPublisher(KafkaConfig(bootstrap, topic_prefix=prefix, spool_dir=spool)).start()
    pub.connected.wait(30)
    frame = bytes(223)
    t0 = time.perf_counter()
    for seq in range(n):
        target = t0 + seq / rate_hz
        while (d := target - time.perf_counter()) > 0:
            time.sleep(min(d, 0.002))
        pub.publish_frame(frame, meta(seq, datetime.now(UTC)))
    pub.flush(60)
    pub.close()
    lat = q.get(timeout=120)
    proc.join(30)
    return np.asarray(lat)


def h5_rate(tmp: Path, n_frames: int, frame_len: int = 223) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (n_frames, frame_len), dtype=np.uint8)
    mb = frames.nbytes / 1e6
    attrs = ContactAttrs("ISS", 25544, "lisbon", "dish-1", "c", T0, T0 + timedelta(minutes=10))
    t = time.perf_counter()
    w = FramesH5Writer(tmp / "frames.h5", frame_length=frame_len, attrs=attrs)
    for s in range(0, n_frames, 1000):
        seq = np.arange(s, min(s + 1000, n_frames))
        w.append(
            frames[seq],
            sequence=seq,
            time_unix_s=seq * 0.01,
            virtual_channel=seq % 3,
            frame_counter=seq % 256,
            rs_corrections=seq % 4,
            crc_ok=np.ones_like(seq),
        )
    w.close()
    h5 = mb / (time.perf_counter() - t)
    t = time.perf_counter()
    with open(tmp / "plain.bin", "wb") as f:
        for s in range(0, n_frames, 1000):
            f.write(frames[s : s + 1000].tobytes())
        f.flush()
    ref = mb / (time.perf_counter() - t)
    return h5, ref


def iq_rate(tmp: Path, total_mb: int, chunk_samples: int = 1 << 20) -> tuple[float, float]:
    chunk = (np.random.default_rng(1).standard_normal(2 * chunk_samples).astype(np.float32)).view(
        np.complex64
    )
    n_chunks = max(1, int(total_mb * 1e6 / chunk.nbytes))
    w = SigMFWriter(tmp / "iq", sample_rate_hz=2e6, center_freq_hz=437e6, capture_start=T0)
    t = time.perf_counter()
    for i in range(n_chunks):
        w.write(chunk)
        w.annotate(i * chunk_samples, 1000, "frame")
    w.close()
    iq = n_chunks * chunk.nbytes / 1e6 / (time.perf_counter() - t)
    (tmp / "iq.sigmf-data").unlink()
    t = time.perf_counter()
    with open(tmp / "plain.bin", "wb") as f:
        for _ in range(n_chunks):
            f.write(chunk.tobytes())
    ref = n_chunks * chunk.nbytes / 1e6 / (time.perf_counter() - t)
    (tmp / "plain.bin").unlink()
    return iq, ref


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=60_000, help="frames per throughput run")
    ap.add_argument("--latency-seconds", type=float, default=5.0)
    ap.add_argument("--latency-rate", type=float, default=2000.0, help="frames/s while timing")
    ap.add_argument("--iq-mb", type=int, default=400)
    args = ap.parse_args()

    bootstrap = os.environ.get("GS_TEST_KAFKA_BOOTSTRAP")
    started = False
    script = REPO / "scripts" / "services" / "kafka.sh"
    if not bootstrap:
        out = subprocess.run(["bash", str(script), "start"], capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"could not start Kafka: {out.stderr[-2000:]}")
        for line in out.stdout.splitlines():
            if line.startswith("export GS_TEST_KAFKA_BOOTSTRAP="):
                bootstrap = line.split("=", 1)[1]
        started = True
    assert bootstrap
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    try:
        with tempfile.TemporaryDirectory(prefix="gs-bench-") as d:
            tmp = Path(d)
            rates = {}
            for size in (223, 1115):
                n = args.frames if size == 223 else args.frames // 2
                ours, cpu_pub, cpu_prod = publish_rate(bootstrap, size, n, tmp / f"spool{size}")
                ref, cpu_ref = bare_producer_rate(bootstrap, size, n)
                rates[size] = ours
                print(
                    f"publish {size:5d}-byte frames, acks=all: {ours:7.0f} frames/s "
                    f"({ours * size / 1e6:5.1f} MB/s) via spool, CPU/frame {cpu_pub:.1f} us "
                    f"publisher + {cpu_prod:.1f} us producer process; bare producer "
                    f"{ref:7.0f} frames/s, CPU/frame {cpu_ref:.1f} us; ratio {ours / ref:.2f}"
                )
            lat = latency(bootstrap, tmp / "spool-lat", args.latency_rate, args.latency_seconds)
            p50, p99 = np.percentile(lat, [50, 99])
            print(
                f"latency publish->consume at {args.latency_rate:.0f} frames/s, "
                f"{lat.size} frames: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {lat.max():.1f} ms"
            )
            h5, h5_ref = h5_rate(tmp, 200_000)
            print(
                f"frames.h5 write (200000 x 223 B, gzip): {h5:.1f} MB/s; plain file "
                f"{h5_ref:.1f} MB/s; ratio {h5 / h5_ref:.2f}"
            )
            iq, iq_ref = iq_rate(tmp, args.iq_mb)
            print(
                f"SigMF IQ write (cf32_le, {args.iq_mb} MB, SHA-512 on the way): {iq:.1f} MB/s; "
                f"plain file {iq_ref:.1f} MB/s; ratio {iq / iq_ref:.2f}"
            )
    finally:
        if started:
            subprocess.run(["bash", str(script), "stop"], check=False)
    goals = (
        f"goals: >= 20000 frames/s ({'met' if rates[223] >= 20000 else 'NOT met'}), "
        f"p99 < 100 ms ({'met' if p99 < 100 else 'NOT met'}), "
        f"IQ >= 50 MB/s ({'met' if iq >= 50 else 'NOT met'})"
    )
    print(goals)
    print(
        f"RESULT ingest frames_per_s={rates[223]:.0f} p50_ms={p50:.1f} p99_ms={p99:.1f} "
        f"iq_write_mb_s={iq:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
