"""GET /satellites/{norad}/ground-track: sub-satellite points with the
elements in force and each station's footprint (the console's world map)."""

from __future__ import annotations

from datetime import timedelta

from .conftest import NOAA19, NOW, World


def test_ground_track_covers_one_orbit_from_now_with_each_stations_footprint(
    world: World,
) -> None:
    r = world.client.get(f"/satellites/{NOAA19}/ground-track", headers=world.as_("acme"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == 201 and body["step_s"] == 30  # 100 min every 30 s
    assert body["data"][0]["time"].startswith("2023-07-04T18:00:00")
    assert body["elements_epoch"].startswith("2023-07-04T16:11")
    lats = [p["lat_deg"] for p in body["data"]]
    # NOAA 19: sun-synchronous at about 99 degrees, 850 km up
    assert 78 < max(abs(x) for x in lats) < 81.5  # 180 - 99 degrees
    assert 830 < body["mean_height_km"] < 890
    (fp,) = body["footprints"]
    assert fp["station_id"] == "svalbard" and fp["min_elevation_deg"] == 5.0
    assert 20 < fp["half_angle_deg"] < 26


def test_ground_track_respects_tenants_roles_and_limits(world: World) -> None:
    c = world.client
    url = f"/satellites/{NOAA19}/ground-track"
    assert c.get(url, headers=world.as_("globex")).status_code == 404
    assert c.get(url, headers=world.as_("scientist")).status_code == 403
    end = (NOW + timedelta(days=3)).isoformat()
    r = c.get(url, params={"start": NOW.isoformat(), "end": end}, headers=world.as_("acme"))
    assert r.status_code == 422 and "at most 48 h later" in r.text
    r = c.get(url, params={"step_s": 0.5}, headers=world.as_("acme"))
    assert r.status_code == 422
