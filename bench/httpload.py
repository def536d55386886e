"""A lean closed-loop HTTP/1.1 load generator for the benches.

httpx spends about 1 ms of CPU per request, so on a 2-core machine a load of
100 httpx clients measures httpx. This client keeps one keep-alive connection
per simulated client (TCP_NODELAY), writes each request as one buffer and
parses only the status line, Content-Length or chunked framing: it measures
the server. Responses are returned as ``Reply(status, headers, body)``.

Run it in its own process (``run_in_process``) so that its CPU use is not
counted inside the bench's own event loop.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, Any] | None = None
    body: Any = None

    def encode(self, host: str, headers: dict[str, str]) -> bytes:
        target = self.path
        if self.params:
            target += "?" + urlencode(self.params, doseq=True)
        payload = b"" if self.body is None else json.dumps(self.body).encode()
        lines = [f"{self.method} {target} HTTP/1.1", f"Host: {host}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if self.body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


@dataclass
class LoadResult:
    latencies_s: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    replies: list[Reply | None] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    async def exchange(
        self, conn: Connection, i: int, raw: bytes, since: float, keep_body: bool
    ) -> Connection:
        """Send request ``i`` on ``conn`` and record its answer and latency
        (from ``since``); a transport error counts as status 0 and the
        connection is replaced. Returns the connection to use next."""
        try:
            reply = await conn.send(raw)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            self.latencies_s.append(time.perf_counter() - since)
            self.statuses[0] = self.statuses.get(0, 0) + 1
            self.errors.append(f"{type(exc).__name__}: {exc}")
            conn.close()
            return await Connection.open(conn.host, conn.port)
        self.latencies_s.append(time.perf_counter() - since)
        self.statuses[reply.status] = self.statuses.get(reply.status, 0) + 1
        self.replies[i] = reply if keep_body else Reply(reply.status, reply.headers, b"")
        return conn


class Connection:
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, port: int
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.host = host
        self.port = port

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 22)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer, host, port)

    async def send(self, raw: bytes) -> Reply:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            body = b"".join(parts)
        else:
            body = b""
        return Reply(status, headers, body)

    def close(self) -> None:
        self.writer.close()


async def _prepare(
    base_url: str, requests: list[Request], headers: dict[str, str], concurrency: int
) -> tuple[list[bytes], LoadResult, list[Connection]]:
    """The requests as bytes, an empty result, and the clients' connections.
    Long-lived clients (dashboards, schedulers): connections are opened
    first, not timed."""
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    raw = [r.encode(f"{host}:{port}", headers) for r in requests]
    out = LoadResult(replies=[None] * len(requests))
    conns = [await Connection.open(host, port) for _ in range(concurrency)]
    return raw, out, conns


async def run_load(
    base_url: str,
    requests: list[Request],
    headers: dict[str, str],
    concurrency: int,
    *,
    keep_bodies: bool = True,
) -> LoadResult:
    """Send ``requests`` with ``concurrency`` closed-loop clients (each sends
    its next request when the previous answer has arrived)."""
    raw, out, conns = await _prepare(base_url, requests, headers, concurrency)
    next_index = 0

    async def client(conn: Connection) -> None:
        nonlocal next_index
        while next_index < len(raw):
            i = next_index
            next_index += 1
            conn = await out.exchange(conn, i, raw[i], time.perf_counter(), keep_bodies)

    t0 = time.perf_counter()
    await asyncio.gather(*(client(c) for c in conns))
    out.wall_s = time.perf_counter() - t0
    for c in conns:
        c.close()
    return out


async def run_open_loop(
    base_url: str,
    requests: list[Request],
    headers: dict[str, str],
    concurrency: int,
    rate_per_s: float,
    *,
    seed: int = 1,
    keep_bodies: bool = False,
) -> LoadResult:
    """Send ``requests`` at Poisson arrivals of ``rate_per_s`` over
    ``concurrency`` connections. A request waits when every connection is
    busy; its latency counts from its scheduled arrival, so a slow server is
    not hidden by the load backing off (no coordinated omission)."""
    import random

    raw, out, conns = await _prepare(base_url, requests, headers, concurrency)
    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    rng = random.Random(seed)

    async def producer() -> None:
        due = time.perf_counter()
        for i in range(len(raw)):
            due += rng.expovariate(rate_per_s)
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait((i, due))
        for _ in conns:
            queue.put_nowait(None)

    async def client(conn: Connection) -> None:
        while (item := await queue.get()) is not None:
            i, due = item
            conn = await out.exchange(conn, i, raw[i], due, keep_bodies)

    t0 = time.perf_counter()
    await asyncio.gather(producer(), *(client(c) for c in conns))
    out.wall_s = time.perf_counter() - t0
    for c in conns:
        c.close()
    return out


def _child(
    args: tuple[str, list[Request], dict[str, str], int, bool, float | None],
) -> LoadResult:
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # the plain asyncio loop works, a little slower
        pass
    base_url, requests, headers, concurrency, keep_bodies, rate_per_s = args
    if rate_per_s is not None:
        return asyncio.run(
            run_open_loop(
                base_url, requests, headers, concurrency, rate_per_s, keep_bodies=keep_bodies
            )
        )
    return asyncio.run(run_load(base_url, requests, headers, concurrency, keep_bodies=keep_bodies))


def run_in_process(
    base_url: str,
    requests: list[Request],
    headers: dict[str, str],
    concurrency: int,
    *,
    keep_bodies: bool = True,
    rate_per_s: float | None = None,
) -> LoadResult:
    """``run_load`` (closed loop) or, with ``rate_per_s``, ``run_open_loop``
    in a child process; returns its result."""
    from concurrent.futures import ProcessPoolExecutor

    args = (base_url, requests, headers, concurrency, keep_bodies, rate_per_s)
    with ProcessPoolExecutor(max_workers=1) as pool:
        return pool.submit(_child, args).result()
