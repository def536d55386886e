"""Input PostgreSQL refuses but SQLite would store: NUL characters anywhere in
a request, non-finite numbers (NaN, Infinity) in a JSON body, and timestamps
that leave years 1..9999 in UTC. All answer 422 naming the field and the
value, on both databases, and nothing is stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from groundstation.clock import require_utc
from groundstation.errors import ValidationError

from .conftest import NOAA19, NOW, TLE, World
from .helpers import add_dataset

STATION = {"id": "kir", "name": "Kiruna", "lat_deg": 67.86, "lon_deg": 20.96}


def _fields(r: object) -> list[str]:
    body = r.json()  # type: ignore[attr-defined]
    return [e["field"] for e in body["errors"]]


def test_nul_in_a_query_parameter_is_422_naming_it(world: World) -> None:
    r = world.client.get("/contacts", params={"station": "sv\x00"}, headers=world.as_("acme"))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert _fields(r) == ["query.station"]
    assert "query.station" in r.json()["detail"]
    assert "'sv\\x00'" in r.json()["detail"]
    assert "NUL" in r.json()["detail"]


def test_nul_in_a_path_parameter_is_422_naming_it(world: World) -> None:
    r = world.client.get("/ground-stations/sval%00bard", headers=world.as_("admin"))
    assert r.status_code == 422, r.text
    assert _fields(r) == ["path.station_id"]
    assert "'sval\\x00bard'" in r.json()["detail"]


def test_nul_in_a_json_string_is_422_and_nothing_is_stored(world: World) -> None:
    h = world.as_("admin")
    r = world.client.post("/ground-stations", json={**STATION, "name": "Kir\x00una"}, headers=h)
    assert r.status_code == 422, r.text
    assert _fields(r) == ["body.name"]
    assert world.client.get("/ground-stations/kir", headers=h).status_code == 404


def test_nul_in_a_json_key_is_422_naming_the_key(world: World) -> None:
    r = world.client.put(
        "/mission-profiles/leo",
        json={"dataset_options": {"record\x00iq": True}},
        headers=world.as_("admin"),
    )
    assert r.status_code == 422, r.text
    assert _fields(r) == ["body.dataset_options.record\x00iq"]


def test_nul_in_every_offending_field_is_reported_at_once(world: World) -> None:
    r = world.client.post(
        "/ground-stations",
        json={**STATION, "id": "k\x00", "name": "\x00"},
        headers=world.as_("admin"),
    )
    assert r.status_code == 422
    assert sorted(_fields(r)) == ["body.id", "body.name"]


def test_nul_in_an_uploaded_tle_text_is_422_with_its_byte_offset(world: World) -> None:
    text = TLE.read_text().replace("NOAA 19", "NOAA\x0019", 1)
    at = text.encode().index(b"\x00")
    r = world.client.post(
        f"/satellites/{NOAA19}/ephemerides",
        content=text.encode(),
        headers={**world.as_("acme"), "Content-Type": "text/plain"},
    )
    assert r.status_code == 422, r.text
    assert _fields(r) == ["body"]
    assert f"byte {at}" in r.json()["detail"]


def test_an_escaped_backslash_before_u0000_is_ordinary_text(world: World) -> None:
    h = world.as_("admin")
    name = "Kiruna \\u0000 lab"  # a backslash, not a NUL
    r = world.client.post("/ground-stations", json={**STATION, "name": name}, headers=h)
    assert r.status_code == 201, r.text
    assert world.client.get("/ground-stations/kir", headers=h).json()["name"] == name


def test_lone_surrogate_in_a_free_form_object_is_422_naming_it(world: World) -> None:
    h = {**world.as_("admin"), "Content-Type": "application/json"}
    before = world.client.get("/mission-profiles/leo", headers=h).json()
    r = world.client.put(
        "/mission-profiles/leo",
        content=b'{"demod": {"\\udfff": 1, "mode": "bpsk\\ud800"}}',
        headers=h,
    )
    assert r.status_code == 422, r.text
    assert sorted(_fields(r)) == ["body.demod.\\udfff", "body.demod.mode"]
    assert "'bpsk\\ud800'" in r.json()["detail"]
    assert world.client.get("/mission-profiles/leo", headers=h).json() == before


@pytest.mark.parametrize(
    ("path", "method", "body", "field", "got"),
    [
        (
            "/ground-stations",
            "POST",
            '{"id": "kir", "name": "K", "lat_deg": 1, "lon_deg": 2, "horizon_mask": [[0, NaN]]}',
            "body.horizon_mask.0.1",
            "nan",
        ),
        (
            "/ground-stations",
            "POST",
            '{"id": "kir", "name": "K", "lat_deg": 1, "lon_deg": 2, "horizon_mask": [[0, 1e400]]}',
            "body.horizon_mask.0.1",
            "inf",
        ),
        (
            "/mission-profiles/leo",
            "PUT",
            '{"demod": {"eirp_dbw": -Infinity}}',
            "body.demod.eirp_dbw",
            "-inf",
        ),
        (
            f"/satellites/{NOAA19}/ephemerides",
            "POST",
            '{"NORAD_CAT_ID": 33591, "MEAN_MOTION": NaN}',
            "body.MEAN_MOTION",
            "nan",
        ),
    ],
    ids=["station-mask-nan", "station-mask-overflow", "profile-demod-inf", "omm-upload-nan"],
)
def test_non_finite_number_in_a_json_body_is_422_and_nothing_is_stored(
    world: World, path: str, method: str, body: str, field: str, got: str
) -> None:
    h = {**world.as_("admin"), "Content-Type": "application/json"}
    before = world.client.get("/mission-profiles/leo", headers=h).json()
    r = world.client.request(method, path, content=body.encode(), headers=h)
    assert r.status_code == 422, r.text
    assert _fields(r) == [field]
    assert f"(got {got})" in r.json()["detail"]
    assert world.client.get("/ground-stations/kir", headers=h).status_code == 404
    assert world.client.get("/mission-profiles/leo", headers=h).json() == before


@pytest.mark.parametrize(
    ("path", "param"),
    [("/datasets", "start"), ("/contacts", "end"), ("/passes", "start")],
)
def test_timestamp_outside_utc_years_is_422_naming_it(world: World, path: str, param: str) -> None:
    params: dict[str, object] = {param: "0001-01-01T00:00:00+01:00"}
    if path == "/passes":
        params["satellite"] = NOAA19
    r = world.client.get(path, params=params, headers=world.as_("acme"))
    assert r.status_code == 422, r.text
    assert _fields(r) == [f"query.{param}"]
    assert "0001-01-01T00:00:00+01:00" in r.json()["detail"]


def test_timestamp_at_the_end_of_year_9999_in_utc_is_422_in_a_body(world: World) -> None:
    r = world.client.post(
        "/contacts",
        json={
            "norad_id": NOAA19,
            "antenna_id": "sv-uhf",
            "profile_id": "leo",
            "start": "9999-12-31T23:00:00-05:00",
            "end": "9999-12-31T23:30:00-05:00",
        },
        headers=world.as_("acme"),
    )
    assert r.status_code == 422, r.text
    assert sorted(_fields(r)) == ["body.end", "body.start"]


def test_timestamps_with_an_offset_are_read_as_the_same_instant(world: World) -> None:
    # The dataset ends at NOW + 1h10m (UTC); ask in UTC+02:00 just before and after.
    add_dataset(
        world.engine,
        world.app.state.ctx.object_store(),
        dataset_id="ds-1",
        norad_id=NOAA19,
        files={"a.bin": b"a"},
    )
    plus2 = timezone(timedelta(hours=2))
    counts = [
        world.client.get(
            "/datasets",
            params={"start": (NOW + timedelta(minutes=m)).astimezone(plus2).isoformat()},
            headers=world.as_("acme"),
        ).json()["count"]
        for m in (69, 71)
    ]
    assert counts == [1, 0]


def test_require_utc_refuses_an_instant_outside_python_years_naming_it() -> None:
    early = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1)))
    with pytest.raises(ValidationError, match="start 0001-01-01T00:00:00\\+01:00"):
        require_utc(early, "start")
    assert require_utc(datetime(2023, 7, 4, 20, tzinfo=timezone(timedelta(hours=2))), "t") == (
        datetime(2023, 7, 4, 18, tzinfo=UTC)
    )
