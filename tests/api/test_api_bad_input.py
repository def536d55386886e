"""Generated bad input (hypothesis) against every write operation of the API
(POST, PUT, PATCH, DELETE, listed from the app's OpenAPI schema: a new one
fails this test until it has a valid example in ``VALID``), on SQLite and
PostgreSQL.

Each operation's valid request is mutated one way at a time: a body that is
not JSON or not the right JSON type, a field of the wrong type, a number
beyond its bounds (or beyond any column: 10**30, 1e308, Infinity), a string
longer than its limit (up to 300,000 characters), a malformed or extreme
date, a required field left out, a field the schema does not have, a bad
path, query or header parameter. Every answer must be a 4xx problem+json
whose detail names the field or the value, never a 5xx or a traceback, and
a refused request must leave every table of the database as it was
(compared row by row). Extreme but well-formed dates (year 1, year 9999)
may be accepted; all else generated here is invalid and must be refused.
Last, the valid request itself must succeed, so the mutations were refused
for what they changed.

The number of generated requests is printed (``-s``) and recorded as the
test's ``bad_inputs_tried`` property. GS_TEST_BAD_INPUT_EXAMPLES (default
60 per operation) widens the search.
"""

from __future__ import annotations

import base64
import json
import math
import os
import string
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import Engine, inspect, select, table, text

from groundstation import apikeys, inventory
from groundstation.models import Contact
from groundstation.states import ContactState
from groundstation.transitions import apply_transition
from ingest.topics import FrameMeta

from .conftest import NOAA18, NOAA19, NOW, TLE, World
from .helpers import contact_body, first_free_pass

WRITE_METHODS = ("post", "put", "patch", "delete")
EXAMPLES = int(os.environ.get("GS_TEST_BAD_INPUT_EXAMPLES") or 60)
NO_BODY = object()
Path = tuple[str | int, ...]


# ---------------------------------------------------------------- valid requests


@dataclass
class Request:
    """One request of an operation: the valid one, or a mutation of it."""

    who: str
    path_params: dict[str, str] = field(default_factory=dict)
    body: Any = NO_BODY  # JSON document, or NO_BODY
    raw: bytes | None = None  # the body's bytes instead of ``body``
    content_type: str = "application/json"
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Setup:
    """What the valid requests refer to, made once per database."""

    free_pass: dict[str, Any]
    contact_id: str
    plan_id: str
    key_id: str
    window_id: int = 0
    running_id: str = ""  # a contact in PREPASS (stop)
    webhook_id: str = ""
    ephemeris_id: int = 0  # NOAA 19's ephemeris in force
    ended_id: str = ""  # a FAILED contact (verdict)


def _in(days: float) -> str:
    return (NOW + timedelta(days=days)).isoformat()


def _agent_frame(contact_id: str, sequence: int) -> dict[str, Any]:
    """One frame as a station agent uploads it (its FrameMeta headers as text)."""
    meta = FrameMeta(
        contact_id=contact_id,
        norad_id=NOAA19,
        station="svalbard",
        antenna="sv-uhf",
        frame_time=NOW,
        virtual_channel=0,
        frame_counter=sequence % 256,
        rs_corrections=0,
        crc_ok=True,
        sequence=sequence,
    )
    return {
        "sequence": sequence,
        "frame_time": NOW.isoformat(),
        "data": base64.b64encode(bytes([sequence % 256]) * 8).decode(),
        "meta": {n: v.decode() for n, v in meta.headers() if n != meta.SCHEMA_FIELD},
    }


#: A valid request per write operation, made unique by ``i`` (the example's
#: number) where an accepted request would make the next one a duplicate.
VALID: dict[str, Callable[[Setup, int], Request]] = {
    "POST /ground-stations": lambda s, i: Request(
        "admin", body={"id": f"bad-st-{i}", "name": "Bad input", "lat_deg": 10.0, "lon_deg": 20.0}
    ),
    "POST /ground-stations/{station_id}/antennas": lambda s, i: Request(
        "admin",
        {"station_id": "svalbard"},
        body={"id": f"bad-ant-{i}", "bands_hz": [[400e6, 450e6]], "setup_s": 10.0},
    ),
    "POST /ground-stations/{station_id}/antennas/{antenna_id}/maintenance": lambda s, i: Request(
        "admin",
        {"station_id": "svalbard", "antenna_id": "sv-s"},
        body={"start": _in(20 + i), "end": _in(20.01 + i), "reason": "bad input test"},
    ),
    "PATCH /ground-stations/{station_id}/antennas/{antenna_id}/maintenance/{window_id}": (
        lambda s, i: Request(
            "admin",
            {"station_id": "svalbard", "antenna_id": "sv-s", "window_id": str(s.window_id)},
            body={"reason": f"bad input test {i}"},
        )
    ),
    "DELETE /ground-stations/{station_id}/antennas/{antenna_id}/maintenance/{window_id}": (
        lambda s, i: Request(
            "admin",
            {"station_id": "svalbard", "antenna_id": "sv-s", "window_id": str(s.window_id)},
        )
    ),
    "PATCH /ground-stations/{station_id}/antennas/{antenna_id}": lambda s, i: Request(
        "admin",
        {"station_id": "svalbard", "antenna_id": "sv-s"},
        body={"bands_hz": [[2.2e9, 2.3e9]], "max_az_slew_deg_s": 12.5, "status": "online"},
    ),
    "POST /ground-stations/{station_id}/agent/heartbeat": lambda s, i: Request(
        "station",
        {"station_id": "svalbard"},
        body={"software_version": f"test {i}", "front_end": "simulated", "status": {}},
    ),
    "POST /ground-stations/{station_id}/agent/contacts/{contact_id}/frames": lambda s, i: Request(
        "station",
        {"station_id": "svalbard", "contact_id": s.contact_id},
        body={"frames": [_agent_frame(s.contact_id, i + 1)]},
    ),
    "POST /ground-stations/{station_id}/agent/contacts/{contact_id}/report": lambda s, i: Request(
        "station",
        {"station_id": "svalbard", "contact_id": s.contact_id},
        body={"ok": True, "reason": "bad input test", "frames_total": i, "summary": {}},
    ),
    "POST /contacts/{contact_id}/stop": lambda s, i: Request(
        "acme", {"contact_id": s.running_id}, body={"reason": "bad input test"}
    ),
    "PATCH /contacts/{contact_id}": lambda s, i: Request(
        "acme", {"contact_id": s.contact_id}, body={"profile_id": "leo"}
    ),
    "PUT /contacts/{contact_id}/verdict": lambda s, i: Request(
        "acme", {"contact_id": s.ended_id}, body={"verdict": "bad", "reason": "bad input test"}
    ),
    "POST /satellites": lambda s, i: Request(
        "acme", body={"norad_id": 90_000 + i, "name": "BAD", "downlink_freq_hz": 437.1e6}
    ),
    "POST /satellites/{norad_id}/ephemerides": lambda s, i: Request(
        "acme",
        {"norad_id": str(NOAA19)},
        raw=_noaa19_tle(),
        content_type="text/plain",
        query={"priority": "1", "source": "bad-input"},
    ),
    "PATCH /satellites/{norad_id}/ephemerides/{ephemeris_id}": lambda s, i: Request(
        "acme",
        {"norad_id": str(NOAA19), "ephemeris_id": str(s.ephemeris_id)},
        body={"priority": 0, "enabled": True},
    ),
    "POST /ephemerides": lambda s, i: Request(
        "acme",
        raw=_noaa19_tle(),
        content_type="text/plain",
        query={"priority": "1", "source": "bad-input"},
    ),
    "POST /mission-profiles": lambda s, i: Request(
        "acme", body={"id": f"bad-prof-{i}", "prepass_s": 30.0, "demod": {"eirp_dbw": -10.0}}
    ),
    "PUT /mission-profiles/{profile_id}": lambda s, i: Request(
        "acme",
        {"profile_id": "bad-input"},
        body={
            "min_viable_duration_s": 60.0,
            "prepass_s": 30.0,
            "postpass_s": 30.0,
            "min_elevation_deg": 10.0,
            "demod": {"eirp_dbw": -10.0},
            "decode": {},
            "kafka_topic": "t",
            "dataset_options": {"record_iq": False},
            "vetting": {},
        },
    ),
    "PATCH /mission-profiles/{profile_id}": lambda s, i: Request(
        "acme", {"profile_id": "bad-input"}, body={"prepass_s": 45.0, "demod": {"losses_db": 2.0}}
    ),
    "POST /contacts": lambda s, i: Request(
        "acme", body=contact_body(s.free_pass), headers={"Idempotency-Key": f"bad-{i}"}
    ),
    "POST /contacts/{contact_id}/cancel": lambda s, i: Request(
        "acme", {"contact_id": s.contact_id}, body={"reason": "bad input test"}
    ),
    "POST /plans": lambda s, i: Request(
        "acme",
        body={
            "profile_id": "leo",
            "requests": [{"norad_id": NOAA18, "start": _in(0), "end": _in(0.3), "max_passes": 1}],
            "antenna_ids": ["sv-uhf-2"],
            "time_limit_s": 5.0,
        },
    ),
    "POST /plans/{plan_id}/commit": lambda s, i: Request("acme", {"plan_id": s.plan_id}),
    "POST /api-keys": lambda s, i: Request(
        "admin", body={"name": f"bad-key-{i}", "role": "operator", "tenant": "acme"}
    ),
    "POST /api-keys/{key_id}/revoke": lambda s, i: Request("admin", {"key_id": s.key_id}),
    "PATCH /ground-stations/{station_id}": lambda s, i: Request(
        "admin", {"station_id": "svalbard"}, body={"name": f"SvalSat {i}"}
    ),
    "PUT /tenants/{tenant}/bucket": lambda s, i: Request(
        "admin", {"tenant": "acme"}, body={"bucket": f"acme-bad-input-{i}"}
    ),
    "DELETE /tenants/{tenant}/bucket": lambda s, i: Request("admin", {"tenant": "acme"}),
    "POST /webhooks": lambda s, i: Request(
        "acme",
        body={
            "url": f"https://hooks.example.org/bad-{i}",
            "event_types": ["contact.booked"],
            "secret": "bad-input-secret-0123",
            "description": "bad input test",
        },
    ),
    "DELETE /webhooks/{webhook_id}": lambda s, i: Request("acme", {"webhook_id": s.webhook_id}),
}


def _noaa19_tle() -> bytes:
    lines = TLE.read_text().splitlines()
    i = next(n for n, line in enumerate(lines) if line.startswith("1 33591"))
    return ("\n".join(lines[i - 1 : i + 2]) + "\n").encode()


def _prepare(world: World) -> Setup:
    with world.session() as s:
        inventory.add_profile(s, profile_id="bad-input", owner_tenant="acme", prepass_s=60.0)
        key, _ = apikeys.create_key(s, name="to revoke", role="admin", now=NOW)
        key_id = key.id
        _, world.keys["station"] = apikeys.create_key(
            s, name="svalbard agent", role="station", station_id="svalbard", now=NOW
        )
    booked = world.client.post(
        "/contacts", json=contact_body(first_free_pass(world, skip=1)), headers=world.as_("acme")
    )
    assert booked.status_code == 201, booked.text
    plan = world.client.post(
        "/plans",
        json={
            "profile_id": "leo",
            "requests": [{"norad_id": NOAA18, "start": _in(0.5), "end": _in(0.8)}],
            "antenna_ids": ["sv-uhf-2"],
        },
        headers=world.as_("acme"),
    )
    assert plan.status_code == 201 and plan.json()["proposed"], plan.text
    window = world.client.post(
        "/ground-stations/svalbard/antennas/sv-s/maintenance",
        json={"start": _in(40), "end": _in(40.01), "reason": "bad input test"},
        headers=world.as_("admin"),
    )
    assert window.status_code == 201, window.text
    hook = world.client.post(
        "/webhooks", json={"url": "https://hooks.example.org/x"}, headers=world.as_("acme")
    )
    assert hook.status_code == 201, hook.text
    running = world.client.post(
        "/contacts", json=contact_body(first_free_pass(world, skip=2)), headers=world.as_("acme")
    )
    assert running.status_code == 201, running.text
    with world.session() as s:
        contact = s.get(Contact, running.json()["id"])
        assert contact is not None
        apply_transition(s, contact, ContactState.PREPASS, at=NOW, reason="bad input test")
        s.commit()
    ended = world.client.post(
        "/contacts", json=contact_body(first_free_pass(world, skip=3)), headers=world.as_("acme")
    )
    assert ended.status_code == 201, ended.text
    with world.session() as s:
        contact = s.get(Contact, ended.json()["id"])
        assert contact is not None
        apply_transition(s, contact, ContactState.FAILED, at=NOW, reason="bad input test")
        s.commit()
    return Setup(
        first_free_pass(world, skip=0),
        booked.json()["id"],
        plan.json()["id"],
        key_id,
        window.json()["id"],
        running.json()["id"],
        hook.json()["id"],
        world.client.get(
            f"/satellites/{NOAA19}/ephemerides/in-force", headers=world.as_("acme")
        ).json()["id"],
        ended.json()["id"],
    )


# ---------------------------------------------------------------- the schema


@dataclass(frozen=True)
class Operation:
    key: str  # "POST /contacts"
    method: str
    path: str
    spec: dict[str, Any]


def write_operations(schema: dict[str, Any]) -> list[Operation]:
    return [
        Operation(f"{method.upper()} {path}", method, path, spec)
        for path, item in schema["paths"].items()
        for method, spec in item.items()
        if method in WRITE_METHODS
    ]


class Schemas:
    """JSON Schemas of the OpenAPI document, with ``$ref`` and nullable
    ``anyOf`` resolved."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.components = document.get("components", {}).get("schemas", {})

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[-1]]
        if "anyOf" in schema:
            options = [self.resolve(s) for s in schema["anyOf"] if s.get("type") != "null"]
            if len(options) == 1:
                return options[0]
        return schema

    def json_types(self, schema: dict[str, Any]) -> set[str]:
        """JSON types the schema accepts ("integer" within "number" too)."""
        if "$ref" in schema:
            return self.json_types(self.resolve(schema))
        if "anyOf" in schema:
            return set().union(*(self.json_types(s) for s in schema["anyOf"]))
        kind = schema.get("type")
        if kind is None:
            return {"any"}
        kinds = {kind} if isinstance(kind, str) else set(kind)
        return kinds | ({"integer"} if "number" in kinds else set())

    def child(self, schema: dict[str, Any], key: str | int) -> dict[str, Any]:
        schema = self.resolve(schema)
        if isinstance(key, int):
            prefix = schema.get("prefixItems")
            if prefix and key < len(prefix):
                return dict(prefix[key])
            return dict(schema.get("items", {}))
        return dict(schema.get("properties", {}).get(key, {}))

    def leaves(
        self, schema: dict[str, Any], value: Any, at: Path = ()
    ) -> list[tuple[Path, dict[str, Any]]]:
        """(path, schema) of every value in ``value``, containers included."""
        out = [(at, schema)] if at else []
        if isinstance(value, dict):
            for key, item in value.items():
                out += self.leaves(self.child(schema, key), item, (*at, key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                out += self.leaves(self.child(schema, i), item, (*at, i))
        return out

    def objects(
        self, schema: dict[str, Any], value: Any, at: Path = ()
    ) -> list[tuple[Path, dict[str, Any]]]:
        """(path, schema) of every JSON object in ``value`` (the body itself too)."""
        out = [(at, self.resolve(schema))] if isinstance(value, dict) else []
        for path, sub in self.leaves(schema, value, at):
            if path != at and isinstance(_get(value, path[len(at) :]), dict):
                out.append((path, self.resolve(sub)))
        return out


def _get(document: Any, path: Path) -> Any:
    for key in path:
        document = document[key]
    return document


def _with(document: Any, path: Path, value: Any = NO_BODY, *, drop: bool = False) -> Any:
    """A copy of ``document`` with the value at ``path`` replaced (or dropped)."""
    document = json.loads(json.dumps(document))
    parent = _get(document, path[:-1])
    if drop:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return document


def _label(path: Path) -> str:
    return ".".join(str(p) for p in path)


# ---------------------------------------------------------------- mutations


@dataclass(frozen=True)
class Mutation:
    """One change to an operation's valid request."""

    kind: str  # "wrong type", "out of range", ...
    category: str  # "invalid": must be refused; "edge": must not fail (5xx)
    names: tuple[str, ...]  # the detail of a refusal names one of these
    apply: Callable[[Request], Request]
    shown: str

    def __repr__(self) -> str:
        return f"<{self.kind}: {self.shown}>"


_WRONG: list[tuple[str, Any]] = [
    ("string", "not-a-number"),
    ("integer", 7),
    ("number", 7.5),
    ("boolean", True),
    ("null", None),
    ("array", [1, "a"]),
    ("object", {"k": 1}),
]
_BAD_DATES = [
    "2023-07-04T18:00:00",  # naive
    "2023-02-30T00:00:00Z",
    "2023-07-04T24:30:00Z",
    "2023-07-04T18:00:00+25:00",
    "0000-01-01T00:00:00Z",
    "10000-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
    "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
    "1688493600",
    "yesterday",
    "",
]
_EXTREME_DATES = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00.000001+00:00",
    "9999-12-31T23:59:59.999999Z",
    "1970-01-01T00:00:00Z",
    "2038-01-19T03:14:08Z",
    "2262-04-11T23:47:17Z",
]


def _set(path: Path, value: Any, kind: str, category: str = "invalid") -> Mutation:
    def apply(r: Request) -> Request:
        return replace(r, body=_with(r.body, path, value))

    names: tuple[str, ...] = (str(path[-1]),) if path else ("body",)
    if isinstance(value, str) and value:
        names += (value[:19],)  # or the value itself (a date up to its seconds)
    return Mutation(kind, category, names, apply, f"{_label(path)} = {_short(value)}")


def _huge_string(path: Path, limit: int | None, n: int) -> Mutation:
    """``path`` set to ``n`` characters: refused past ``limit``, else an edge."""
    return _set(path, "x" * n, "huge string", "invalid" if limit else "edge")


def _not_in(known: set[str], key: str) -> bool:
    return key not in known


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}... ({len(text)} chars)"


def _out_of_range(schema: dict[str, Any]) -> list[Any]:
    """Numbers the schema's bounds refuse, and ones no column can hold."""
    values: list[Any] = [10**30, -(10**30), 2**63, 1e308, -1e308, math.inf, -math.inf, math.nan]
    if "integer" in schema.get("type", ""):
        values.append(2**64)
    for bound, step in (
        ("maximum", 1),
        ("exclusiveMaximum", 0),
        ("minimum", -1),
        ("exclusiveMinimum", 0),
    ):
        if bound in schema:
            values.append(schema[bound] + step)
            values.append(schema[bound] + step * 1e6)
    return values


def field_mutations(
    schemas: Schemas, body_schema: dict[str, Any], body: Any
) -> st.SearchStrategy[Mutation]:
    options: list[st.SearchStrategy[Mutation]] = []
    for path, raw in schemas.leaves(body_schema, body):
        schema = schemas.resolve(raw)
        accepted = schemas.json_types(raw)
        if "any" in accepted:
            continue
        wrong = [v for t, v in _WRONG if t not in accepted]
        if wrong:
            options.append(st.sampled_from(wrong).map(partial(_set, path, kind="wrong type")))
        if accepted & {"number", "integer"}:
            bounded = any(
                k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
            )
            options.append(
                st.sampled_from(_out_of_range(schema)).map(
                    partial(
                        _set,
                        path,
                        kind="out of range",
                        category="invalid" if bounded else "edge",
                    )
                )
            )
        if "string" in accepted and schema.get("format") == "date-time":
            options.append(st.sampled_from(_BAD_DATES).map(partial(_set, path, kind="bad date")))
            options.append(
                st.sampled_from(_EXTREME_DATES).map(
                    partial(_set, path, kind="extreme date", category="edge")
                )
            )
        elif "string" in accepted:
            limit = schema.get("maxLength")
            low = (limit or 0) + 1
            options.append(
                st.integers(low, max(low, 300_000)).map(partial(_huge_string, path, limit))
            )
            if "pattern" in schema:
                options.append(st.just(_set(path, "not valid!/..", "pattern")))
    return st.one_of(options) if options else st.nothing()


def structure_mutations(
    schemas: Schemas, body_schema: dict[str, Any], body: Any, *, merge_patch: bool = False
) -> st.SearchStrategy[Mutation]:
    """Missing required fields and unknown ones. In a JSON merge patch
    (RFC 7396) an unknown key set to null removes nothing and is accepted."""
    options: list[st.SearchStrategy[Mutation]] = []
    unknown_values: list[Any] = (
        [1, "x", [], {"a": 1}] if merge_patch else [1, "x", None, [], {"a": 1}]
    )
    for path, schema in schemas.objects(body_schema, body):
        for name in schema.get("required", []):
            if name in _get(body, path):

                def drop(r: Request, p: Path = (*path, name)) -> Request:
                    return replace(r, body=_with(r.body, p, drop=True))

                options.append(
                    st.just(
                        Mutation("missing field", "invalid", (name,), drop, _label((*path, name)))
                    )
                )
        if schema.get("additionalProperties") is True:
            continue
        known = set(schema.get("properties", {}))
        keys = st.text(string.ascii_lowercase + "_", min_size=1, max_size=20).filter(
            partial(_not_in, known)
        )

        def add(key: str, value: Any, p: Path = path) -> Mutation:
            def apply(r: Request) -> Request:
                return replace(r, body=_with(r.body, (*p, key), value))

            return Mutation("unknown field", "invalid", (key,), apply, _label((*p, key)))

        options.append(st.builds(add, keys, st.sampled_from(unknown_values)))
    return st.one_of(options) if options else st.nothing()


def body_mutations(accepted_top: set[str], required: bool) -> st.SearchStrategy[Mutation]:
    """The whole body replaced: not JSON, or JSON of a type the body is not
    (an empty one only where a body is required)."""

    def raw(content: bytes, kind: str) -> Mutation:
        def apply(r: Request) -> Request:
            return replace(r, body=NO_BODY, raw=content, content_type="application/json")

        return Mutation(kind, "invalid", ("body",), apply, _short(content))

    not_json = st.one_of(
        st.sampled_from(
            [b"{", b"{'a': 1}", b"[1,]", b"\xff\xfe\x00", b"NaN", b"[" * 100_000]
            + ([b""] if required else [])
        ),
        st.binary(min_size=1, max_size=200).filter(lambda b: not _parses(b)),
        st.text(min_size=1, max_size=200).map(str.encode).filter(lambda b: not _parses(b)),
    ).map(lambda b: raw(b, "not JSON"))
    wrong = [json.dumps(v).encode() for t, v in _WRONG if t not in accepted_top]
    return st.one_of(not_json, st.sampled_from(wrong).map(lambda b: raw(b, "wrong body type")))


def _parses(content: bytes) -> bool:
    try:
        json.loads(content)
    except ValueError:
        return False
    return True


def text_body_mutations() -> st.SearchStrategy[Mutation]:
    """A text/plain upload replaced by text that holds no usable record."""

    def raw(content: bytes) -> Mutation:
        def apply(r: Request) -> Request:
            return replace(r, raw=content)

        return Mutation(
            "bad upload", "invalid", ("body", "norad", "record"), apply, _short(content)
        )

    return st.one_of(
        st.sampled_from([b"", b"   \n", b"1 33591U", b"\xff\xfe", b"x" * (2 << 20)]),
        st.text(min_size=1, max_size=300).map(str.encode),
    ).map(raw)


def parameter_mutations(schemas: Schemas, spec: dict[str, Any]) -> st.SearchStrategy[Mutation]:
    options: list[st.SearchStrategy[Mutation]] = []
    for param in spec.get("parameters", []):
        name, where = param["name"], param["in"]
        schema = schemas.resolve(param.get("schema", {}))
        bad: list[str]
        if schema.get("type") == "integer":
            bad = ["abc", "1.5", "1e3", str(10**30), str(-(10**30)), "0x10"]
            bad += [
                str(int(schema[k]) + d)
                for k, d in (
                    ("maximum", 1),
                    ("minimum", -1),
                    ("exclusiveMaximum", 0),
                    ("exclusiveMinimum", 0),
                )
                if k in schema
            ]
        elif where == "path":  # an id: one that names nothing (".." and "" change the path)
            bad = ["x" * ((schema.get("maxLength") or 4000) + 1), "no-such-thing", "%", "a b"]
        elif "maxLength" in schema:  # free text: only too long is wrong
            bad = ["x" * (schema["maxLength"] + 1), "x" * 20_000]
        else:
            continue
        values = st.sampled_from(bad)
        if where == "path" and schema.get("type") != "integer":
            ids = st.text(string.ascii_letters + string.digits + "-_.~", min_size=1, max_size=60)
            values = st.one_of(
                values, ids.filter(lambda v: v.strip(".") and not v.startswith("sv"))
            )
        options.append(values.map(partial(_param, where, name)))
    return st.one_of(options) if options else st.nothing()


def _param(where: str, name: str, value: str) -> Mutation:
    def apply(r: Request) -> Request:
        if where == "path":
            return replace(r, path_params={**r.path_params, name: value})
        if where == "query":
            return replace(r, query={**r.query, name: value})
        kept = {k: v for k, v in r.headers.items() if k.lower() != name.lower()}
        return replace(r, headers={**kept, name: value})

    names = (name, name.replace("-", "_"), value[:30])
    return Mutation(f"bad {where} parameter", "invalid", names, apply, f"{name} = {_short(value)}")


def mutations(schemas: Schemas, op: Operation, valid: Request) -> st.SearchStrategy[Mutation]:
    options = [parameter_mutations(schemas, op.spec)]
    content = op.spec.get("requestBody", {}).get("content", {})
    if valid.content_type == "text/plain":
        options.append(text_body_mutations())
    elif "application/json" in content and valid.body is not NO_BODY:
        body_schema = content["application/json"].get("schema", {})
        options += [
            body_mutations(
                schemas.json_types(body_schema), op.spec["requestBody"].get("required", False)
            ),
            field_mutations(schemas, body_schema, valid.body),
            structure_mutations(schemas, body_schema, valid.body, merge_patch=op.method == "patch"),
        ]
    return st.one_of(options)


# ---------------------------------------------------------------- running them


def snapshot(engine: Engine) -> dict[str, list[str]]:
    """Every row of every table, as sorted text."""
    names = sorted(inspect(engine).get_table_names())
    with engine.connect() as conn:
        return {
            name: sorted(
                repr(tuple(row)) for row in conn.execute(select(text("*")).select_from(table(name)))
            )
            for name in names
        }


def send(world: World, op: Operation, r: Request) -> Any:
    path = op.path
    for name, value in r.path_params.items():
        path = path.replace(f"{{{name}}}", quote(value, safe=""))
    headers = {**world.as_(r.who), **r.headers}
    kwargs: dict[str, Any] = {"params": r.query, "headers": headers}
    if r.raw is not None:
        kwargs["content"] = r.raw
        headers["Content-Type"] = r.content_type
    elif r.body is not NO_BODY:
        kwargs["content"] = json.dumps(r.body).encode()
        headers["Content-Type"] = "application/json"
    return world.client.request(op.method.upper(), path, **kwargs)


def _check(
    op: Operation,
    m: Mutation,
    response: Any,
    before: dict[str, list[str]],
    after: Callable[[], dict[str, list[str]]],
) -> str:
    """What is wrong with the answer to a mutated request ('' if nothing)."""
    status = response.status_code
    if status >= 500 or "Traceback" in response.text:
        return f"{status} {response.text[:300]}"
    if status < 400:
        return "" if m.category == "edge" else f"bad input accepted: {status} {response.text[:200]}"
    if response.headers.get("content-type") != "application/problem+json":
        return f"{status} not problem+json: {response.text[:200]}"
    detail = str(response.json().get("detail", ""))
    # 413 and 431 name the size of the whole body or head and the limit.
    names = (*m.names, "exceed") if status in (413, 431) else m.names
    if not any(n and n.lower() in detail.lower() for n in names):
        return f"{status} detail names none of {m.names}: {detail[:300]}"
    if after() != before:
        return f"{status} refused, but the database changed"
    return ""


def _run_operation(
    world: World,
    setup: Setup,
    schemas: Schemas,
    op: Operation,
    tried: Counter[str],
    accepted: set[str],
) -> list[str]:
    build = VALID[op.key]
    strategy = mutations(schemas, op, build(setup, 0))
    state: dict[str, Any] = {"before": snapshot(world.engine), "i": 0}
    failures: list[str] = []

    @given(m=strategy)
    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(m: Mutation) -> None:
        state["i"] += 1
        tried[op.key] += 1
        response = send(world, op, m.apply(build(setup, state["i"])))
        problem = _check(op, m, response, state["before"], lambda: snapshot(world.engine))
        if response.status_code < 400:
            state["before"] = snapshot(world.engine)
            accepted.add(f"{op.key}: {m.shown}")
        assert not problem, f"{op.key} with {m!r}: {problem}"

    try:
        run()
    except BaseException as exc:  # hypothesis' minimal failing example
        failures.append(str(exc)[:2000])
    valid = send(world, op, build(setup, 10_000))
    if valid.status_code >= 300:
        failures.append(
            f"{op.key}: its valid request was refused ({valid.status_code} {valid.text[:300]})"
        )
    return failures


def test_bad_input_to_every_write_operation_is_refused_naming_it_and_changes_nothing(
    world: World, record_property: Callable[[str, object], None]
) -> None:
    document = world.app.openapi()
    operations = write_operations(document)
    assert len(operations) >= 11
    untested = [op.key for op in operations if op.key not in VALID]
    assert not untested, f"write operations without a valid example in VALID: {untested}"
    setup = _prepare(world)
    schemas = Schemas(document)
    tried: Counter[str] = Counter()
    failures: list[str] = []
    accepted: set[str] = set()  # extreme but well-formed values that were stored
    for op in operations:
        failures += _run_operation(world, setup, schemas, op, tried, accepted)
    total = sum(tried.values())
    record_property("bad_inputs_tried", total)
    print(f"\nbad inputs tried: {total} over {len(operations)} write operations: {dict(tried)}")
    print("extreme values accepted:", *sorted(accepted), sep="\n  ")
    assert failures == [], "\n\n".join(failures)
    # hypothesis stops early once an operation's (finite) space is exhausted.
    assert all(tried[op.key] >= 5 for op in operations), tried


@pytest.mark.parametrize("kind", ["wrong type", "unknown field"])
def test_the_property_would_catch_a_bad_input_accepted(world: World, kind: str) -> None:
    """The checker itself: an accepted invalid request is reported."""

    class Accepted:
        status_code = 201
        text = "{}"
        headers: dict[str, str] = {}

    m = Mutation(kind, "invalid", ("x",), lambda r: r, "x")
    op = Operation("POST /x", "post", "/x", {})
    assert "accepted" in _check(op, m, Accepted(), {}, dict)


def test_plan_naming_an_unknown_antenna_is_404_and_stores_no_proposal(world: World) -> None:
    """Found by the property above: unknown antenna ids were left out silently
    and the plan proposed (and stored) on the others."""
    body = VALID["POST /plans"](Setup({}, "", "", ""), 0).body
    before = snapshot(world.engine)
    for antenna_ids in (["sv-uhf-2", "no-such-antenna"], ["x" * 81]):
        r = world.client.post(
            "/plans", json={**body, "antenna_ids": antenna_ids}, headers=world.as_("acme")
        )
        assert r.status_code in (404, 422), r.text
        assert antenna_ids[-1][:30] in r.json()["detail"]
    assert snapshot(world.engine) == before
