"""The compiled grid stage (orbital.grid_kernels) gives exactly what the NumPy
version it replaced gave: the same samples kept, the same line of sight."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
from sgp4.api import SatrecArray

from orbital.elements import ElementSet
from orbital.geometry import station_arrays, teme_to_itrs
from orbital.grid_kernels import station_samples
from orbital.stations import Station
from orbital.timescale import Epoch

START = datetime(2023, 7, 4, tzinfo=UTC)


def _numpy_reference(
    r: np.ndarray, v: np.ndarray, up: np.ndarray, pos: np.ndarray, cone_cos: np.ndarray,
    sin_lo: float,
) -> tuple[np.ndarray, ...]:  # fmt: skip
    """The stage as main computed it with NumPy before the kernel."""
    n_t = r.shape[1]
    r_dot_r = np.einsum("ntk,ntk->nt", r, r)
    r_dot_v = np.einsum("ntk,ntk->nt", r, v)
    basis = np.stack((up, pos), axis=1)
    r_up_pos = r @ basis
    near = r_up_pos[..., 1] > (float(np.linalg.norm(pos)) * cone_cos)[:, None] * np.sqrt(r_dot_r)
    needed = near.copy()
    needed[:, 1:] |= near[:, :-1]
    needed[:, :-1] |= near[:, 1:]
    flat = np.flatnonzero(needed)
    rows = flat // n_t
    gap = np.ones(flat.shape, dtype=bool)
    gap[:-1] = (flat[1:] != flat[:-1] + 1) | (rows[1:] != rows[:-1])
    rp = r_up_pos.reshape(-1, 2)[flat]
    vp = (v @ basis).reshape(-1, 2)[flat]
    up_km = rp[:, 0] - float(up @ pos)
    range2 = r_dot_r.ravel()[flat] - 2.0 * rp[:, 1] + float(pos @ pos)
    el_rising = vp[:, 0] * range2 > (r_dot_v.ravel()[flat] - vp[:, 1]) * up_km
    if sin_lo >= 0.0:
        above = (up_km > 0.0) & (up_km * up_km > (sin_lo * sin_lo) * range2)
    else:
        above = up_km > sin_lo * np.sqrt(range2)
    return flat, gap, up_km, range2, el_rising, above


def test_station_samples_match_the_numpy_stage_they_replace(
    catalogue: list[ElementSet],
) -> None:
    sats = catalogue[:40]
    epoch = Epoch(START, 86400.0 + 2.0)
    grid = np.arange(0.0, 86400.0, 60.0)
    jd = epoch.julian(grid)
    _, r, v = SatrecArray([e.satrec() for e in sats]).sgp4(jd.whole, jd.utc_fraction)
    theta, theta_dot = jd.gmst_rad()
    r, v = teme_to_itrs(r, v, theta, theta_dot)
    r[3, 700:] = np.nan  # a satellite that failed part way
    r_dot_r = np.einsum("ntk,ntk->nt", r, r)
    r_dot_v = np.einsum("ntk,ntk->nt", r, v)
    cone_cos = np.linspace(0.6, 0.99, len(sats))
    cone_cos[::7] = -np.inf  # unbounded satellites: every sample near
    for station in (
        Station("gs", "GS", 48.2, 16.4, 200.0, 5.0),
        Station("low", "Low", -33.9, 18.4, 10.0, -2.0),
    ):
        pos, enu = station_arrays([station])
        up, p = enu[0, 2], pos[0]
        sin_lo = math.sin(math.radians(station.min_elevation_deg))
        got = station_samples(
            r, v, r_dot_r, r_dot_v, np.sqrt(r_dot_r), up, p, cone_cos,
            float(np.linalg.norm(p)), float(up @ p), float(p @ p), sin_lo,
        )  # fmt: skip
        want = _numpy_reference(r, v, up, p, cone_cos, sin_lo)
        assert 0 < got[0].size < r_dot_r.size  # some kept, some left out
        # The samples and the decisions are the same; the floats to the last
        # bits (NumPy's matmul sums the three products in its own order).
        for name, a, b in zip(
            ("flat", "gap", "rising", "above"), got[:2] + got[4:], want[:2] + want[4:], strict=True
        ):
            np.testing.assert_array_equal(a, b, err_msg=name)
        np.testing.assert_allclose(got[2], want[2], rtol=0.0, atol=1e-9)  # km
        np.testing.assert_allclose(got[3], want[3], rtol=1e-13, atol=0.0)  # km^2
