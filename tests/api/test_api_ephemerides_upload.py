"""``POST /ephemerides``: a multi-satellite TLE/3LE (or OMM) file in one
upload, each satellite visible to the key, a result per satellite; the
format named in errors (issue 15)."""

from __future__ import annotations

from typing import Any

from orbital.tle import tle_checksum

from .conftest import FUNCUBE, NOAA18, NOAA19, TLE, World

OEM = """CCSDS_OEM_VERS = 2.0
CREATION_DATE = 2023-07-04T00:00:00
ORIGINATOR = EXAMPLE
META_START
OBJECT_NAME = NOAA 19
OBJECT_ID = 2009-005A
CENTER_NAME = EARTH
REF_FRAME = EME2000
TIME_SYSTEM = UTC
START_TIME = 2023-07-04T18:00:00
STOP_TIME = 2023-07-04T18:01:00
META_STOP
2023-07-04T18:00:00 1000.0 2000.0 6500.0 1.0 2.0 3.0
"""


def _renumbered(norad_id: int) -> str:
    """NOAA 19's element set under another (unregistered) NORAD id."""
    lines = TLE.read_text().splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith("1 33591"))
    out = ["UNREGISTERED"]
    for line in lines[i : i + 2]:
        body = line[:2] + f"{norad_id:05d}" + line[7:68]
        out.append(body + str(tle_checksum(body)))
    return "\n".join(out) + "\n"


def _upload(world: World, text: str, who: str = "acme", path: str = "/ephemerides") -> Any:
    return world.client.post(
        path,
        params={"priority": 2, "source": "celestrak"},
        content=text,
        headers={**world.as_(who), "Content-Type": "text/plain"},
    )


def _in_force(world: World, norad_id: int, who: str = "acme") -> Any:
    r = world.client.get(f"/satellites/{norad_id}/ephemerides/in-force", headers=world.as_(who))
    assert r.status_code == 200, r.text
    return r.json()


def test_a_three_satellite_file_stores_each_satellite_the_key_sees(world: World) -> None:
    r = _upload(world, TLE.read_text() + _renumbered(99991))
    assert r.status_code == 201, r.text
    report = r.json()
    assert report["format"] == "TLE/3LE"
    assert [s["norad_id"] for s in report["satellites"]] == [NOAA18, NOAA19]
    for s in report["satellites"]:
        assert len(s["accepted"]) == 1
        accepted = s["accepted"][0]
        assert (accepted["priority"], accepted["source"]) == (2, "celestrak")
        assert s["in_force_id"] == accepted["id"] == _in_force(world, s["norad_id"])["id"]
        assert s["contacts_updated"] == 0
    # globex's FUNCUBE-1 and an unregistered satellite: rejected in the same words.
    reasons = {n: x for x in report["rejected"] for n in (FUNCUBE, 99991) if f"NORAD {n} " in x}
    assert set(reasons) == {FUNCUBE, 99991}
    assert reasons[FUNCUBE].split(":", 1)[1] == reasons[99991].split(":", 1)[1]
    assert "another tenant" in reasons[FUNCUBE]
    funcube = _in_force(world, FUNCUBE, who="globex")
    assert funcube["priority"] == 0  # the seed's, untouched


def test_an_admin_uploads_every_tenants_satellites_at_once(world: World) -> None:
    r = _upload(world, TLE.read_text(), who="admin")
    assert r.status_code == 201, r.text
    assert [s["norad_id"] for s in r.json()["satellites"]] == sorted([NOAA18, NOAA19, FUNCUBE])
    assert r.json()["rejected"] == []


def test_a_booked_contact_is_re_predicted_and_counted_on_its_satellite(world: World) -> None:
    from .helpers import contact_body, first_free_pass

    booked = world.client.post(
        "/contacts", json=contact_body(first_free_pass(world)), headers=world.as_("acme")
    )
    assert booked.status_code == 201, booked.text
    # The same elements at an epoch 8.6 s later move the pass by about that.
    lines = TLE.read_text().splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith("1 33591"))
    line1 = lines[i][:18] + "23185.67462503" + lines[i][32:68]
    newer = f"NOAA 19\n{line1}{tle_checksum(line1)}\n{lines[i + 1]}\n"
    r = _upload(world, newer)
    assert r.status_code == 201, r.text
    (noaa19,) = r.json()["satellites"]
    assert noaa19["norad_id"] == NOAA19
    assert noaa19["contacts_updated"] == r.json()["contacts_updated"] >= 1


def test_nothing_stored_is_422_naming_the_format_and_every_rejection(world: World) -> None:
    r = _upload(world, _renumbered(99991))
    assert r.status_code == 422
    body = r.json()
    assert body["format"] == "TLE/3LE" and "TLE/3LE" in body["detail"]
    assert len(body["rejected"]) == 1 and "NORAD 99991" in body["rejected"][0]


def test_an_oem_upload_is_refused_naming_the_format_not_as_a_tle(world: World) -> None:
    for path in (f"/satellites/{NOAA19}/ephemerides", "/ephemerides"):
        r = _upload(world, OEM, path=path)
        assert r.status_code == 422, r.text
        detail = r.json()["detail"]
        assert "CCSDS OEM" in detail, detail
        assert "looks like a TLE" not in detail
        assert all("TLE line" not in x for x in r.json()["rejected"])


def test_the_per_satellite_route_still_stores_only_its_satellite(world: World) -> None:
    r = _upload(world, TLE.read_text(), path=f"/satellites/{NOAA19}/ephemerides")
    assert r.status_code == 201, r.text
    assert [a["id"] for a in r.json()["accepted"]] == [_in_force(world, NOAA19)["id"]]
    assert r.json()["format"] == "TLE/3LE"
    assert any(str(NOAA18) in x for x in r.json()["rejected"])
