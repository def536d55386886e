"""Georeferenced imagery (issue 18): the scanning radiometer's frames ->
the CF swath (xarray, satpy), the map product (PNG, GeoTIFF), gaps kept,
and the geolocation checked against the land mask."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from dsp.profile import ProfileError, builtin_profile, load_profile
from groundstation.payload import (
    ImageFrameSource,
    RadiometerScene,
    line_ready_frames,
    radiometer_scene,
    scan_plan,
)
from ingest.geoproducts import (
    SwathGeometry,
    check_geolocation,
    georeferenced_products,
    swath_dataset,
)
from ingest.imagery import rebuild_image
from orbital.omm import parse_element_set

ROOT = Path(__file__).resolve().parents[2]
#: NOAA 15 over the coast of Peru and Chile, near the element set's epoch.
START = datetime(2023, 7, 4, 12, 28, tzinfo=UTC)
FRAME_S = 0.4317  # ccsds-bpsk-conv-rs at 9600 baud
N_FRAMES = 700  # 5 minutes
#: Geolocation tolerance: the land mask agrees with the swath's clear land
#: and sea within 2 pixels for at least 99.5 % of them, and the best shift is
#: at most 1 pixel (the pixel is ~8 km at nadir, ~30 km at the edges).
TOLERANCE_PX = 2


@dataclass
class Pass:
    seen: RadiometerScene
    frames: list[bytes]
    geometry: SwathGeometry


def _tle() -> str:
    return "\n".join((ROOT / "sample_tles" / "weather.tle").read_text().splitlines()[:3])


@pytest.fixture(scope="module")
def noaa_pass() -> Iterator[Pass]:
    profile = builtin_profile("ccsds-bpsk-conv-rs")
    tle = _tle()
    seen = radiometer_scene(
        profile,
        parse_element_set(tle),
        START,
        n_frames=N_FRAMES,
        duration_s=N_FRAMES * FRAME_S,
        frame_s=FRAME_S,
        seed=7,
    )
    source = ImageFrameSource(
        profile, seen.scene, seen.line_time_unix_us, line_ready_frames(seen.plan, FRAME_S)
    )
    frames = [source.next_frame() for _ in range(N_FRAMES)]
    yield Pass(seen, frames, SwathGeometry("NOAA 15", 25338, tle, seen.plan.fov_deg))


def _lossy(frames: list[bytes]) -> list[bytes]:
    """Frames 100..129 lost (10 whole lines), and every 37th frame (single bands)."""
    return [f for i, f in enumerate(frames) if not (100 <= i < 130 or i % 37 == 5)]


def test_scan_plan_follows_the_profile_imager_and_refuses_what_the_frame_cannot_carry() -> None:
    profile = builtin_profile("ccsds-bpsk-conv-rs")
    assert profile.imager is not None
    plan = scan_plan(profile, n_frames=N_FRAMES, duration_s=N_FRAMES * FRAME_S, frame_s=FRAME_S)
    assert plan.pixels == 180 and plan.fov_deg == 110.0
    assert np.allclose(np.diff(plan.line_t_s), 1 / 0.75)
    text = (ROOT / "dsp" / "profiles" / "ccsds-bpsk-conv-rs.yaml").read_text()
    too_wide = load_profile(text.replace("pixels_per_line: 180", "pixels_per_line: 500"))
    with pytest.raises(ValueError, match=r"imager.pixels_per_line' is 500.*at most 190"):
        scan_plan(too_wide, n_frames=N_FRAMES, duration_s=300.0, frame_s=FRAME_S)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("fov_deg: 110.0", "fov_deg: 200", r"'imager.fov_deg' is 200"),
        ("scan_rate_hz: 0.75", "scan_rate_hz: -1", r"'imager.scan_rate_hz' is -1"),
        ("scan_rate_hz: 0.75", "scan_hz: 1", r"unknown field 'imager.scan_hz'"),
    ],
)
def test_bad_imager_settings_are_refused_naming_the_field(old: str, new: str, message: str) -> None:
    text = (ROOT / "dsp" / "profiles" / "ccsds-bpsk-conv-rs.yaml").read_text()
    with pytest.raises(ProfileError, match=message):
        load_profile(text.replace(old, new))


def test_lines_are_downlinked_as_they_are_scanned_with_their_time_tags(noaa_pass: Pass) -> None:
    rebuilt = rebuild_image(noaa_pass.frames)
    assert rebuilt is not None
    assert np.array_equal(rebuilt.image, noaa_pass.seen.scene)
    sent_us = np.round(rebuilt.line_time_unix_s * 1e6).astype(np.int64)
    assert np.array_equal(sent_us, noaa_pass.seen.line_time_unix_us)
    # line k is not sent before it is scanned: frame slot >= its scan start
    assert rebuilt.image.shape[0] == noaa_pass.seen.plan.n_lines < N_FRAMES // 3


def test_swath_loads_in_xarray_with_cf_metadata_and_lost_frames_as_nan(
    noaa_pass: Pass, tmp_path: Path
) -> None:
    products = georeferenced_products(_lossy(noaa_pass.frames), noaa_pass.geometry)
    assert products is not None
    assert products.swath_name.startswith("NOAA15-radiometer-20230704122")
    ds = xr.open_dataset(io.BytesIO(products.swath_nc), engine="h5netcdf")
    assert ds.attrs["Conventions"] == "CF-1.8" and ds.attrs["simulated"] == "true"
    assert "SIMULATED" in ds.attrs["title"]
    assert ds["latitude"].attrs["units"] == "degrees_north"
    assert ds["thermal_infrared"].attrs["units"] == "K"
    assert ds["visible"].attrs["standard_name"] == "toa_bidirectional_reflectance"
    assert ds["time"].dtype.kind == "M" and ds["time"].dims == ("y",)
    assert bool(np.all(np.diff(ds["time"].values) > np.timedelta64(0)))  # lost lines interpolated
    vis = ds["visible"].values
    received = ds["line_received"].values.astype(bool)
    assert not received[35:42].any()  # frames 100..129: lines 33..42 (3 frames a line)
    assert np.isnan(vis[~received[:, 0]]).all()
    assert not np.isnan(vis[received[:, 0]]).any()
    expected = noaa_pass.seen.lat_deg
    assert np.nanmax(np.abs(ds["latitude"].values - expected)) < 1e-4  # float32 rounding


def test_satpy_loads_the_swath_with_its_cf_reader(noaa_pass: Pass, tmp_path: Path) -> None:
    from pyresample.geometry import SwathDefinition
    from satpy import Scene

    products = georeferenced_products(_lossy(noaa_pass.frames), noaa_pass.geometry)
    assert products is not None
    path = tmp_path / products.swath_name
    path.write_bytes(products.swath_nc)
    scn = Scene(filenames=[str(path)], reader="satpy_cf_nc")
    scn.load(["visible", "thermal_infrared"])
    bt = scn["thermal_infrared"]
    assert bt.attrs["units"] == "K"
    assert isinstance(bt.attrs["area"], SwathDefinition)
    lons, lats = bt.attrs["area"].get_lonlats()
    assert np.allclose(np.asarray(lats), noaa_pass.seen.lat_deg, atol=1e-4)
    assert bt.attrs["start_time"].year == 2023
    assert np.isnan(np.asarray(bt.values)[36]).all()  # a lost line stays a gap


def test_map_product_is_a_geotiff_and_png_with_coastlines_and_transparent_gaps(
    noaa_pass: Pass,
) -> None:
    import rasterio
    from PIL import Image

    products = georeferenced_products(_lossy(noaa_pass.frames), noaa_pass.geometry)
    assert products is not None
    with rasterio.open(io.BytesIO(products.map_tif)) as tif:
        assert tif.count == 4 and tif.crs is not None and "eqc" in tif.crs.to_proj4()
        assert tif.tags()["simulated"] == "true"
        bands = tif.read()
    vis, coast = bands[0], bands[3]
    inside = np.isfinite(vis)
    assert 0.3 < inside.mean() < 0.95  # the swath, and no data around it
    assert (vis[inside] >= 0).all()
    assert coast.sum() > 50  # South America's coastline crosses the map
    png = np.asarray(Image.open(io.BytesIO(products.map_png)))
    assert png.shape[2] == 4
    assert (png[..., 3] == 0).mean() > 0.05  # gaps and off-swath transparent
    assert ((png[..., 0] == 255) & (png[..., 1] == 255) & (png[..., 2] == 0)).sum() > 50
    # the lost lines make a transparent band across the swath, not black pixels
    opaque_black = (png[..., 3] == 255) & (png[..., :3].sum(axis=-1) == 0)
    assert opaque_black.sum() == 0


def test_geolocation_agrees_with_the_land_mask_within_two_pixels(noaa_pass: Pass) -> None:
    rebuilt = rebuild_image(_lossy(noaa_pass.frames))
    assert rebuilt is not None
    ds = swath_dataset(rebuilt, noaa_pass.geometry)
    check = check_geolocation(ds, tolerance_px=TOLERANCE_PX)
    assert check.classified > 5000
    assert max(abs(check.shift_px[0]), abs(check.shift_px[1])) <= 1
    assert check.outside_tolerance < 0.005
    assert check.agreement > 0.97


@pytest.mark.parametrize(("dt_s", "fov_deg"), [(8.0, 110.0), (0.0, 95.0)])
def test_geolocation_check_catches_a_time_or_scan_error(
    noaa_pass: Pass, dt_s: float, fov_deg: float
) -> None:
    """The check can fail: time tags 8 s late (6 lines) or a wrong field of
    view put the land off the mask by more than the tolerance."""
    rebuilt = rebuild_image(noaa_pass.frames)
    assert rebuilt is not None
    rebuilt.line_time_unix_s = rebuilt.line_time_unix_s + dt_s
    geometry = SwathGeometry("NOAA 15", 25338, noaa_pass.geometry.tle, fov_deg)
    check = check_geolocation(swath_dataset(rebuilt, geometry), tolerance_px=TOLERANCE_PX)
    assert check.error_px > TOLERANCE_PX or check.outside_tolerance > 0.005


@pytest.mark.kafka
def test_the_kafka_consumer_example_makes_the_georeferenced_products_from_the_frame_topic(
    noaa_pass: Pass, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    import argparse
    from contextlib import redirect_stdout
    from datetime import timedelta

    from groundstation.commands import consume
    from ingest.config import KafkaConfig
    from ingest.kafka_publisher import KafkaPublisher
    from ingest.topics import FrameMeta

    pub = KafkaPublisher(
        KafkaConfig(kafka_bootstrap, topic_prefix=topic_prefix, partitions=3, spool_dir=tmp_path)
    ).start()
    lost = {i for i in range(len(noaa_pass.frames)) if 100 <= i < 130 or i % 37 == 5}
    try:
        for i, data in enumerate(noaa_pass.frames):
            bad = i in lost  # published, but failed its CRC: the consumer must skip it
            payload = data[:-2] + bytes(2) if bad else data
            meta = FrameMeta(
                contact_id="c-geo",
                norad_id=25338,
                station="lisbon",
                antenna="dish-1",
                frame_time=START + timedelta(seconds=i * FRAME_S),
                virtual_channel=1,
                frame_counter=i % 256,
                rs_corrections=0,
                crc_ok=not bad,
                sequence=i,
            )
            pub.publish_frame(payload, meta)
        pub.flush(timeout_s=30.0)
    finally:
        pub.close()
    parser = argparse.ArgumentParser()
    consume.register(parser.add_subparsers())
    out_dir = tmp_path / "geo"
    args = parser.parse_args(
        ["consume", "frames", "--bootstrap", kafka_bootstrap, "--prefix", topic_prefix,
         "--contact", "c-geo", "--idle-timeout", "10", "--geo", str(out_dir),
         "--tle", str(ROOT / "sample_tles" / "weather.tle")]
    )  # fmt: skip
    out = io.StringIO()
    with redirect_stdout(out):
        assert args.func(args) == 0
    assert "SIMULATED" in out.getvalue()
    [nc] = sorted(out_dir.glob("NOAA15-radiometer-*.nc"))
    ds = xr.open_dataset(nc, engine="h5netcdf")
    expected = rebuild_image(_lossy(noaa_pass.frames))
    assert expected is not None
    assert np.array_equal(ds["line_received"].values.astype(bool), expected.received)
    assert np.isnan(ds["visible"].values[36]).all()
    assert (out_dir / "map.png").stat().st_size > 1000
    assert (out_dir / "map.tif").stat().st_size > 1000
    assert check_geolocation(ds).outside_tolerance < 0.005


def test_the_packed_land_mask_answers_as_the_package_does_and_nan_is_not_land() -> None:
    from global_land_mask import globe

    from ingest.landmask import is_land

    rng = np.random.default_rng(3)
    lat = rng.uniform(-90, 90, 20000)
    lon = rng.uniform(-180, 180, 20000)
    assert np.array_equal(is_land(lat, lon), globe.is_land(lat, lon))
    assert is_land(np.array([48.85, 0.0]), np.array([2.35, -30.0])).tolist() == [True, False]
    assert not is_land(np.array([np.nan]), np.array([0.0]))[0]
    assert np.array_equal(is_land(lat, lon + 360.0), is_land(lat, lon))  # wrapped
