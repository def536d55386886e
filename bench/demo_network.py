"""The demo's network for the benches (``bench/downlink.py``, ``bench/contacts.py``,
``bench/agent.py``): what ``make demo`` loads (sample stations and weather
satellites, from 2023-07-04T18:00Z) and some of the contacts it would book,
booked for its tenant and already in PASS.

A bench puts the repository root (``ROOT``) first on ``sys.path`` before
importing this module, as every bench does: run as ``python bench/NAME.py``,
``bench/`` is on the path too, and ``bench/dsp.py`` would shadow the ``dsp``
package.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from groundstation.commands.demo import (
    DEMO_CLOCK_START,
    choose_contacts,
    find_samples,
    load_inventory,
    reserve_choice,
)
from groundstation.models import Contact
from groundstation.transitions import enter_pass

#: The repository (sample_tles/ holds the whole catalogue's elements).
ROOT = Path(__file__).resolve().parents[1]


def book_demo_contacts(
    session: Session, *, count: int, hours: float, span_s: float, min_elevation_deg: float = 30.0
) -> list[Contact]:
    """The demo's inventory loaded into ``session``'s empty database and up to
    ``count`` of its contacts booked (``choose_contacts``: AOS within ``span_s``
    of each other in the first ``hours``, on distinct antennas, above
    ``min_elevation_deg``), each moved into PASS at its AOS."""
    names = load_inventory(session, find_samples(None), now=DEMO_CLOCK_START)
    choices = choose_contacts(
        session,
        names,
        now=DEMO_CLOCK_START,
        hours=hours,
        count=count,
        span_s=span_s,
        min_elevation_deg=min_elevation_deg,
    )
    contacts = []
    for choice in choices:
        contact = reserve_choice(session, choice, now=DEMO_CLOCK_START)
        enter_pass(session, contact, at=choice.aos, reason="bench")
        contacts.append(contact)
    return contacts
