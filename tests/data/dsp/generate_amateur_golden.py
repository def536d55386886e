"""Regenerate amateur_golden.json (run from the repository root:
``.venv/bin/python tests/data/dsp/generate_amateur_golden.py``): for one
frame per framing, the received bits of a real recording as the receiver
handed them to the framing's codec, with the frame gr-satellites printed for
that recording. The codec tests decode these bits without any demodulator.
Only regenerate after checking a change that alters them on purpose."""

import json
from pathlib import Path

from dsp.chain import decode_satellite
from groundstation.satellites import load_catalogue
from groundstation.satellites.wav import read_wav

HERE = Path(__file__).parent
PICKS = {
    "us01": "US01",  # AX.25 G3RUH (FSK)
    "upmsat_2": "UPMSat 2",  # AX.25 (FSK)
    "luojia-1": "Luojia-1",  # AX100 ASM+Golay
    "ca03_9k6": "CA03",  # AX100 Reed Solomon
    "aisat": "AISAT",  # U482C
    "ao73": "AO-73",  # AO-40 FEC
    "trisat": "TRISAT",  # CCSDS concatenated, NASA-DSN order
    "by701": "BY70-1",  # CCSDS concatenated, differential, conventional basis
}


def main() -> None:
    catalogue = load_catalogue()
    out = []
    for name, satellite in PICKS.items():
        reference = (HERE / "recordings" / "frames" / f"{name}.hex").read_text().split()
        samples, fs_hz = read_wav(HERE / "recordings" / f"{name}.wav")
        sat = catalogue.find(satellite)
        frame = next(f for f in decode_satellite(samples, fs_hz, sat) if f.frame.hex() in reference)
        out.append(
            {
                "recording": name,
                "satellite": satellite,
                "framing": sat.transmitter(frame.transmitter).framing,
                "transmitter": frame.transmitter,
                "n_bits": frame.n_bits,
                "bits_hex": frame.bits.hex(),
                "frame_hex": frame.frame.hex(),
            }
        )
    (HERE / "amateur_golden.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
