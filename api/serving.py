"""The HTTP protocol the API is served with: uvicorn's httptools protocol
(what ``uvicorn[standard]`` picks) with a bound on the request head.

uvicorn has no header-size option for httptools (``h11_max_incomplete_event_size``
exists for h11 only, and answers 400): a client may send megabytes of one
header and the server buffers them all before the app sees the request. The
app refuses heads over ``GS_MAX_HEADER_BYTES`` with 431 (``api.app``) once
they are parsed; this protocol stops *reading* a head that has grown past
twice that limit without ending, answers 431 and closes the connection, so
a connection costs at most about 2 x the limit plus one read of memory.

``groundstation serve`` uses it; with uvicorn's command line::

    uvicorn --factory api.app:app_from_env --http api.serving:HttpToolsWithHeaderLimit
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from api.errors import PROBLEM

#: Used when the served app does not say (``app.state.ctx.settings``).
DEFAULT_MAX_HEADER_BYTES = 16384


def max_header_bytes_of(app: Any) -> int:
    """``GS_MAX_HEADER_BYTES`` of the app uvicorn serves (found through the
    middleware uvicorn wraps around it), or the default."""
    for _ in range(10):
        ctx = getattr(getattr(app, "state", None), "ctx", None)
        if ctx is not None:
            return int(ctx.settings.max_header_bytes)
        app = getattr(app, "app", None)
        if app is None:
            break
    return DEFAULT_MAX_HEADER_BYTES


class HttpToolsWithHeaderLimit(HttpToolsProtocol):
    """``HttpToolsProtocol`` that stops reading a request head longer than
    twice the app's ``max_header_bytes``: 431 (problem+json), connection
    closed. Heads within that are parsed as usual; the app itself refuses
    those over the limit (431) with the exact size."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.max_header_bytes = max_header_bytes_of(config.loaded_app)
        self._head_bytes = 0
        self._in_head = True
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if (
            self._in_head
            and self._head_bytes > 2 * self.max_header_bytes
            and not self.transport.is_closing()
        ):
            self._refuse()

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True
        self._head_bytes = 0

    def _refuse(self) -> None:
        self._refused = True
        body = json.dumps(
            {
                "type": "https://groundstation.dev/problems/headers-too-large",
                "title": "Request header fields too large",
                "status": 431,
                "detail": (
                    f"request head still unfinished after {self._head_bytes} bytes; the limit "
                    f"of target and headers is {self.max_header_bytes} bytes "
                    "(GS_MAX_HEADER_BYTES)"
                ),
            }
        ).encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            + f"content-type: {PROBLEM}\r\n".encode()
            + f"content-length: {len(body)}\r\n".encode()
            + b"connection: close\r\n\r\n"
            + body
        )
        self.transport.close()
