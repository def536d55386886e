"""GET /satellites/{norad_id}/transmitters: a satellite's downlinks as the
built-in satellite catalogue describes them (issue 16's satellite page)."""

from __future__ import annotations

from groundstation.satellites import builtin_catalogue

from .conftest import FUNCUBE, NOAA19, World


def test_a_catalogued_satellite_lists_its_catalogue_transmitters(world: World) -> None:
    r = world.client.get(f"/satellites/{FUNCUBE}/transmitters", headers=world.as_("globex"))
    assert r.status_code == 200, r.text
    body = r.json()
    spec = builtin_catalogue().find(FUNCUBE)
    assert body["catalogued"] and body["catalogue_name"] == spec.name
    assert body["count"] == len(spec.transmitters) == len(body["data"])
    for got, want in zip(body["data"], spec.transmitters, strict=True):
        assert (got["name"], got["frequency_hz"], got["modulation"]) == (
            want.name,
            want.frequency_hz,
            want.modulation,
        )
        assert (got["baud_rate"], got["framing"]) == (want.baud_rate, want.framing)


def test_an_uncatalogued_satellite_says_so_and_another_tenants_is_not_found(
    world: World,
) -> None:
    r = world.client.get(f"/satellites/{NOAA19}/transmitters", headers=world.as_("acme"))
    assert r.status_code == 200, r.text
    assert r.json() == {
        "norad_id": NOAA19,
        "catalogued": False,
        "catalogue_name": None,
        "data": [],
        "count": 0,
    }
    r = world.client.get(f"/satellites/{FUNCUBE}/transmitters", headers=world.as_("acme"))
    assert r.status_code == 404
    r = world.client.get("/satellites/99999999/transmitters", headers=world.as_("acme"))
    assert r.status_code == 404
