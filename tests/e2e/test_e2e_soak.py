"""The soak bench, short: bench/soak.py for two minutes from the sample
network's busiest instant (10 passes at once) at x8, with API load. The
invariants this branch guarantees must hold: no contact failed for lateness
(the DSP capacity may stop passes, with that reason), contact and dataset
states agree at every sample and after the stop, every failure is in the
server's log with its reason. (Flat disk use needs the retention of the
housekeeping branch; RSS growth needs the 20-minute run.)"""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path

from .conftest import REPO


def test_a_short_soak_keeps_contacts_on_time_and_in_agreement_with_their_datasets(
    tmp_path: Path,
) -> None:
    spec = importlib.util.spec_from_file_location("bench_soak", REPO / "bench" / "soak.py")
    assert spec is not None and spec.loader is not None
    soak = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = soak  # dataclasses look their module up
    spec.loader.exec_module(soak)
    out = io.StringIO()
    outcome = soak.soak(
        workdir=tmp_path,
        url=None,
        minutes=2.0,
        speedup=8.0,
        hours=3.0,
        min_elevation_deg=20.0,
        from_peak=True,
        sample_s=20.0,
        api_rate=5.0,
        idle_s=5.0,
        out=out,
    )
    report = out.getvalue()
    print(report)
    assert outcome.failed_late == 0, report
    assert outcome.disagreements == 0, report
    assert outcome.unlogged == 0, report
    assert outcome.failed_other == 0, report
    assert outcome.contacts >= 3 and outcome.completed_pct > 0, report
    assert len(outcome.samples) >= 5
    assert all(s.states for s in outcome.samples)
    assert "RESULT soak contacts=" in report.splitlines()[-1]
