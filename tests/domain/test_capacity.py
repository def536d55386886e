"""PassCapacity: when the DSP cannot keep up, the last pass started fails
with that reason and only it; a pass catching up is left alone."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from groundstation.capacity import PassCapacity
from groundstation.executor import ContactExecutionError

from .helpers import T0


def _at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def test_a_growing_lag_stops_the_last_pass_started_and_only_it() -> None:
    cap = PassCapacity(max_lag_s=60.0, speedup=40.0)
    for cid in ("a", "b", "c"):
        cap.admit(cid, _at(0))
    # All three fall behind together, one service second per chunk.
    for t in range(0, 70):
        for cid in ("a", "b"):
            cap.check(cid, lag_s=t * 1.2, now=_at(t))
        if t < 51:
            cap.check("c", lag_s=t * 1.2, now=_at(t))
    assert cap.shed == ["c"]
    with pytest.raises(ContactExecutionError) as stopped:
        cap.check("c", lag_s=62.0, now=_at(70))
    assert str(stopped.value).startswith(
        "DSP fell 61 s behind the service clock (limit 60 s): the machine cannot keep up "
        "with 3 concurrent passes at x40"
    )
    # The others got the time to catch up (no second pass stopped meanwhile).
    cap.release("c")
    for t in range(70, 120):
        for cid in ("a", "b"):
            cap.check(cid, lag_s=max(84 - (t - 70) * 2.0, 0.0), now=_at(t))
    assert cap.shed == ["c"]


def test_a_pass_catching_up_after_a_slow_start_is_left_alone() -> None:
    cap = PassCapacity(max_lag_s=60.0, speedup=60.0)
    cap.admit("a", _at(0))
    for t in range(0, 100):
        cap.check("a", lag_s=max(90.0 - t, 0.0), now=_at(t))
    assert cap.shed == []


def test_a_lag_far_beyond_the_bound_stops_a_pass_even_if_steady() -> None:
    cap = PassCapacity(max_lag_s=60.0)
    cap.admit("a", _at(0))
    with pytest.raises(ContactExecutionError, match="DSP fell 200 s behind"):
        cap.check("a", lag_s=200.0, now=_at(0))


def test_admission_is_refused_at_the_pass_limit_or_while_a_running_pass_falls_behind() -> None:
    cap = PassCapacity(max_lag_s=60.0, max_passes=2, speedup=20.0)
    cap.admit("a", _at(0))
    cap.admit("b", _at(0))
    with pytest.raises(ContactExecutionError, match="2 passes already running"):
        cap.admit("c", _at(0))
    cap.release("b")
    # A slow start (45 s behind, catching up) is no reason to refuse ...
    for t in range(0, 40):
        cap.check("a", lag_s=45.0 - t, now=_at(t))
    cap.admit("b", _at(40))
    cap.release("b")
    # ... a lag that keeps growing is.
    for t in range(40, 80):
        cap.check("a", lag_s=5.0 + (t - 40), now=_at(t))
    with pytest.raises(
        ContactExecutionError,
        match="1 of the 1 running passes are falling behind the service clock "
        r"\(up to 44 s\) at x20",
    ):
        cap.admit("c", _at(80))
    assert cap.running() == 1
