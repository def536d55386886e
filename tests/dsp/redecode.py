"""Decode a frame again from its received bits through the framing's codec
alone (no demodulator, no sync search): the independent check the recording
and golden-vector tests apply."""

import numpy as np

from dsp.ao40 import ao40_decode
from dsp.chain import ccsds_profile
from dsp.coding import ChannelCode
from dsp.gomspace import ax100_asm_golay_decode, ax100_rs_decode, u482c_decode
from dsp.hdlc import HdlcDeframer
from dsp.satellite import TransmitterSpec


def decode_again(bits: bytes, n_bits: int, tx: TransmitterSpec) -> bytes | None:
    """bits: packed MSB first, as DecodedFrame.bits (after line decoding)."""
    hard = np.unpackbits(np.frombuffer(bits, np.uint8))[:n_bits]
    soft = (1.0 - 2.0 * hard).astype(np.float32)
    if tx.framing in ("ax25", "ax25-g3ruh"):
        found = HdlcDeframer().push(hard, final=True)
        return found[0].frame if len(found) == 1 else None
    if tx.framing.startswith("ccsds"):
        code = ChannelCode(ccsds_profile(tx, tx.framing == "ccsds-concatenated"))
        block = code.decode_block(soft)
        return block.frame if block.rs_ok else None
    if tx.framing == "ao40-fec":
        result = ao40_decode(soft)
        return result.frame if result.ok else None
    codec = {
        "ax100-asm-golay": ax100_asm_golay_decode,
        "ax100-rs": ax100_rs_decode,
        "u482c": u482c_decode,
    }[tx.framing]
    decoded = codec(soft[32:])
    return decoded.frame if decoded is not None else None
