"""Regenerate the golden vectors in this folder (run from the repository root:
``.venv/bin/python tests/data/dsp/generate.py``). Only do so after checking a
change that alters them on purpose; the tests compare against these files."""

from pathlib import Path

import numpy as np

from dsp.coding import ChannelCode
from dsp.profile import builtin_profile
from dsp.simulate import LinkConfig, simulate
from dsp.transmitter import random_frames

HERE = Path(__file__).parent


def main() -> None:
    conv = builtin_profile("ccsds-bpsk-conv-rs")
    frames = random_frames(conv, 3, seed=2024)
    (HERE / "conv_rs_frames.hex").write_text("".join(f.hex() + "\n" for f in frames))
    bits = ChannelCode(conv).encode_frames(frames)
    (HERE / "conv_rs_channel_bits.hex").write_text(np.packbits(bits).tobytes().hex() + "\n")

    rs = builtin_profile("ccsds-bpsk-rs")
    frames = random_frames(rs, 3, seed=2025)
    (HERE / "rs_frames.hex").write_text("".join(f.hex() + "\n" for f in frames))
    iq = simulate(rs, frames, LinkConfig(sps=2, lead_symbols=64, seed=1))
    iq.astype(np.complex64).tofile(HERE / "rs_sps2.cf32")


if __name__ == "__main__":
    main()
