"""The simulated weather satellite's imaging payload.

The payload is a cross-track scanning radiometer (SIMULATED): ``scan_plan``
times its scan lines from the profile's ``imager`` settings (field of view,
pixels per line, scan rate), ``orbital.swath`` geolocates every pixel along
the contact's orbit, and ``cloud_scene`` synthesizes what it sees there
(visible, near infrared, thermal infrared): synthetic clouds over the real
land/sea mask at those coordinates (``ingest.landmask``), see
``radiometer_scene``. ``ImageFrameSource`` downlinks it line by line, one
Space Packet per (line, band), time-tagged, filling one TM frame
(``ingest.imagery`` holds the packet format and the rebuild), idle frames
between lines and once the image is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from dsp.profile import DownlinkProfile, ImagerSpec
from dsp.space_packets import make_packet
from dsp.tm_frame import TmFrameHeader, build_tm_frame, data_field_length
from ingest.imagery import BANDS, encode_row, image_width_for
from ingest.landmask import is_land
from orbital.elements import ElementSet
from orbital.swath import swath_lat_lon

IMAGE_APID = 0x0C1


def _fractal(rng: np.random.Generator, shape: tuple[int, int], beta: float) -> NDArray[np.float64]:
    """Gaussian noise with a 1/f**beta power spectrum, scaled to 0..1."""
    ky = np.fft.fftfreq(shape[0])[:, None]
    kx = np.fft.rfftfreq(shape[1])[None, :]
    k = np.sqrt(kx * kx + ky * ky)
    k[0, 0] = 1.0
    spectrum = (rng.standard_normal(k.shape) + 1j * rng.standard_normal(k.shape)) / k ** (beta / 2)
    spectrum[0, 0] = 0.0
    field = np.fft.irfft2(spectrum, s=shape)
    lo, hi = float(field.min()), float(field.max())
    return (field - lo) / max(hi - lo, 1e-12)


def cloud_scene(
    rows: int, width: int, *, seed: int = 0, land: NDArray[np.bool_] | None = None
) -> NDArray[np.uint8]:
    """(rows, width, 3) uint8: visible and near-IR reflectance and thermal IR
    brightness (high = warm) of synthetic clouds over a land/sea background:
    ``land`` ((rows, width) bool, e.g. the land mask where each pixel looks),
    or a synthetic coastline when it is None."""
    if rows < 1 or width < 1:
        raise ValueError(f"scene of {rows} x {width} pixels; both must be >= 1")
    rng = np.random.default_rng(seed)
    fake_land = _fractal(rng, (rows, width), 3.2) > 0.55
    if land is None:
        land = fake_land
    elif land.shape != (rows, width):
        raise ValueError(f"land mask has shape {land.shape}, expected {(rows, width)}")
    clouds = np.clip((_fractal(rng, (rows, width), 2.6) - 0.45) * 2.8, 0.0, 1.0)
    texture = _fractal(rng, (rows, width), 1.6)
    cloud_top = 0.5 + 0.5 * _fractal(rng, (rows, width), 2.2)  # high tops are cold
    vis = np.where(land, 0.22, 0.06) + 0.05 * texture
    nir = np.where(land, 0.45, 0.03) + 0.05 * texture
    warm = np.where(land, 0.85, 0.75) - 0.05 * texture
    vis = vis * (1 - clouds) + (0.65 + 0.3 * texture) * clouds
    nir = nir * (1 - clouds) + (0.6 + 0.3 * texture) * clouds
    ir = warm * (1 - clouds) + (0.7 - 0.6 * cloud_top) * clouds
    scene = np.stack([vis, nir, ir], axis=-1)
    return np.asarray(np.clip(scene * 255.0, 0, 255), dtype=np.uint8)


def rows_for_frames(n_frames: int) -> int:
    """Image rows that fill ``n_frames`` frames (one frame per row and band)."""
    return max(1, -(-n_frames // len(BANDS)))


@dataclass(frozen=True)
class ScanPlan:
    """The radiometer's scan lines over one pass: ``line_t_s`` ((n_lines,),
    s after the pass's start) and each line's ``pixels`` over ``fov_deg``."""

    fov_deg: float
    pixels: int
    scan_rate_hz: float
    line_t_s: NDArray[np.float64]

    @property
    def n_lines(self) -> int:
        return int(self.line_t_s.size)


def scan_plan(
    profile: DownlinkProfile, *, n_frames: int, duration_s: float, frame_s: float
) -> ScanPlan:
    """The scan lines the profile's imager (``profile.imager``, defaults when
    the profile names none) takes over a pass of ``duration_s`` whose
    downlink carries ``n_frames`` frames of ``frame_s`` seconds: lines at the
    imager's scan rate, no more than the downlink carries (one frame per line
    and band), the first half a line after the start. Errors name the field."""
    spec = profile.imager or ImagerSpec()
    room = image_width_for(profile.frame_length, fecf=profile.fecf)
    pixels = spec.pixels_per_line if spec.pixels_per_line is not None else room
    if pixels > room:
        raise ValueError(
            f"profile {profile.name!r}: field 'imager.pixels_per_line' is {pixels}, but its "
            f"frame_length {profile.frame_length} carries at most {room} pixels per packet"
        )
    carried_hz = 1.0 / (len(BANDS) * frame_s)
    rate_hz = spec.scan_rate_hz if spec.scan_rate_hz is not None else carried_hz
    n_lines = min(n_frames // len(BANDS), int(duration_s * rate_hz))
    if n_lines < 1:
        raise ValueError(
            f"profile {profile.name!r}: a pass of {duration_s:.1f} s with {n_frames} frames "
            f"holds no scan line at imager.scan_rate_hz {rate_hz:g}"
        )
    line_t_s = (np.arange(n_lines, dtype=np.float64) + 0.5) / rate_hz
    return ScanPlan(spec.fov_deg, pixels, rate_hz, line_t_s)


class ImageFrameSource:
    """TM frames carrying ``scene`` row by row, band by band; idle frames
    while the next line is not yet scanned (its first frame no earlier than
    ``line_ready_frame``, default: at once) and after the image."""

    def __init__(
        self,
        profile: DownlinkProfile,
        scene: NDArray[np.uint8],
        line_time_unix_us: NDArray[np.int64] | None = None,
        line_ready_frame: NDArray[np.int64] | None = None,
    ) -> None:
        if profile.frame_format != "tm":
            raise ValueError(
                f"profile {profile.name!r} has frame_format {profile.frame_format!r}; "
                "the imaging payload needs TM frames"
            )
        width = image_width_for(profile.frame_length, fecf=profile.fecf)
        if scene.ndim != 3 or scene.shape[1] > width or scene.shape[2] != len(BANDS):
            raise ValueError(
                f"scene has shape {scene.shape}, expected (rows, <= {width}, {len(BANDS)}) "
                f"for profile {profile.name!r}"
            )
        if line_time_unix_us is None:
            line_time_unix_us = np.zeros(scene.shape[0], dtype=np.int64)
        if line_time_unix_us.shape != scene.shape[:1]:
            raise ValueError(
                f"{line_time_unix_us.shape[0]} line times for a scene of {scene.shape[0]} lines"
            )
        self.line_time_unix_us = line_time_unix_us
        self.line_ready_frame = (
            np.zeros(scene.shape[0], dtype=np.int64)
            if line_ready_frame is None
            else line_ready_frame
        )
        self.profile = profile
        self.scene = scene
        self.field_length = data_field_length(profile.frame_length, profile.fecf)
        self._next = 0
        self._packets = 0
        self._idle = 0

    @property
    def n_image_frames(self) -> int:
        return int(self.scene.shape[0]) * len(BANDS)

    def _image_packet_due(self, k: int) -> bool:
        if self._packets >= self.n_image_frames:
            return False
        return bool(self.line_ready_frame[self._packets // len(BANDS)] <= k)

    def next_frame(self) -> bytes:
        k = self._next
        self._next += 1
        if self._image_packet_due(k):
            row, band = divmod(self._packets, len(BANDS))
            data = encode_row(
                band,
                row,
                int(self.scene.shape[0]),
                self.scene[row, :, band],
                time_unix_us=int(self.line_time_unix_us[row]),
            )
            data += bytes(self.field_length - 6 - len(data))
            packet = make_packet(IMAGE_APID, self._packets, data)
            self._packets += 1
        else:
            packet = make_packet(0x7FF, self._idle, bytes(self.field_length - 6))
            self._idle += 1
        header = TmFrameHeader(
            spacecraft_id=self.profile.spacecraft_id,
            virtual_channel_id=1,
            master_channel_frame_count=k % 256,
            virtual_channel_frame_count=k % 256,
            first_header_pointer=0,
        )
        return build_tm_frame(header, packet, fecf=self.profile.fecf)


@dataclass(frozen=True)
class RadiometerScene:
    """What the simulated radiometer sees over one pass: ``scene`` (n_lines,
    pixels, 3) uint8, where each pixel looks (``lat_deg``, ``lon_deg``,
    (n_lines, pixels), NaN off the Earth), and each line's time tag."""

    plan: ScanPlan
    scene: NDArray[np.uint8]
    lat_deg: NDArray[np.float64]
    lon_deg: NDArray[np.float64]
    line_time_unix_us: NDArray[np.int64]


def radiometer_scene(
    profile: DownlinkProfile,
    element_set: ElementSet,
    start: datetime,
    *,
    n_frames: int,
    duration_s: float,
    frame_s: float,
    seed: int = 0,
) -> RadiometerScene:
    """The scan lines of a pass from ``start`` (``scan_plan``), geolocated
    along the satellite's orbit (``orbital.swath``), and the synthetic
    clouds over the land/sea mask there (``ingest.landmask``)."""
    plan = scan_plan(profile, n_frames=n_frames, duration_s=duration_s, frame_s=frame_s)
    lat, lon = swath_lat_lon(
        element_set, start, plan.line_t_s, fov_deg=plan.fov_deg, n_pixels=plan.pixels
    )
    scene = cloud_scene(plan.n_lines, plan.pixels, seed=seed, land=is_land(lat, lon))
    scene[~np.isfinite(lat)] = 0  # cold, dark space beyond the limb
    times_us = np.round((start.timestamp() + plan.line_t_s) * 1e6).astype(np.int64)
    return RadiometerScene(plan, scene, lat, lon, times_us)


def line_ready_frames(plan: ScanPlan, frame_s: float) -> NDArray[np.int64]:
    """The first frame slot each line may use: when its scan starts (a line
    is downlinked as it is scanned, never before)."""
    start_s = plan.line_t_s - 0.5 / plan.scan_rate_hz
    return np.maximum(np.floor(start_s / frame_s + 1e-9), 0).astype(np.int64)
