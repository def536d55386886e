"""Soft-decision Viterbi decoder for the CCSDS K=7 r=1/2 code: soft symbols -> bits.

Soft symbols are floats, two per bit (G1 then G2), positive meaning a coded
0 (BPSK mapping 0 -> +1). Any positive scale works: the branch metric is the
correlation with the expected +-1 pattern.

``known_bits`` (int8 per bit, -1 unknown, 0 or 1 forced) pins bits the
receiver knows, such as the ASM around a frame: with the next frame's ASM
known the trellis is effectively terminated. ``start_state`` -1 means any.
Two implementations: ``viterbi_decode`` (numba) and
``viterbi_decode_reference`` (plain NumPy), tested to agree.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

from dsp.convolutional import N_STATES, trellis

_NEG = -1.0e30


def _prepare(
    soft: NDArray[np.floating], known_bits: NDArray[np.int8] | None, start_state: int
) -> tuple[NDArray[np.float32], NDArray[np.int8]]:
    soft = np.ascontiguousarray(soft, dtype=np.float32)
    if soft.ndim != 1 or soft.size % 2:
        raise ValueError(f"soft symbols have shape {soft.shape}, expected an even 1-D length")
    n_bits = soft.size // 2
    if known_bits is None:
        known = np.full(n_bits, -1, dtype=np.int8)
    else:
        known = np.ascontiguousarray(known_bits, dtype=np.int8)
        if known.shape != (n_bits,):
            raise ValueError(f"known_bits has shape {known.shape}, expected ({n_bits},)")
    if not -1 <= start_state < N_STATES:
        raise ValueError(f"start_state is {start_state}, expected -1 (any) or 0..63")
    return soft, known


def viterbi_decode(
    soft: NDArray[np.floating],
    known_bits: NDArray[np.int8] | None = None,
    start_state: int = -1,
) -> NDArray[np.uint8]:
    """Maximum-likelihood bits for ``soft`` (2 per bit); numba implementation."""
    soft32, known = _prepare(soft, known_bits, start_state)
    next_state, outputs = trellis()
    return _viterbi_core(soft32, known, start_state, np.ascontiguousarray(outputs))


@njit(cache=True, nogil=True)
def _viterbi_core(
    soft: NDArray[np.float32],
    known: NDArray[np.int8],
    start_state: int,
    outputs: NDArray[np.uint8],
) -> NDArray[np.uint8]:
    metric = np.zeros(64, dtype=np.float64)
    if start_state >= 0:
        metric[:] = _NEG
        metric[start_state] = 0.0
    idx0, idx1 = _predecessor_branches(outputs)
    decisions = _forward_pass(soft, known, metric, idx0, idx1)
    return _traceback(metric, decisions)


@njit(cache=True, nogil=True)
def _predecessor_branches(
    outputs: NDArray[np.uint8],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Branch-metric index (the coded pair 0..3) from each next state's two predecessors."""
    idx0 = np.empty(64, dtype=np.int64)
    idx1 = np.empty(64, dtype=np.int64)
    for ns in range(64):
        p0 = (ns << 1) & 63
        idx0[ns] = outputs[p0, ns >> 5]
        idx1[ns] = outputs[p0 | 1, ns >> 5]
    return idx0, idx1


@njit(cache=True, nogil=True)
def _forward_pass(
    soft: NDArray[np.float32],
    known: NDArray[np.int8],
    metric: NDArray[np.float64],
    idx0: NDArray[np.int64],
    idx1: NDArray[np.int64],
) -> NDArray[np.uint8]:
    """Add-compare-select over every symbol pair; ``metric`` (64,) is updated in place
    to the final path metrics. Returns the survivor decisions, (n_bits, 64)."""
    n_bits = known.size
    neg = _NEG
    new = np.empty(64, dtype=np.float64)
    decisions = np.empty((n_bits, 64), dtype=np.uint8)
    bm = np.empty(4, dtype=np.float64)
    for t in range(n_bits):
        s1 = soft[2 * t]
        s2 = soft[2 * t + 1]
        bm[0] = s1 + s2  # expected 00 -> (+1, +1)
        bm[1] = s1 - s2
        bm[2] = -s1 + s2
        bm[3] = -s1 - s2
        for ns in range(64):
            p0 = (ns << 1) & 63
            m0 = metric[p0] + bm[idx0[ns]]
            m1 = metric[p0 | 1] + bm[idx1[ns]]
            if m1 > m0:
                new[ns] = m1
                decisions[t, ns] = 1
            else:
                new[ns] = m0
                decisions[t, ns] = 0
        k = known[t]
        if k >= 0:
            lo = 0 if k == 1 else 32  # states whose newest bit contradicts k
            for ns in range(lo, lo + 32):
                new[ns] = neg
        norm = new[0]
        for s in range(1, 64):
            if new[s] > norm:
                norm = new[s]
        for s in range(64):
            metric[s] = new[s] - norm if new[s] > neg / 2 else neg
    return decisions


@njit(cache=True, nogil=True)
def _traceback(metric: NDArray[np.float64], decisions: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Bits along the survivor path ending in the best final state."""
    n_bits = decisions.shape[0]
    state = 0
    best = metric[0]
    for s in range(1, 64):
        if metric[s] > best:
            best = metric[s]
            state = s
    bits = np.empty(n_bits, dtype=np.uint8)
    for t in range(n_bits - 1, -1, -1):
        bits[t] = state >> 5
        state = ((state << 1) & 63) | decisions[t, state]
    return bits


def viterbi_decode_reference(
    soft: NDArray[np.floating],
    known_bits: NDArray[np.int8] | None = None,
    start_state: int = -1,
) -> NDArray[np.uint8]:
    """Same contract as :func:`viterbi_decode`, written plainly with NumPy (slow)."""
    soft32, known = _prepare(soft, known_bits, start_state)
    next_state, outputs = trellis()
    expected = 1.0 - 2.0 * np.stack([(outputs >> 1) & 1, outputs & 1], axis=-1)  # (64, 2, 2)
    metric = np.zeros(N_STATES)
    if start_state >= 0:
        metric[:] = -np.inf
        metric[start_state] = 0.0
    history = []
    for t in range(known.size):
        pair = soft32[2 * t : 2 * t + 2].astype(np.float64)
        candidates = np.full((N_STATES, 2), -np.inf)  # [next_state, which predecessor]
        for state in range(N_STATES):
            for bit in range(2):
                if known[t] >= 0 and known[t] != bit:
                    continue
                ns = next_state[state, bit]
                candidates[ns, state & 1] = metric[state] + float(expected[state, bit] @ pair)
        choice = np.argmax(candidates, axis=1)
        metric = candidates[np.arange(N_STATES), choice]
        history.append(choice)
    state = int(np.argmax(metric))
    bits = np.empty(known.size, dtype=np.uint8)
    for t in range(known.size - 1, -1, -1):
        bits[t] = state >> 5
        state = ((state << 1) & 63) | int(history[t][state])
    return bits
