"""Real recordings (public domain, the satellite-recordings collection that
gr-satellites tests with; tests/data/dsp/recordings/README.md): every one
decodes with every frame gr-satellites found in three runs, byte for byte,
and at least its median count of distinct frames. A frame gr-satellites did
not find must decode again, from its received bits, through the framing's
own codec (its CRC or Reed-Solomon code checks)."""

from pathlib import Path
from statistics import median

import numpy as np
import pytest

from dsp.chain import decode_satellite
from groundstation.satellites import Catalogue, load_catalogue
from groundstation.satellites.wav import read_wav

from .redecode import decode_again

DATA = Path(__file__).parents[1] / "data" / "dsp" / "recordings"

# file: (satellite, frames gr-satellites printed in each of three runs)
RECORDINGS = {
    "by701": ("BY70-1", (11, 15, 20)),
    "trisat": ("TRISAT", (4, 4, 5)),
    "ks_1q": ("KS-1Q", (4, 4, 4)),
    "entrysat": ("EntrySat", (1, 1, 1)),
    "fmn1": ("FMN-1", (1, 1, 1)),
    "pwsat2": ("PW-Sat2", (2, 2, 2)),
    "us01": ("US01", (1, 1, 1)),
    "upmsat_2": ("UPMSat 2", (1, 1, 1)),
    "facsat_1": ("FACSAT-1", (8, 8, 8)),
    "luojia-1": ("Luojia-1", (8, 8, 8)),
    "suomi_100": ("Suomi 100", (2, 2, 2)),
    "ca03_9k6": ("CA03", (7, 9, 9)),
    "gomx_3": ("GOMX-3", (2, 2, 2)),
    "aisat": ("AISAT", (21, 21, 22)),
    "ao73": ("AO-73", (1, 1, 1)),
}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.mark.parametrize("name", list(RECORDINGS))
def test_recording_gives_every_frame_gr_satellites_found_and_extras_that_check(
    name: str, catalogue: Catalogue
) -> None:
    satellite = catalogue.find(RECORDINGS[name][0])
    samples, fs_hz = read_wav(DATA / f"{name}.wav")
    frames = decode_satellite(samples, fs_hz, satellite)
    reference = {
        bytes.fromhex(line) for line in (DATA / "frames" / f"{name}.hex").read_text().split()
    }
    found = {f.frame for f in frames}
    assert reference - found == set()
    assert len(found) >= median(RECORDINGS[name][1])
    for frame in frames:
        assert 0 <= frame.time_s <= samples.size / fs_hz
        if frame.frame not in reference:
            tx = satellite.transmitter(frame.transmitter)
            assert decode_again(frame.bits, frame.n_bits, tx) == frame.frame


def test_by70_1_gives_more_than_the_union_of_gr_satellites_runs(catalogue: Catalogue) -> None:
    samples, fs_hz = read_wav(DATA / "by701.wav")
    frames = decode_satellite(samples, fs_hz, catalogue.find("BY70-1"))
    assert len({f.frame for f in frames}) >= 25  # gr-satellites: 21 over three runs
    times = np.array([f.time_s for f in frames])
    assert np.all(np.diff(times) > 0.2)  # one 114-byte frame lasts 0.25 s
    carriers = np.array([f.carrier_hz for f in frames])
    assert np.all((carriers > 10_800) & (carriers < 11_700))  # the subcarrier, found alone
