"""A pass is refused when the disk is below its refuse watermark: the
contact fails at AOS with the free space named, no dataset is started, and
nothing is recorded (GS_DISK_REFUSE_FREE, checked at the start of every pass)."""

from __future__ import annotations

from pathlib import Path

from groundstation.clock import SimulatedClock
from groundstation.models import Contact
from groundstation.runtime import open_runtime
from groundstation.settings import Settings

from .conftest import book_one_contact, wait_for


def test_a_pass_below_the_refuse_watermark_fails_at_aos_naming_the_free_space(
    tmp_path: Path,
) -> None:
    # 100 %: any real file system has less free space than its whole size.
    settings = Settings(data_dir=tmp_path / "var", disk_warn_free="100%", disk_refuse_free="100%")
    contact_id, start = book_one_contact(settings)

    runtime = open_runtime(settings, clock=SimulatedClock(start, speedup=60.0))
    try:
        runtime.start()

        def contact() -> Contact:
            with runtime.session_factory() as session:
                row = session.get(Contact, contact_id)
                assert row is not None
                session.expunge(row)
                return row

        wait_for(lambda: contact().state == "FAILED", timeout_s=60, what="the refused pass")
        reason = contact().state_reason
        assert "recording refused" in reason and "GS_DISK_REFUSE_FREE=100%" in reason
        assert runtime.catalog.find(contact_id=contact_id) == []
        staging = settings.dataset_staging_dir()
        assert not staging.exists() or not any(staging.iterdir())
    finally:
        runtime.close()
