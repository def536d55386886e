"""Checks every request's text before any route sees it.

NUL characters (U+0000) are refused in query and path parameters, headers
and request bodies (JSON strings and keys, raw text uploads): PostgreSQL
cannot store them in text columns, SQLite would store them silently, and no
field of this API has a use for them. The answer is the same 422 as any
other validation error, naming the field and the value, on every database.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

NUL = "\x00"
_MESSAGE = "text may not contain NUL characters (U+0000)"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_MAX_REPORTED = 20


def _error(loc: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    return {"type": "string_nul", "loc": loc, "msg": _MESSAGE, "input": value}


def _json_nuls(value: Any, loc: tuple[str | int, ...]) -> Iterator[dict[str, Any]]:
    if isinstance(value, str):
        if NUL in value:
            yield _error(loc, value)
    elif isinstance(value, dict):
        for key, item in value.items():
            if NUL in key:
                yield _error((*loc, key), key)
            yield from _json_nuls(item, (*loc, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _json_nuls(item, (*loc, i))


async def _body_nuls(request: Request) -> list[dict[str, Any]]:
    body = await request.body()  # cached: the route reads the same bytes
    if b"\x00" in body:
        at = body.index(b"\x00")
        return [_error(("body",), f"...{body[max(0, at - 20) : at + 20]!r}... (byte {at})")]
    if b"\\u0000" not in body:
        return []
    try:
        document = await request.json()
    except ValueError:
        return []  # not JSON: a text upload quoting the escape, checked by its parser
    return list(_json_nuls(document, ("body",)))


async def reject_nul_characters(request: Request) -> None:
    """422 (as a validation error) for a NUL character anywhere in the request."""
    errors: list[dict[str, Any]] = [
        _error(("query", key), value)
        for key, value in request.query_params.multi_items()
        if NUL in key or NUL in value
    ]
    errors += [
        _error(("path", key), value)
        for key, value in request.path_params.items()
        if isinstance(value, str) and NUL in value
    ]
    errors += [
        _error(("header", key), value) for key, value in request.headers.items() if NUL in value
    ]
    if request.method in _BODY_METHODS:
        errors += await _body_nuls(request)
    if errors:
        raise RequestValidationError(errors[:_MAX_REPORTED])
