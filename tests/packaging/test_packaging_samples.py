"""The demo's sample data ships inside the package (``groundstation.samples``)
as links to the repository's ``sample_tles/``, the one copy kept by hand, so
``groundstation demo`` finds it from any directory once installed (issue 20).
The wheel itself: test_packaging_wheel.py."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pytest

from groundstation.cli import main
from groundstation.commands.demo import SAMPLE_FILES, find_samples

REPO = Path(__file__).resolve().parents[2]
PACKAGE_SAMPLES = REPO / "groundstation" / "samples"


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_each_shipped_sample_file_is_a_link_to_sample_tles_not_a_second_copy(name: str) -> None:
    shipped = PACKAGE_SAMPLES / name
    assert shipped.is_symlink(), f"{shipped} must stay a link to sample_tles/{name}"
    assert shipped.resolve() == (REPO / "sample_tles" / name).resolve()


def test_the_package_holds_no_sample_file_the_demo_does_not_read() -> None:
    shipped = {p.name for p in PACKAGE_SAMPLES.iterdir() if p.suffix in {".tle", ".yaml"}}
    assert shipped == set(SAMPLE_FILES)


def test_without_samples_the_demo_reads_the_packaged_data_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no sample_tles/ here
    samples = find_samples(None)
    assert samples == files("groundstation.samples")
    for name in SAMPLE_FILES:
        assert (samples / name).read_bytes() == (REPO / "sample_tles" / name).read_bytes()


def test_a_samples_directory_given_without_the_files_is_refused_naming_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "stations.yaml").write_text("stations: []\n")
    assert main(["demo", "--samples", str(tmp_path), "--data-dir", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert f"--samples {tmp_path}: weather.tle not found in {tmp_path}" in err
    assert not (tmp_path / "d").exists()  # refused before anything was written


def test_a_samples_directory_given_with_the_files_is_used(tmp_path: Path) -> None:
    for name in SAMPLE_FILES:
        (tmp_path / name).write_bytes((REPO / "sample_tles" / name).read_bytes())
    assert find_samples(str(tmp_path)) == tmp_path
