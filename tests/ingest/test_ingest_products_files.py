"""Analysis-ready files: frames.h5 (numbers as numbers, per-frame Es/N0 and
Doppler, CF attributes, good and failed frames, variable-length frames) and
SigMF recordings that the ``sigmf`` package validates without a warning."""

from __future__ import annotations

import json
import re
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import h5py
import numpy as np
import pytest

from ingest.errors import DatasetError
from ingest.h5frames import ContactAttrs, FramesH5Writer
from ingest.sigmf import Geolocation, SigMFWriter
from ingest.topics import FrameMeta

T0 = datetime(2026, 11, 27, 1, 0, 0, tzinfo=UTC)
NOTE = "simulated RF front end"


def _attrs(contact: str = "c-1") -> ContactAttrs:
    return ContactAttrs(
        satellite="NOAA 19",
        norad_id=33591,
        station="lisbon",
        antenna="dish-1",
        contact_id=contact,
        aos=T0,
        los=T0 + timedelta(minutes=10),
        profile={"framing": "ccsds", "downlink_freq_hz": 137.1e6, "samples_per_symbol": 4},
        simulated=NOTE,
    )


def _metas(n: int, *, crc: list[bool | None] | None = None) -> list[FrameMeta]:
    crc = crc if crc is not None else [True] * n
    return [
        FrameMeta("c-1", 33591, "lisbon", "dish-1", T0 + timedelta(seconds=i), 0, i, 0, crc[i], i)
        for i in range(n)
    ]


def _write_small(path: Path) -> None:
    w = FramesH5Writer(path, frame_length=4, attrs=_attrs(), chunk_frames=2)
    w.append_frames(
        [b"good", b"bad!", b"okay", b"fail"],
        _metas(4, crc=[True, False, None, True]),
        frame_ok=[True, False, True, False],
        esn0_db=[9.5, float("nan"), 8.0, 1.0],
        esn0_predicted_db=[10.0, 3.0, 9.0, 2.0],
        doppler_hz=[3000.0, 1000.0, -1000.0, -3000.0],
    )
    w.write_track(
        time_unix_s=T0.timestamp() + np.arange(10.0),
        azimuth_deg=np.linspace(0, 90, 10),
        elevation_deg=np.linspace(5, 60, 10),
        range_km=np.linspace(3000, 900, 10),
        range_rate_km_s=np.linspace(-6, 0, 10),
    )
    w.close()


def test_frames_h5_root_numbers_are_numbers_and_say_the_data_are_simulated(
    tmp_path: Path,
) -> None:
    _write_small(tmp_path / "f.h5")
    with h5py.File(tmp_path / "f.h5") as h:
        a = h.attrs
        for key in ("norad_id", "n_frames", "n_frames_ok", "n_crc_bad", "simulated"):
            assert np.issubdtype(np.asarray(a[key]).dtype, np.integer), key
        for key in ("aos_unix_s", "los_unix_s", "profile_downlink_freq_hz"):
            assert np.issubdtype(np.asarray(a[key]).dtype, np.floating), key
        assert a["aos_unix_s"] == T0.timestamp()
        assert a["profile_downlink_freq_hz"] == 137.1e6
        assert a["profile_samples_per_symbol"] == 4
        assert a["simulated"] == 1 and a["simulated_note"] == NOTE
        assert a["Conventions"] == "CF-1.8"
        assert (a["n_frames"], a["n_frames_ok"], a["n_frames_failed"]) == (4, 2, 2)


def test_good_and_failed_frames_separate_with_their_es_n0_and_doppler(tmp_path: Path) -> None:
    _write_small(tmp_path / "f.h5")
    with h5py.File(tmp_path / "f.h5") as h:
        ok = h["frame_ok"][:] == 1
        assert [bytes(r) for r in h["frames"][ok]] == [b"good", b"okay"]
        assert [bytes(r) for r in h["frames"][~ok]] == [b"bad!", b"fail"]
        assert h["frame_ok"].attrs["flag_meanings"] == "failed ok"
        assert list(h["crc_ok"][:]) == [1, 0, -1, 1]
        assert np.allclose(h["esn0_db"][:], [9.5, np.nan, 8.0, 1.0], equal_nan=True)
        assert list(h["doppler_hz"][:]) == [3000.0, 1000.0, -1000.0, -3000.0]
        assert h["doppler_hz"].attrs["units"] == "Hz"
        assert h["esn0_predicted_db"].attrs["units"] == "dB"
        assert list(h["table/frames"]["frame_ok"]) == [1, 0, 1, 0]


def test_frames_h5_columns_default_to_what_the_checks_say_and_nan(tmp_path: Path) -> None:
    w = FramesH5Writer(tmp_path / "f.h5", frame_length=2, attrs=_attrs())
    w.append(
        np.zeros((3, 2), np.uint8),
        sequence=np.arange(3),
        time_unix_s=np.arange(3.0),
        virtual_channel=np.zeros(3),
        frame_counter=np.arange(3),
        rs_corrections=np.array([0, -1, 2]),
        crc_ok=np.array([1, 1, 0]),
    )
    w.close()
    with h5py.File(tmp_path / "f.h5") as h:
        assert list(h["frame_ok"][:]) == [1, 0, 0]  # uncorrectable, bad CRC: failed
        assert np.all(np.isnan(h["doppler_hz"][:]))
        assert list(h["frame_length"][:]) == [2, 2, 2]


def test_frames_h5_opens_in_xarray_with_decoded_times_and_cf_units(tmp_path: Path) -> None:
    import xarray as xr

    _write_small(tmp_path / "f.h5")
    with xr.open_dataset(tmp_path / "f.h5", engine="h5netcdf") as ds:
        assert np.issubdtype(ds["time_unix_s"].dtype, np.datetime64)
        assert ds["time_unix_s"].values[1] == np.datetime64("2026-11-27T01:00:01")
        assert "time_unix_s" in ds["esn0_db"].coords
        good = ds.where(ds["frame_ok"] == 1, drop=True)
        assert good.sizes["frame"] == 2
        assert int(ds.attrs["norad_id"]) == 33591
    with xr.open_dataset(tmp_path / "f.h5", engine="h5netcdf", group="track") as track:
        assert np.issubdtype(track["time"].dtype, np.datetime64)
        assert track["elevation_deg"].attrs["units"] == "degree"
        assert track["range_rate_km_s"].attrs["units"] == "km s-1"
        assert track["range_km"].attrs["long_name"].startswith("slant range")


def test_variable_length_frames_are_kept_with_their_lengths(tmp_path: Path) -> None:
    import xarray as xr

    w = FramesH5Writer(
        tmp_path / "f.h5", frame_length=4, attrs=_attrs(), chunk_frames=2, variable_length=True
    )
    sent = [b"ab", b"abcd", b"abcdefg", b"x"]
    w.append_frames(sent[:2], _metas(2))
    w.append_frames(sent[2:], _metas(4)[2:])  # a longer frame widens the file
    with pytest.raises(DatasetError, match="frame 0 is empty"):
        w.append_frames([b""], _metas(1))
    w.close()
    with h5py.File(tmp_path / "f.h5") as h:
        lengths = h["frame_length"][:]
        assert list(lengths) == [2, 4, 7, 1]
        assert [bytes(r[:n]) for r, n in zip(h["frames"][:], lengths, strict=True)] == sent
        assert h["frames"].shape == (4, 7) and h["byte"].shape == (7,)
        assert h.attrs["frame_length_fixed"] == 0 and h.attrs["frame_length_max"] == 7
        assert bytes(h["frames"][0]) == b"ab" + bytes(5)  # zero padding after the frame
    with xr.open_dataset(tmp_path / "f.h5", engine="h5netcdf") as ds:
        assert ds["frames"].dims == ("frame", "byte") and ds.sizes["byte"] == 7


def test_a_fixed_length_writer_still_refuses_a_frame_of_another_length(tmp_path: Path) -> None:
    w = FramesH5Writer(tmp_path / "f.h5", frame_length=4, attrs=_attrs())
    with pytest.raises(DatasetError, match="frame 1 is 5 bytes, expected 4"):
        w.append_frames([b"abcd", b"abcde"], _metas(2))
    w.close()
    with h5py.File(tmp_path / "f.h5") as h:
        assert h.attrs["frame_length_fixed"] == 1


def _recording(tmp_path: Path, datatype: str = "cf32_le") -> Path:
    w = SigMFWriter(
        tmp_path / "iq",
        sample_rate_hz=48_000.0,
        center_freq_hz=137.1e6,
        capture_start=T0,
        datatype=datatype,
        description="SIMULATED: test",
        geolocation=Geolocation(lat_deg=38.7, lon_deg=-9.1, alt_m=80.0),
        hw="simulated RF front end; station lisbon, antenna dish-1",
        extra_global={"groundstation:simulated": NOTE},
    )
    if datatype == "cf32_le":
        w.write(np.ones(10_000, np.complex64))
    else:
        w.write(np.ones((10_000, 2), np.int16))
    w.annotate(5_000, 1_000, "frame", sequence=7, frame_ok=True, crc_ok=None)
    w.annotate(100, 1_000, "frame (failed)", sequence=6, frame_ok=False, crc_ok=False)
    w.close()
    return tmp_path / "iq.sigmf-meta"


@pytest.mark.parametrize("datatype", ["cf32_le", "ci16_le"])
def test_sigmf_files_validate_with_the_sigmf_package_without_any_warning(
    tmp_path: Path, datatype: str
) -> None:
    import sigmf

    meta_path = _recording(tmp_path, datatype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        recording = sigmf.sigmffile.fromfile(str(meta_path))  # checks the SHA-512 too
        recording.validate()
        assert recording.sample_count == 10_000
        samples = recording.read_samples()
    assert samples.shape == (10_000,)


def test_sigmf_metadata_declares_extensions_and_gives_station_hardware_and_fields(
    tmp_path: Path,
) -> None:
    meta = json.loads(_recording(tmp_path).read_text())
    g = meta["global"]
    assert g["core:extensions"] == [{"name": "groundstation", "version": "1.0.0", "optional": True}]
    assert g["core:geolocation"] == {"type": "Point", "coordinates": [-9.1, 38.7, 80.0]}
    assert g["core:hw"].startswith("simulated")
    assert g["groundstation:simulated"] == NOTE
    first, second = meta["annotations"]  # ordered by sample_start
    assert first["groundstation:sequence"] == 6 and first["groundstation:frame_ok"] is False
    assert second["groundstation:crc_ok"] is None
    assert "core:comment" not in second


def test_sigmf_without_extension_keys_declares_no_extension(tmp_path: Path) -> None:
    w = SigMFWriter(tmp_path / "iq", sample_rate_hz=1e3, center_freq_hz=1e6, capture_start=T0)
    w.write(np.zeros(10, np.complex64))
    w.close()
    assert "core:extensions" not in json.loads(w.meta_path.read_text())["global"]


def test_bands_h5_has_a_band_coordinate_and_a_time_per_row_with_gaps_kept(
    tmp_path: Path,
) -> None:
    import xarray as xr

    from dsp.profile import builtin_profile
    from groundstation.payload import ImageFrameSource, cloud_scene
    from groundstation.profile_settings import DEFAULT_FRAMING
    from ingest.bands import row_times_unix_s, write_bands_h5
    from ingest.imagery import BANDS, image_width_for, rebuild_image

    profile = builtin_profile(DEFAULT_FRAMING)
    scene = cloud_scene(6, image_width_for(profile.frame_length, fecf=profile.fecf), seed=3)
    source = ImageFrameSource(profile, scene)
    sent = [source.next_frame() for _ in range(6 * len(BANDS))]  # row by row, band by band
    times = T0.timestamp() + np.arange(len(sent), dtype=np.float64)
    lost = {3, 4, 5, 7}  # all of row 1, one band of row 2
    frames = [f for i, f in enumerate(sent) if i not in lost]
    kept_times = [float(t) for i, t in enumerate(times) if i not in lost]
    rebuilt = rebuild_image(frames, fecf=profile.fecf)
    assert rebuilt is not None
    row_t = row_times_unix_s(frames, kept_times, 6, fecf=bool(profile.fecf))
    write_bands_h5(
        tmp_path / "bands.h5",
        rebuilt.image,
        rebuilt.received,
        row_time_unix_s=row_t,
        simulated=NOTE,
    )
    with xr.open_dataset(tmp_path / "bands.h5", engine="h5netcdf") as ds:
        assert list(ds["band"].values) == list(BANDS)
        assert ds["bands"].dims == ("row", "column", "band")
        visible = ds["bands"].sel(band="visible")
        assert np.array_equal(visible.values, scene[..., 0] * rebuilt.received[:, :1])
        assert np.isnat(ds["time"].values[1])  # a lost row has no time, not a made-up one
        assert ds["time"].values[2] == np.datetime64("2026-11-27T01:00:06")
        assert ds["received"].sel(band="near-infrared").values.tolist() == [1, 0, 0, 1, 1, 1]
        assert ds["received"].sel(band="visible").values.tolist() == [1, 0, 1, 1, 1, 1]
        assert int(ds.attrs["simulated"]) == 1


def test_a_key_template_renders_the_contacts_prefix() -> None:
    from ingest.dataset import DEFAULT_KEY_TEMPLATE, dataset_key_prefix, render_key_template

    start = T0 + timedelta(hours=5)
    assert render_key_template(
        DEFAULT_KEY_TEMPLATE, norad_id=33591, start=start, contact_id="c-9"
    ) == dataset_key_prefix(33591, start, "c-9")
    assert (
        render_key_template(
            "{station}/{profile_id}/{satellite_id}/{year}{month}{day}T{hour}/{contact_id}",
            norad_id=33591,
            start=start,
            contact_id="c-9",
            station="lisbon",
            profile_id="wx",
        )
        == "lisbon/wx/33591/20261127T06/c-9"
    )


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{satellite_id}/{yr}/{contact_id}", "unknown placeholder(s) {yr}"),
        ("{satellite_id}/{year}", "must contain {contact_id}"),
        ("/{contact_id}", "relative path segments"),
        ("a//{contact_id}", "relative path segments"),
        ("../{contact_id}", "relative path segments"),
        ("{contact_id:>10}", "no format spec"),
        ("{contact_id", "not a valid template"),
    ],
)
def test_a_bad_key_template_is_refused_saying_why(template: str, message: str) -> None:
    from ingest.dataset import check_key_template

    with pytest.raises(DatasetError, match=re.escape(message)):
        check_key_template(template)


def test_a_dataset_under_a_templated_prefix_is_resumed_there_after_a_crash(
    tmp_path: Path,
) -> None:
    from sqlalchemy import create_engine

    from ingest.catalog import CatalogService
    from ingest.dataset import DatasetInfo, DatasetReader, DatasetWriter, recover
    from ingest.objectstore import LocalObjectStore

    catalog = CatalogService(create_engine(f"sqlite:///{tmp_path / 'c.db'}"))
    catalog.create_schema()
    store = LocalObjectStore(tmp_path / "objects")
    info = DatasetInfo("ds-t", "c-t", 33591, "NOAA 19", "lisbon", "dish-1", T0, T0, "wx/c-t")
    writer = DatasetWriter(info, store, catalog, tmp_path / "staging").begin()
    writer.add_product_bytes("receiver.json", b"{}")
    writer.stage_hook = lambda stage: (_ for _ in ()).throw(KeyboardInterrupt(stage))
    with pytest.raises(KeyboardInterrupt):
        writer.commit()
    assert recover(store=store, catalog=catalog, staging_root=tmp_path / "staging").resumed
    [entry] = catalog.find(contact_id="c-t")
    assert entry.key_prefix == "wx/c-t"
    assert DatasetReader.for_entry(store, entry).read_bytes("products/receiver.json") == b"{}"


def test_quicklooks_are_pngs_with_thumbnails(tmp_path: Path) -> None:
    from PIL import Image

    from dsp.quicklook import Waterfall
    from ingest.quicklook import (
        PassSeries,
        quicklook_names,
        write_constellation,
        write_esn0_frequency,
        write_waterfall,
    )

    fs_hz, n = 48_000.0, 96_000
    wf = Waterfall(fs_hz=fs_hz, n_samples=n, nfft=256, max_rows=40)
    t = np.arange(n) / fs_hz
    wf.process(np.exp(2j * np.pi * 3000.0 * t).astype(np.complex64))
    wf.finish()
    t0 = T0.timestamp()
    series = PassSeries(
        frame_time_unix_s=[t0 + 0.1, t0 + 0.5, t0 + 1.0],
        frame_esn0_db=[8.0, float("nan"), 9.0],
        frame_esn0_predicted_db=[8.5, 2.0, 9.5],
        frame_ok=[True, False, True],
        track_time_unix_s=t0 + np.arange(3.0),
        track_doppler_hz=np.array([3000.0, 0.0, -3000.0]),
    )
    write_waterfall(tmp_path / "waterfall.png", wf, start_unix_s=t0, series=series,
                    title="t", simulated=NOTE)  # fmt: skip
    write_esn0_frequency(tmp_path / "esn0_frequency.png", series, title="t", simulated=NOTE)
    rng = np.random.default_rng(0)
    write_constellation(tmp_path / "constellation.png",
                        rng.choice([-1, 1], 500).astype(np.complex64), title="t")  # fmt: skip
    for name in ("waterfall", "esn0_frequency", "constellation"):
        with Image.open(tmp_path / f"{name}.png") as img:
            assert img.format == "PNG" and img.width >= 400
        with Image.open(tmp_path / f"{name}_thumb.png") as thumb:
            assert thumb.width == 240
    names = [f"products/quicklook/{p.name}" for p in tmp_path.iterdir()]
    assert quicklook_names(names) == [
        "products/quicklook/constellation.png",
        "products/quicklook/esn0_frequency.png",
        "products/quicklook/waterfall.png",
    ]
