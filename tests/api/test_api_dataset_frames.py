"""GET /datasets/{id}/frames (issue 16, the contact page's frames table): a
page of a dataset's decoded frames read from its ``frames.h5``, with the
dataset routes' tenant rules and strict, bounded query parameters. On
SQLite and PostgreSQL, the file written by the project's own
``FramesH5Writer``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from tests.support.frames import frames_h5

from .conftest import NOAA19, NOW, World
from .helpers import add_dataset

N_FRAMES = 120
T0_S = NOW.timestamp() + 3600.0


def _frame(i: int) -> bytes:
    """Frame ``i``: 10 bytes for every 7th frame, else 40; bytes i, i+1, ..."""
    return bytes((i + k) % 256 for k in range(10 if i % 7 == 0 else 40))


def _frames_h5(path: Path) -> bytes:
    idx = np.arange(N_FRAMES)
    return frames_h5(
        path,
        [_frame(i) for i in range(N_FRAMES)],
        contact_id="c-1",
        chunk_frames=32,
        time_unix_s=T0_S + 0.5 * idx,
        virtual_channel=idx % 2,
        frame_counter=idx + 1000,
        rs_corrections=np.where(idx % 11 == 0, -1, idx % 3),
        crc_ok=np.where(idx % 5 == 0, -1, np.where(idx % 11 == 0, 0, 1)),
        esn0_db=np.where(idx % 2 == 0, 7.25 + 0.01 * idx, np.nan),
    )


@pytest.fixture
def frames_world(world: World, tmp_path: Path) -> World:
    store = world.app.state.ctx.object_store()
    data = _frames_h5(tmp_path / "frames.h5")
    add_dataset(world.engine, store, dataset_id="ds-f", norad_id=NOAA19, files={"frames.h5": data})
    add_dataset(
        world.engine,
        store,
        dataset_id="ds-not-h5",
        norad_id=NOAA19,
        contact_id="c-2",
        files={"frames.h5": b"not an HDF5 file"},
    )
    add_dataset(
        world.engine,
        store,
        dataset_id="ds-no-frames",
        norad_id=NOAA19,
        contact_id="c-3",
        files={"products/receiver.json": b"{}"},
    )
    return world


def test_a_page_of_frames_gives_each_frames_time_length_checks_esn0_and_first_bytes(
    frames_world: World,
) -> None:
    w = frames_world
    r = w.client.get(
        "/datasets/ds-f/frames",
        params={"offset": 98, "limit": 50, "head_bytes": 12},
        headers=w.as_("scientist"),
    )
    assert r.status_code == 200, r.text
    page = r.json()
    assert (page["count"], page["offset"], page["limit"]) == (N_FRAMES, 98, 50)
    rows = page["data"]
    assert [f["sequence"] for f in rows] == list(range(98, N_FRAMES))
    for f in rows:
        i = f["sequence"]
        assert datetime.fromisoformat(f["time"]) == datetime.fromtimestamp(T0_S + 0.5 * i, UTC)
        assert f["length_bytes"] == len(_frame(i))
        assert f["head_hex"] == _frame(i)[:12].hex()
        assert f["crc_ok"] == (None if i % 5 == 0 else i % 11 != 0)
        assert f["rs_corrections"] == (-1 if i % 11 == 0 else i % 3)
        assert f["frame_ok"] is (i % 11 != 0)
        assert (f["virtual_channel"], f["frame_counter"]) == (i % 2, i + 1000)
        if i % 2:
            assert f["esn0_db"] is None
        else:
            assert f["esn0_db"] == pytest.approx(7.25 + 0.01 * i, abs=1e-3)
    short = next(f for f in rows if f["sequence"] == 98)  # 98 = 7 * 14: a 10-byte frame
    assert short["head_hex"] == _frame(98).hex() and len(_frame(98)) == 10


def test_frame_pages_default_to_fifty_and_end_with_an_empty_page(frames_world: World) -> None:
    w = frames_world
    first = w.client.get("/datasets/ds-f/frames", headers=w.as_("acme")).json()
    assert [f["sequence"] for f in first["data"]] == list(range(50))
    assert all(len(f["head_hex"]) <= 32 for f in first["data"])  # 16 bytes by default
    past = w.client.get("/datasets/ds-f/frames", params={"offset": 500}, headers=w.as_("acme"))
    assert past.status_code == 200
    assert (past.json()["data"], past.json()["count"]) == ([], N_FRAMES)


@pytest.mark.parametrize("who", ["globex", "globex-scientist"])
def test_another_tenants_dataset_frames_are_404(frames_world: World, who: str) -> None:
    r = frames_world.client.get("/datasets/ds-f/frames", headers=frames_world.as_(who))
    assert r.status_code == 404
    assert "ds-f" in r.json()["detail"]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "501"),
        ({"offset": -1}, "-1"),
        ({"head_bytes": 65}, "65"),
        ({"offset": "ten"}, "ten"),
        ({"limitt": 5}, "limitt"),
    ],
)
def test_bad_query_parameters_are_422_naming_the_value(
    frames_world: World, params: dict[str, object], named: str
) -> None:
    r = frames_world.client.get(
        "/datasets/ds-f/frames", params=params, headers=frames_world.as_("acme")
    )
    assert r.status_code == 422, r.text
    assert named in r.json()["detail"]


def test_a_dataset_without_a_readable_frames_file_is_404_saying_so(frames_world: World) -> None:
    w = frames_world
    bad = w.client.get("/datasets/ds-not-h5/frames", headers=w.as_("acme"))
    assert bad.status_code == 404
    assert "frames.h5 of dataset 'ds-not-h5' cannot be read" in bad.json()["detail"]
    none = w.client.get("/datasets/ds-no-frames/frames", headers=w.as_("acme"))
    assert none.status_code == 404
    assert "frames.h5" in none.json()["detail"] and "ds-no-frames" in none.json()["detail"]
    unknown = w.client.get("/datasets/no-such/frames", headers=w.as_("acme"))
    assert unknown.status_code == 404 and "no-such" in unknown.json()["detail"]
