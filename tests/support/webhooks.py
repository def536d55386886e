"""A real webhook receiver for tests: ``http.server`` on a loopback port in
a thread, checking every signature with the snippet api/README.md documents."""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.world import REPO


def readme_verify() -> Any:
    """``verify`` as api/README.md documents it (the snippet after its marker)."""
    text = (REPO / "api" / "README.md").read_text()
    found = re.search(r"<!-- webhook-verify -->\n```python\n(.*?)```", text, re.S)
    assert found, "api/README.md lost its webhook verification snippet"
    namespace: dict[str, Any] = {}
    exec(found.group(1), namespace)
    return namespace["verify"]


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    signature_ok: bool


@dataclass
class Receiver:
    """A real HTTP receiver: answers each request with the next of
    ``statuses`` (then 200), after ``delay_s``; checks every signature."""

    secret: str
    statuses: list[int] = field(default_factory=list)
    delay_s: float = 0.0
    received: list[Received] = field(default_factory=list)
    url: str = ""
    _server: ThreadingHTTPServer | None = None

    def start(self, port: int = 0) -> Receiver:
        verify = readme_verify()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ok = verify(receiver.secret, self.headers["X-Groundstation-Signature"], body)
                receiver.received.append(Received(dict(self.headers), body, ok))
                time.sleep(receiver.delay_s)
                code = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.body) for r in self.received]
