"""The leak guard of tests/conftest.py: what it counts as a leaked thread."""

from __future__ import annotations

import threading

from tests.leaks import is_leaky, leftover_threads, tcp_peers


def _parked(name: str, *, daemon: bool) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, name=name, daemon=daemon)
    thread.start()
    return thread, stop


def test_a_scheduler_thread_left_running_is_named_until_it_ends() -> None:
    before = {t.ident for t in threading.enumerate() if t.ident is not None}
    thread, stop = _parked("APScheduler", daemon=True)
    try:
        assert leftover_threads(before, grace_s=0.2) == [thread]
    finally:
        stop.set()
    assert leftover_threads(before, grace_s=10.0) == []  # ended within the grace


def test_a_non_daemon_thread_is_a_leak_whatever_its_name_and_a_quiet_daemon_is_not() -> None:
    plain, stop_plain = _parked("some-worker", daemon=False)
    quiet, stop_quiet = _parked("some-worker", daemon=True)
    pool, stop_pool = _parked("session-close_0", daemon=False)
    try:
        assert is_leaky(plain) and not is_leaky(quiet)
        assert not is_leaky(pool)  # api.deps' process-wide pool, by design
        consumer, stop_consumer = _parked("kafka-io-groundstation-consumer", daemon=True)
        stop_consumer.set()
        assert is_leaky(consumer)  # a KafkaSource never closed polls its broker
    finally:
        for stop in (stop_plain, stop_quiet, stop_pool):
            stop.set()


def test_tcp_connections_are_counted_by_remote_port() -> None:
    import socket

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    try:
        assert tcp_peers()[port] == 1
    finally:
        for s in (client, accepted, server):
            s.close()
    assert tcp_peers()[port] == 0
