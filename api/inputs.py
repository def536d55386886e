"""Checks every request for values no database column can hold, before any
route sees it.

- NUL characters (U+0000) in query and path parameters, headers and request
  bodies (JSON strings and keys, raw text uploads): PostgreSQL cannot store
  them in text columns, SQLite would store them silently, and no field of
  this API has a use for them.
- Lone surrogates (``"\\ud800"``) in a JSON body's free-form objects (typed
  fields refuse them already): no UTF-8 encoder, hence no database, takes them.
- Non-finite numbers in a JSON body: Python's JSON reader accepts the
  non-JSON tokens ``NaN`` and ``Infinity`` (and reads ``1e400`` as infinity);
  PostgreSQL's ``json`` refuses them, and free-form objects (an OMM upload)
  would carry them into the database.
- JSON bodies nested deeper than ``MAX_JSON_DEPTH`` objects/arrays: no
  input of this API nests more than a few levels, and a value nested
  hundreds of levels deep, once stored, broke every listing that showed it
  (serializers and parsers have recursion limits). Deeper than Python's
  parser reads is refused the same way. (Size: the body limit, ``create_app``'s
  ``max_upload_bytes``.)

The answer is the same 422 as any other validation error, naming the field
and the value, on every database.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

NUL = "\x00"
_MESSAGE = "text may not contain NUL characters (U+0000)"
_NOT_FINITE = "numbers must be finite (NaN, Infinity and overflowing literals are not JSON)"
_NOT_UNICODE = "text must be valid Unicode (a lone surrogate escape like \\ud800 is not)"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_MAX_REPORTED = 20
MAX_JSON_DEPTH = 32
_TOO_DEEP = f"JSON may nest at most {MAX_JSON_DEPTH} objects/arrays deep"


def _nul(loc: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    return {"type": "string_nul", "loc": loc, "msg": _MESSAGE, "input": value}


def _not_finite(loc: tuple[str | int, ...], value: float) -> dict[str, Any]:
    return {"type": "finite_number", "loc": loc, "msg": _NOT_FINITE, "input": value}


def _text_errors(loc: tuple[str | int, ...], text: str) -> Iterator[dict[str, Any]]:
    if NUL in text:
        yield _nul(loc, text)
    elif not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from a "\\udxxx" escape
            yield {"type": "string_unicode", "loc": loc, "msg": _NOT_UNICODE, "input": text}


def _too_deep(loc: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    kind = "an object" if isinstance(value, dict) else "an array"
    return {"type": "json_depth", "loc": loc, "msg": _TOO_DEEP, "input": f"{kind} nested deeper"}


def _json_errors(document: Any) -> Iterator[dict[str, Any]]:
    """NULs, non-finite numbers and nesting deeper than ``MAX_JSON_DEPTH`` in
    a parsed JSON body, depth first (no recursion: the document may nest as
    deep as the JSON reader allows)."""
    stack: list[tuple[tuple[str | int, ...], Any, int]] = [(("body",), document, 0)]
    while stack:
        loc, value, depth = stack.pop()
        if isinstance(value, str):
            yield from _text_errors(loc, value)
        elif isinstance(value, float):
            if not math.isfinite(value):
                yield _not_finite(loc, value)
        elif isinstance(value, dict | list) and depth >= MAX_JSON_DEPTH:
            yield _too_deep(loc, value)
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                yield from _text_errors((*loc, key), key)
                stack.append(((*loc, key), item, depth + 1))
        elif isinstance(value, list):
            stack.extend(
                ((*loc, i), item, depth + 1) for i, item in reversed(list(enumerate(value)))
            )


def too_deep_to_read(size_bytes: int) -> dict[str, Any]:
    """The error for a JSON body nested deeper than the JSON reader reads."""
    return {
        "type": "json_depth",
        "loc": ("body",),
        "msg": f"{_TOO_DEEP} (this one is nested too deep to read)",
        "input": f"{size_bytes} bytes",
    }


def _is_json(request: Request) -> bool:
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    return not media or media == "application/json" or media.endswith("+json")


async def _body_errors(request: Request) -> list[dict[str, Any]]:
    body = await request.body()  # cached: the route reads the same bytes
    if b"\x00" in body:
        at = body.index(b"\x00")
        return [_nul(("body",), f"...{body[max(0, at - 20) : at + 20]!r}... (byte {at})")]
    if not body or not _is_json(request):
        return []
    try:
        document = await request.json()  # cached too when FastAPI parsed it already
    except ValueError:
        return []  # not JSON: the route's own parsing reports it
    except RecursionError:
        return [too_deep_to_read(len(body))]
    return list(_json_errors(document))


async def reject_unstorable_input(request: Request) -> None:
    """422 (as a validation error) for a NUL character anywhere in the request,
    or a lone surrogate or non-finite number in a JSON body."""
    errors: list[dict[str, Any]] = [
        _nul(("query", key), value)
        for key, value in request.query_params.multi_items()
        if NUL in key or NUL in value
    ]
    errors += [
        _nul(("path", key), value)
        for key, value in request.path_params.items()
        if isinstance(value, str) and NUL in value
    ]
    errors += [
        _nul(("header", key), value) for key, value in request.headers.items() if NUL in value
    ]
    if request.method in _BODY_METHODS:
        errors += await _body_errors(request)
    if errors:
        raise RequestValidationError([_printable_loc(e) for e in errors[:_MAX_REPORTED]])


def _printable_loc(error: dict[str, Any]) -> dict[str, Any]:
    """The error with a lone surrogate in a key of its location escaped, so the
    problem+json answer naming it can be encoded."""
    loc = tuple(
        p.encode("utf-8", "backslashreplace").decode() if isinstance(p, str) else p
        for p in error["loc"]
    )
    return {**error, "loc": loc}
