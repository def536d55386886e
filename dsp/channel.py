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
from numba import njit
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
        out = np.empty(n, dtype=np.complex64)
        no_profile = np.zeros(0, dtype=np.float64)
        has_doppler = c.doppler_time_s is not None and c.doppler_freq_hz is not None
        phase_end = _mix_core(
            np.ascontiguousarray(iq, dtype=np.complex64),
            out,
            self._n,
            c.fs_hz,
            self._phase,
            c.freq_offset_hz,
            np.asarray(c.doppler_time_s, np.float64) if has_doppler else no_profile,
            np.asarray(c.doppler_freq_hz, np.float64) if has_doppler else no_profile,
        )
        self._phase = float(np.mod(phase_end, 2 * np.pi)) if n else self._phase
        if c.esn0_time_s is not None and c.esn0_profile_db is not None:
            noise = self._rng.standard_normal(2 * n, dtype=np.float32).view(np.complex64)
            _add_noise_core(
                out,
                noise,
                self._n,
                c.fs_hz,
                np.asarray(c.esn0_time_s, np.float64),
                np.asarray(c.esn0_profile_db, np.float64),
            )
        elif c.esn0_db is not None:
            n0 = 10 ** (-c.esn0_db / 10)
            noise = self._rng.standard_normal(2 * n, dtype=np.float32).view(np.complex64)
            out += noise * np.float32(np.sqrt(n0 / 2))
        self._n += n
        return out


# The kernels below do in one pass, without the GIL, what NumPy did in a
# dozen full-length float64 temporaries (the simulated front end cost as much
# as the receiver): same arithmetic, in the same order, per sample.


@njit(cache=True, nogil=True)
def _interp_samples(
    first_sample: int, n: int, fs_hz: float, xp: NDArray[np.float64], fp: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``np.interp(t, xp, fp)`` at the times ``t = (first_sample + i) /
    fs_hz`` of ``n`` samples (held at the ends; ``xp`` increasing), the
    same arithmetic as NumPy's, segment by segment."""
    out = np.empty(n, dtype=np.float64)
    m = xp.size
    j = 0
    for i in range(n):
        x = (first_sample + i) / fs_hz
        if x < xp[0] or m == 1:
            out[i] = fp[0]
        elif x >= xp[m - 1]:
            out[i] = fp[m - 1]
        else:
            while xp[j + 1] <= x:
                j += 1
            slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])
            y = slope * (x - xp[j]) + fp[j]
            if np.isnan(y):
                y = slope * (x - xp[j + 1]) + fp[j + 1]
                if np.isnan(y) and fp[j] == fp[j + 1]:
                    y = fp[j]
            out[i] = y
    return out


@njit(cache=True, nogil=True)
def _mix_core(
    iq: NDArray[np.complex64],
    out: NDArray[np.complex64],
    first_sample: int,
    fs_hz: float,
    phase_rad: float,
    offset_hz: float,
    doppler_t_s: NDArray[np.float64],
    doppler_hz: NDArray[np.float64],
) -> float:
    """``out = iq * exp(1j * phase)`` with the phase accumulating the offset
    plus the Doppler profile at each sample's time; returns the phase after
    the last sample (not wrapped)."""
    two_pi = 2 * np.pi
    cumulative = 0.0
    step = 0.0
    phase = phase_rad
    n = iq.size
    doppler = (
        _interp_samples(first_sample, n, fs_hz, doppler_t_s, doppler_hz)
        if doppler_t_s.size
        else np.zeros(n, dtype=np.float64)
    )
    for i in range(n):
        step = two_pi * (offset_hz + doppler[i]) / fs_hz
        cumulative += step
        phase = phase_rad + cumulative - step
        out[i] = np.complex64(complex(iq[i]) * complex(np.cos(phase), np.sin(phase)))
    return phase + step


@njit(cache=True, nogil=True)
def _add_noise_core(
    out: NDArray[np.complex64],
    noise: NDArray[np.complex64],
    first_sample: int,
    fs_hz: float,
    esn0_t_s: NDArray[np.float64],
    esn0_db: NDArray[np.float64],
) -> None:
    """``out += noise * sqrt(N0(t) / 2)`` with N0 from the Es/N0 profile."""
    esn0 = _interp_samples(first_sample, out.size, fs_hz, esn0_t_s, esn0_db)
    for i in range(out.size):
        n0 = 10 ** (-esn0[i] / 10)
        out[i] += noise[i] * np.float32(np.sqrt(n0 / 2))
