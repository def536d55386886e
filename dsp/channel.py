"""Channel simulation: complex64 IQ -> complex64 IQ with phase, frequency offset,
a Doppler profile and AWGN, streaming.

The Doppler profile is plain arrays (time_s, freq_hz); ``doppler_from_range_rate``
turns an orbital track's range rate into it, so dsp/ needs no orbital code.
Noise is set per sample from Es/N0 (the modulator's symbols carry Es = 1),
constant or varying over time; ``esn0_from_ebn0`` converts from Eb/N0 per
information bit and ``ebn0_from_link_budget`` derives Eb/N0 along a track
from EIRP, free-space loss over the range, G/T and the data rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

SPEED_OF_LIGHT_M_S = 299_792_458.0


def doppler_from_range_rate(
    range_rate_km_s: NDArray[np.float64], carrier_hz: float
) -> NDArray[np.float64]:
    """Doppler shift in Hz (negative while the range grows)."""
    return -np.asarray(range_rate_km_s, dtype=np.float64) * 1e3 / SPEED_OF_LIGHT_M_S * carrier_hz


BOLTZMANN_DBW_K_HZ = -228.599


def free_space_loss_db(range_km: NDArray[np.float64], freq_hz: float) -> NDArray[np.float64]:
    """Free-space path loss 20*log10(4*pi*d*f/c) for ``range_km`` (any shape)."""
    d_m = np.asarray(range_km, dtype=np.float64) * 1e3
    return 20 * np.log10(4 * np.pi * d_m * freq_hz / SPEED_OF_LIGHT_M_S)


def ebn0_from_link_budget(
    *,
    eirp_dbw: float,
    range_km: NDArray[np.float64],
    freq_hz: float,
    g_over_t_db_k: float,
    data_rate_bps: float,
    losses_db: float = 0.0,
) -> NDArray[np.float64]:
    """Eb/N0 (dB) along a track: EIRP - FSPL(range) - losses + G/T - k - 10 log10(R)."""
    if data_rate_bps <= 0:
        raise ValueError(f"data_rate_bps is {data_rate_bps}, expected > 0")
    c_n0 = eirp_dbw - free_space_loss_db(range_km, freq_hz) - losses_db + g_over_t_db_k
    return c_n0 - BOLTZMANN_DBW_K_HZ - 10 * np.log10(data_rate_bps)


def esn0_from_ebn0(ebn0_db: float, info_bits_per_symbol: float) -> float:
    """Es/N0 in dB for ``ebn0_db`` when each channel symbol carries that many info bits."""
    return ebn0_db + 10.0 * np.log10(info_bits_per_symbol)


@dataclass
class ChannelConfig:
    """fs_hz: sample rate; freq_offset_hz: constant offset (oscillators);
    doppler_time_s/doppler_freq_hz: frequency profile added to it (time from
    the first sample, linear interpolation, held at the ends);
    esn0_db: None for no noise; esn0_time_s/esn0_profile_db: a varying Es/N0
    (e.g. from ``ebn0_from_link_budget`` over a track) that replaces esn0_db."""

    fs_hz: float
    phase_rad: float = 0.0
    freq_offset_hz: float = 0.0
    doppler_time_s: NDArray[np.float64] | None = None
    doppler_freq_hz: NDArray[np.float64] | None = None
    esn0_db: float | None = None
    esn0_time_s: NDArray[np.float64] | None = None
    esn0_profile_db: NDArray[np.float64] | None = None
    seed: int = 0


class Channel:
    """Applies ``ChannelConfig`` chunk by chunk (phase continuous across chunks)."""

    def __init__(self, config: ChannelConfig) -> None:
        if (config.doppler_time_s is None) != (config.doppler_freq_hz is None):
            raise ValueError("doppler_time_s and doppler_freq_hz must be given together")
        if (config.esn0_time_s is None) != (config.esn0_profile_db is None):
            raise ValueError("esn0_time_s and esn0_profile_db must be given together")
        self.config = config
        self._n = 0
        self._phase = config.phase_rad
        self._rng = np.random.default_rng(config.seed)

    def frequency_hz(self, t_s: NDArray[np.float64]) -> NDArray[np.float64]:
        """Total frequency offset at times ``t_s`` from the first sample."""
        c = self.config
        f = np.full(t_s.shape, c.freq_offset_hz, dtype=np.float64)
        if c.doppler_time_s is not None and c.doppler_freq_hz is not None:
            f += np.interp(t_s, c.doppler_time_s, c.doppler_freq_hz)
        return f

    def process(self, iq: NDArray[np.complex64]) -> NDArray[np.complex64]:
        c = self.config
        n = iq.size
        t = (self._n + np.arange(n)) / c.fs_hz
        step = 2 * np.pi * self.frequency_hz(t) / c.fs_hz
        phase = self._phase + np.cumsum(step) - step
        self._phase = float(phase[-1] + step[-1]) if n else self._phase
        self._phase = float(np.mod(self._phase, 2 * np.pi))
        self._n += n
        out = (iq * np.exp(1j * phase)).astype(np.complex64)
        if c.esn0_time_s is not None and c.esn0_profile_db is not None:
            n0_t = 10 ** (-np.interp(t, c.esn0_time_s, c.esn0_profile_db) / 10)
            noise = self._rng.standard_normal(2 * n, dtype=np.float32).view(np.complex64)
            out += noise * np.sqrt(n0_t / 2).astype(np.float32)
        elif c.esn0_db is not None:
            n0 = 10 ** (-c.esn0_db / 10)
            noise = self._rng.standard_normal(2 * n, dtype=np.float32).view(np.complex64)
            out += noise * np.float32(np.sqrt(n0 / 2))
        return out
