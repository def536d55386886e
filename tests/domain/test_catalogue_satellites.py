"""Satellites linked to the catalogue (``framing_profile: catalogue``): what
the inventory accepts, which transmitter a booking decodes (the mission
profile's ``decode.transmitter``), and what booking and the executor's
contact run refuse, naming the values."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from groundstation import booking, ephemerides, inventory, passes
from groundstation.db import make_engine
from groundstation.errors import DownlinkUnsupportedError, ValidationError
from groundstation.lifecycle import contact_run
from groundstation.models import Contact, MissionProfile
from groundstation.profile_settings import transmitter_problems
from groundstation.satellites import catalogue_transmitter

from .test_booking import DATA, NOW, setup_world
from .test_cli import run

ASTROCAST = 43798  # three transmitters at 437.150 MHz, all FSK


def _elements(norad_id: int) -> str:
    """The published element set (sample_tles/active.tle, 2023-07-04)."""
    lines = (DATA.parents[2] / "sample_tles" / "active.tle").read_text().splitlines()
    k = next(i for i, line in enumerate(lines) if line.startswith(f"1 {norad_id}U"))
    return "\n".join(lines[k - 1 : k + 2]) + "\n"


def _astrocast(session: Session, **kw: object) -> None:
    args: dict[str, object] = {
        "norad_id": ASTROCAST,
        "name": "Astrocast 0.1",
        "tenant": "acme",
        "downlink_freq_hz": 437.15e6,
        "modulation": "fsk",
        "framing_profile": "catalogue",
    }
    args.update(kw)
    inventory.add_satellite(session, **args)  # type: ignore[arg-type]


def _world(session: Session) -> None:
    setup_world(session)
    _astrocast(session)
    ephemerides.upload_ephemerides(session, text=_elements(ASTROCAST), now=NOW, source="test")
    inventory.add_profile(session, profile_id="k9", decode={"transmitter": "9k6 FSK downlink"})
    inventory.add_profile(session, profile_id="typo", decode={"transmitter": "9k6 FSK"})


def _book(session: Session, profile_id: str, norad_id: int = ASTROCAST) -> Contact:
    window = passes.availability(
        session,
        norad_id=norad_id,
        profile_id="leo",
        start=NOW,
        end=NOW + timedelta(hours=12),
        now=NOW,
    )[0]
    return booking.reserve(
        session,
        norad_id=norad_id,
        antenna_id=window.antenna_id,
        profile_id=profile_id,
        start=window.aos,
        end=window.los,
        tenant="acme",
        now=NOW,
    )


def test_a_catalogue_satellite_is_registered_when_catalogued_with_a_modulation_it_sends(
    session: Session,
) -> None:
    _astrocast(session)
    with pytest.raises(ValidationError) as info:
        inventory.add_satellite(
            session,
            norad_id=99001,
            name="X",
            tenant="acme",
            downlink_freq_hz=437e6,
            framing_profile="catalogue",
        )
    assert "'99001' is not in the catalogue" in str(info.value)
    with pytest.raises(ValidationError) as info:
        _astrocast(session, norad_id=46276, name="UPMSat 2", modulation="bpsk")
    assert "modulation 'bpsk'" in str(info.value) and "'1k2 FSK downlink' is fsk" in str(info.value)
    with pytest.raises(ValidationError, match="or 'catalogue' for a satellite of the catalogue"):
        _astrocast(session, norad_id=46276, framing_profile="catalog")


def test_a_profile_names_the_transmitter_a_contact_decodes_and_booking_checks_it(
    session: Session,
) -> None:
    _world(session)
    contact = _book(session, "k9")
    run = contact_run(contact)
    assert run.problems == () and run.decode.transmitter == "9k6 FSK downlink"
    assert run.framing_profile == "catalogue"
    _, tx = catalogue_transmitter(run.norad_id, run.decode.transmitter)
    assert (tx.baud_rate, tx.framing) == (9600, "ccsds-rs")
    # several transmitters: the profile must name one, and one the satellite has
    with pytest.raises(DownlinkUnsupportedError) as info:
        _book(session, "leo")
    assert "3 transmitters" in str(info.value) and "'1k2 FSK downlink NRZ-I'" in str(info.value)
    assert "decode.transmitter" in str(info.value)
    with pytest.raises(DownlinkUnsupportedError, match="no transmitter '9k6 FSK'"):
        _book(session, "typo")
    # a satellite not linked to the catalogue takes no transmitter
    with pytest.raises(DownlinkUnsupportedError, match="not linked to the catalogue"):
        _book(session, "k9", norad_id=33591)


def test_a_transmitter_that_is_not_what_the_satellite_is_registered_as_is_refused() -> None:
    problems = transmitter_problems(
        norad_id=44854,
        modulation="fsk",
        framing_profile="catalogue",
        downlink_freq_hz=437e6,
        transmitter=None,
    )
    assert problems == [
        "transmitter '9k6 BPSK downlink' is bpsk, but satellite 44854 is registered with "
        "modulation 'fsk'",
        "transmitter '9k6 BPSK downlink' is at 436.400000 MHz, but satellite 44854 is "
        "registered with downlink_freq_hz 437.000000 MHz",
    ]


def test_a_profile_changed_after_booking_to_a_missing_transmitter_fails_the_pass_with_it(
    session: Session,
) -> None:
    _world(session)
    contact = _book(session, "k9")
    profile = session.get(MissionProfile, "k9")
    assert profile is not None
    profile.decode = {"transmitter": "gone"}
    session.commit()
    session.refresh(contact)
    (problem,) = contact_run(contact).problems
    assert f"satellite NORAD {ASTROCAST}" in problem and "no transmitter 'gone'" in problem


def test_the_cli_registers_a_catalogue_satellite_and_a_profile_naming_its_transmitter(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GS_DATA_DIR", str(tmp_path / "data"))
    code, _, err = run(
        ["satellites", "add", "--norad-id", str(ASTROCAST), "--name", "Astrocast 0.1",
         "--tenant", "acme", "--downlink-freq-hz", "437.15e6", "--modulation", "fsk",
         "--framing-profile", "catalogue"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    code, _, err = run(
        ["profiles", "add", "--id", "k9", "--transmitter", "9k6 FSK downlink"], capsys
    )
    assert code == 0, err
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'groundstation.db'}")
    with Session(engine) as s:
        profile = s.get(MissionProfile, "k9")
        assert profile is not None and profile.decode == {"transmitter": "9k6 FSK downlink"}
    engine.dispose()
