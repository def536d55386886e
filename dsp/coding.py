"""Channel coding keyed by profile ``coding``: frames <-> channel bits.

Transmit: frame bytes -> RS (dual/conventional, interleave I) -> randomizer
-> ASM -> convolutional code (state kept across frames) -> channel bits.
Receive (``decode_block``): soft channel bits of one frame, from its ASM to
the end of the next frame's ASM -> Viterbi (ASMs pinned as known bits) or
hard decisions -> de-randomize -> RS decode with per-codeword corrections.
With ``differential`` precoding the CADU bits (ASM included) are NRZ-M
encoded (c[k] = d[k] XOR c[k-1]) before the convolutional code, as
gr-satellites' "precoding: differential" expects; a global inversion then
cancels, so the ASM is looked for as its encoding from c[-1] = 0.
With ``convolutional: nasa-dsn`` the two symbols of each coded pair are
sent in the other order.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from dsp.convolutional import conv_encode
from dsp.profile import DownlinkProfile
from dsp.randomizer import randomize
from dsp.reed_solomon import rs_decode, rs_encode
from dsp.viterbi import viterbi_decode

ASM_BYTES = bytes.fromhex("1ACFFC1D")
ASM_BITS = np.unpackbits(np.frombuffer(ASM_BYTES, dtype=np.uint8))
# The convolutionally encoded ASM: its first 12 symbols depend on the previous
# frame's last 6 bits, the remaining 52 do not.
CONV_ASM_SKIP = 12
_T = TypeVar("_T", bound=np.generic)


@dataclass(frozen=True)
class Scheme:
    """Which codes a ``coding`` name stacks."""

    rs: bool
    conv: bool


CODING_REGISTRY: dict[str, Scheme] = {
    "none": Scheme(rs=False, conv=False),
    "rs": Scheme(rs=True, conv=False),
    "conv+rs": Scheme(rs=True, conv=True),
}


@dataclass(frozen=True)
class DecodedBlock:
    """One frame out of the channel decoder.

    frame: the transfer frame bytes (after RS correction when RS is used);
    rs_corrections: per codeword, -1 if uncorrectable (empty without RS);
    codeblock: the de-randomized code block as received (RS parity included).
    """

    frame: bytes
    rs_corrections: tuple[int, ...]
    codeblock: bytes

    @property
    def rs_ok(self) -> bool:
        return all(c >= 0 for c in self.rs_corrections)


class ChannelCode:
    """The coding chain of one profile (stateless on receive, conv state on transmit)."""

    def __init__(self, profile: DownlinkProfile) -> None:
        self.profile = profile
        self.scheme = CODING_REGISTRY[profile.coding]
        self._conv_state = 0
        self._diff_state = 0
        # The ASM as it appears before the convolutional code.
        self.asm_bits = _nrzm_encode(ASM_BITS, 0) if profile.differential else ASM_BITS.copy()

    @property
    def channel_bits_per_frame(self) -> int:
        return self.profile.channel_bits_per_frame

    @cached_property
    def sync_pattern(self) -> tuple[NDArray[np.uint8], int]:
        """(channel bits every frame starts with, offset of them after the frame start)."""
        if self.scheme.conv:
            coded, _ = conv_encode(self.asm_bits, 0)
            return self._pair_order(coded)[CONV_ASM_SKIP:], CONV_ASM_SKIP
        return self.asm_bits.copy(), 0

    @property
    def block_bits(self) -> int:
        """Soft channel bits ``decode_block`` wants: this frame plus the next ASM."""
        return self.channel_bits_per_frame + (64 if self.scheme.conv else 0)

    def encode_frames(self, frames: list[bytes]) -> NDArray[np.uint8]:
        """Channel bits for consecutive frames (the conv state carries over)."""
        cadus = []
        for frame in frames:
            if len(frame) != self.profile.frame_length:
                raise ValueError(
                    f"frame is {len(frame)} bytes, profile {self.profile.name!r} expects "
                    f"frame_length={self.profile.frame_length}"
                )
            block = self.encode_codeblock(frame)
            cadus.append(np.frombuffer(ASM_BYTES + block, dtype=np.uint8))
        bits = np.unpackbits(np.concatenate(cadus)) if cadus else np.zeros(0, np.uint8)
        if self.profile.differential and bits.size:
            bits = _nrzm_encode(bits, self._diff_state)
            self._diff_state = int(bits[-1])
        if self.scheme.conv:
            bits, self._conv_state = conv_encode(bits, self._conv_state)
            bits = self._pair_order(bits)
        return bits

    def encode_codeblock(self, frame: bytes) -> bytes:
        """Frame -> RS -> randomizer (the CADU without its ASM)."""
        p = self.profile
        block = rs_encode(frame, p.rs_interleave, p.rs_basis) if self.scheme.rs else frame
        return bytes(randomize(block)) if p.randomizer else block

    def channel_bits_of(self, frame: bytes) -> NDArray[np.uint8]:
        """Channel bits of one frame as ``decode_block`` sees them (ASM polarity as
        resolved by frame sync, conv encoder starting from state 0)."""
        bits = np.unpackbits(np.frombuffer(ASM_BYTES + self.encode_codeblock(frame), np.uint8))
        if self.profile.differential:
            bits = _nrzm_encode(bits, 0)
        if self.scheme.conv:
            bits, _ = conv_encode(bits, 0)
            bits = self._pair_order(bits)
        return bits

    def _pair_order(self, symbols: NDArray[_T]) -> NDArray[_T]:
        """CCSDS order -> the profile's order of the two symbols of each coded bit
        (swapping is its own inverse)."""
        if self.profile.convolutional == "ccsds":
            return symbols
        pairs = symbols.reshape(-1, 2)
        return np.ascontiguousarray(pairs[:, ::-1]).reshape(-1)

    def decode_block(self, soft: NDArray[np.float32]) -> DecodedBlock:
        """Soft bits from this frame's ASM start (``block_bits`` long, or shorter at the
        end of a stream, padded with zeros = erasures) -> frame."""
        p = self.profile
        n_cadu = p.cadu_bits
        if self.scheme.conv:
            want = 2 * (n_cadu + 32)
            padded = np.zeros(want, dtype=np.float32)
            padded[: min(want, soft.size)] = soft[:want]
            padded = self._pair_order(padded)
            known = np.full(n_cadu + 32, -1, dtype=np.int8)
            known[:32] = self.asm_bits
            if soft.size >= want and not p.differential:
                # the next ASM; with NRZ-M its polarity depends on this frame's data
                known[n_cadu:] = self.asm_bits
            bits = viterbi_decode(padded, known)[32:n_cadu]
        else:
            bits = (soft[32:n_cadu] < 0).astype(np.uint8)
        if p.differential:
            previous = np.concatenate([self.asm_bits[-1:], bits[:-1]])
            bits = bits ^ previous
        block = np.packbits(bits)
        if p.randomizer:
            block = randomize(block)
        raw = block.tobytes()
        if not self.scheme.rs:
            return DecodedBlock(frame=raw, rs_corrections=(), codeblock=raw)
        result = rs_decode(raw, p.rs_interleave, p.rs_basis)
        return DecodedBlock(frame=result.data, rs_corrections=result.corrections, codeblock=raw)


def _nrzm_encode(bits: NDArray[np.uint8], previous: int) -> NDArray[np.uint8]:
    """c[k] = d[k] XOR c[k-1] with c[-1] = ``previous`` (a running XOR)."""
    return ((np.cumsum(bits, dtype=np.int64) + previous) % 2).astype(np.uint8)
