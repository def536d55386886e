"""Quick-look images of a contact, in its dataset under ``products/quicklook/``.

- ``waterfall.png``: the pass's spectrogram (``dsp.quicklook.Waterfall``),
  frequency across, time down (UTC), with the predicted Doppler overlaid;
- ``esn0_frequency.png``: Es/N0 per frame (receiver estimate, link budget)
  and the carrier frequency offset (receiver's track, predicted Doppler) vs time;
- ``constellation.png``: the demodulated symbols near TCA
  (``dsp.quicklook.constellation_density``), when the receiver gives symbols;
- ``<name>_thumb.png``: a small copy of each, for listings.

Every image says in its title when the pass was simulated; lost frames are
gaps (no point drawn), not zeros. Drawn with matplotlib's Agg backend (no
display), figures closed after use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dsp.quicklook import Waterfall, constellation_density

#: Folder of the quick-looks inside a dataset; the API lists the PNGs there.
QUICKLOOK_DIR = "products/quicklook"
THUMB_SUFFIX = "_thumb.png"
THUMB_WIDTH_PX = 240


@dataclass
class PassSeries:
    """Per-frame and along-track series of a pass (times in Unix seconds).

    frames: time, receiver Es/N0 (NaN: not estimated), link-budget Es/N0;
    track: time, predicted Doppler; receiver: time, measured carrier frequency."""

    frame_time_unix_s: list[float] = field(default_factory=list)
    frame_esn0_db: list[float] = field(default_factory=list)
    frame_esn0_predicted_db: list[float] = field(default_factory=list)
    frame_ok: list[bool] = field(default_factory=list)
    track_time_unix_s: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    track_doppler_hz: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    measured_time_unix_s: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    measured_freq_hz: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))


def _times(unix_s: Any) -> NDArray[Any]:
    return np.asarray(
        [datetime.fromtimestamp(float(t), UTC).replace(tzinfo=None) for t in np.ravel(unix_s)]
    )


def _title(text: str, simulated: str) -> str:
    return f"{text}\nSIMULATED: {simulated}" if simulated else text


def _figure(width_in: float, height_in: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), dpi=100, layout="constrained")


def _save(fig: Any, path: Path) -> None:
    """The figure as a PNG and a thumbnail beside it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    FigureCanvasAgg(fig)
    fig.savefig(path, format="png")
    with Image.open(path) as img:
        h = max(int(img.height * THUMB_WIDTH_PX / img.width), 1)
        img.convert("RGB").resize((THUMB_WIDTH_PX, h)).save(
            path.with_name(path.stem + THUMB_SUFFIX), format="PNG"
        )


def write_waterfall(
    path: Path,
    waterfall: Waterfall,
    *,
    start_unix_s: float,
    series: PassSeries,
    title: str,
    simulated: str = "",
    overlay_doppler: bool = True,
) -> None:
    """The spectrogram over the pass; the predicted Doppler overlaid when the
    recorded IQ carries it (``overlay_doppler``: no front end tuned it out)."""
    db = waterfall.power_db()
    finite = db[np.isfinite(db)]
    lo, hi = np.percentile(finite, [5, 99.5]) if finite.size else (0.0, 1.0)
    freq_khz = waterfall.freq_hz() / 1e3
    bottom_s = waterfall.n_rows * waterfall.row_samples / waterfall.fs_hz
    fig = _figure(8, 8)
    ax = fig.add_subplot()
    image = ax.imshow(
        db,
        aspect="auto",
        origin="upper",
        cmap="viridis",
        vmin=float(lo),
        vmax=float(hi),
        extent=(
            float(freq_khz[0]),
            float(freq_khz[-1]),
            bottom_s,
            0.0,
        ),
        interpolation="nearest",
    )
    if overlay_doppler and series.track_time_unix_s.size:
        ax.plot(
            series.track_doppler_hz / 1e3,
            series.track_time_unix_s - start_unix_s,
            color="white",
            linewidth=0.8,
            linestyle="--",
            label="predicted Doppler",
        )
        ax.legend(loc="lower right", fontsize=8)
    ax.set_xlim(float(freq_khz[0]), float(freq_khz[-1]))
    ax.set_ylim(bottom_s, 0.0)
    ax.set_xlabel("frequency offset from centre (kHz)")
    ax.set_ylabel(f"seconds from {datetime.fromtimestamp(start_unix_s, UTC):%Y-%m-%d %H:%M:%S} UTC")
    ax.set_title(_title(title, simulated), fontsize=9)
    fig.colorbar(image, ax=ax, label="power (dB, relative)")
    _save(fig, path)


def write_esn0_frequency(
    path: Path,
    series: PassSeries,
    *,
    title: str,
    simulated: str = "",
    doppler_label: str = "predicted Doppler",
) -> None:
    """Es/N0 per frame and the carrier frequency offset vs time."""
    fig = _figure(9, 6)
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    t = _times(series.frame_time_unix_s)
    ok = np.asarray(series.frame_ok, dtype=bool)
    esn0 = np.asarray(series.frame_esn0_db, dtype=np.float64)
    if t.size:
        ax1.plot(t, series.frame_esn0_predicted_db, ".", ms=2, color="0.6", label="link budget")
        good = ok & np.isfinite(esn0)
        if good.any():
            ax1.plot(t[good], esn0[good], ".", ms=3, label="receiver (decoded frames)")
        if (~ok).any():
            ax1.plot(t[~ok], np.asarray(series.frame_esn0_predicted_db)[~ok], "x", ms=4,
                     color="tab:red", label="failed frames")  # fmt: skip
    ax1.set_ylabel("Es/N0 (dB)")
    ax1.legend(loc="lower center", fontsize=8)
    ax1.grid(alpha=0.3)
    if series.track_time_unix_s.size:
        ax2.plot(_times(series.track_time_unix_s), series.track_doppler_hz / 1e3, "--",
                 label=doppler_label)  # fmt: skip
    if series.measured_time_unix_s.size:
        ax2.plot(_times(series.measured_time_unix_s), series.measured_freq_hz / 1e3, ".", ms=2,
                 label="receiver carrier track")  # fmt: skip
    ax2.set_ylabel("frequency offset (kHz)")
    ax2.set_xlabel("time (UTC)")
    ax2.legend(loc="upper right", fontsize=8)
    ax2.grid(alpha=0.3)
    ax1.set_title(_title(title, simulated), fontsize=9)
    _save(fig, path)


def write_constellation(
    path: Path, symbols: NDArray[np.complex64], *, title: str, simulated: str = ""
) -> None:
    """A density plot of the symbols (unit mean power)."""
    density = constellation_density(symbols)
    fig = _figure(6, 6)
    ax = fig.add_subplot()
    ax.imshow(
        np.log1p(density),
        origin="lower",
        extent=(-2.0, 2.0, -2.0, 2.0),
        cmap="magma",
        interpolation="nearest",
    )
    ax.set_xlabel("I")
    ax.set_ylabel("Q")
    ax.set_title(_title(f"{title}\n{symbols.size} symbols near TCA", simulated), fontsize=9)
    _save(fig, path)


def quicklook_names(file_names: list[str]) -> list[str]:
    """The quick-look PNGs (not thumbnails) among a dataset's file names."""
    return sorted(
        n
        for n in file_names
        if n.startswith(QUICKLOOK_DIR + "/") and n.endswith(".png") and not n.endswith(THUMB_SUFFIX)
    )


def thumbnail_name(name: str) -> str:
    return name[: -len(".png")] + THUMB_SUFFIX
