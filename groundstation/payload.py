"""The simulated weather satellite's imaging payload.

``cloud_scene`` synthesizes a multi-band scene (visible, near infrared,
thermal infrared) of a cloud field over land and sea from fractal noise;
``ImageFrameSource`` downlinks it row by row, one Space Packet per (row,
band) filling one TM frame (``ingest.imagery`` holds the packet format and
the rebuild), then idle frames once the image is sent.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from dsp.profile import DownlinkProfile
from dsp.space_packets import make_packet
from dsp.tm_frame import TmFrameHeader, build_tm_frame, data_field_length
from ingest.imagery import BANDS, encode_row, image_width_for

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


def cloud_scene(rows: int, width: int, *, seed: int = 0) -> NDArray[np.uint8]:
    """(rows, width, 3) uint8: visible and near-IR reflectance and thermal IR
    brightness (high = warm) of clouds over a land/sea background."""
    if rows < 1 or width < 1:
        raise ValueError(f"scene of {rows} x {width} pixels; both must be >= 1")
    rng = np.random.default_rng(seed)
    land = _fractal(rng, (rows, width), 3.2) > 0.55
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


class ImageFrameSource:
    """TM frames carrying ``scene`` row by row, band by band; idle frames after."""

    def __init__(self, profile: DownlinkProfile, scene: NDArray[np.uint8]) -> None:
        if profile.frame_format != "tm":
            raise ValueError(
                f"profile {profile.name!r} has frame_format {profile.frame_format!r}; "
                "the imaging payload needs TM frames"
            )
        width = image_width_for(profile.frame_length, fecf=profile.fecf)
        if scene.ndim != 3 or scene.shape[1] != width or scene.shape[2] != len(BANDS):
            raise ValueError(
                f"scene has shape {scene.shape}, expected (rows, {width}, {len(BANDS)}) "
                f"for profile {profile.name!r}"
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

    def next_frame(self) -> bytes:
        k = self._next
        self._next += 1
        if k < self.n_image_frames:
            row, band = divmod(k, len(BANDS))
            data = encode_row(band, row, int(self.scene.shape[0]), self.scene[row, :, band])
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
