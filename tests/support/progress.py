"""A running pass's live figures stored as the in-process executor of a
simulated pass stores them (``groundstation.progress.write_progress``), for
the tests of GET /contacts/{id}/progress, its events and the console."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from groundstation.progress import PassProgress, write_progress

IN_PROCESS = "in-process (the central service)"


def store_progress(
    session: Session,
    contact_id: str,
    *,
    frames_decoded: int,
    frames_sent: int,
    updated_at: datetime,
    elapsed_s: float,
    duration_s: float = 600.0,
    esn0_db: float | None = 7.5,
    doppler_hz: float | None = -1234.5,
    final: bool = False,
) -> PassProgress:
    """Store (and commit) contact ``contact_id``'s figures of a simulated
    pass worked in-process; the ``PassProgress`` stored."""
    progress = PassProgress(
        contact_id=contact_id,
        updated_at=updated_at,
        elapsed_s=elapsed_s,
        duration_s=duration_s,
        frames_decoded=frames_decoded,
        frames_sent=frames_sent,
        esn0_db=esn0_db,
        doppler_hz=doppler_hz,
        simulated=True,
        executed_by=IN_PROCESS,
        final=final,
    )
    write_progress(session, progress)
    session.commit()
    return progress
