"""Contact lifecycle: APScheduler 3.x drives SCHEDULED -> PREPASS -> PASS ->
POSTPASS -> COMPLETED at pre-pass start, AOS, LOS and post-pass end.

The database is the source of truth. Jobs are derived from it: one job per
active contact, job id = contact id, a trigger firing at the contact's four
transition instants (mapped to wall time through the ``Clock``), rebuilt from
the database at start-up and re-synced periodically. Every firing runs
``step``: claim the contact row (``SELECT ... FOR UPDATE SKIP LOCKED`` on
PostgreSQL, the serialized ``BEGIN IMMEDIATE`` transaction on SQLite), re-read
its state and apply whatever transition is due, so several instances on one
database never run the same transition or contact twice.

The scheduler's jobs only apply transitions (a short transaction each): the
executor of a pass runs in a thread of its own, never in the scheduler's
worker pool, so transitions stay on time however many passes execute. A
transition that runs later than the grace fails its contact with what
happened: "service was down from A to B" when this instance was not running
at the instant (A: the last heartbeat seen before it started, B: its start),
otherwise "transition ran N s late: <cause>". With ``require_dataset`` (the
downlink executor writes one dataset per contact) a contact completes only
once its dataset is ``ready`` in the catalogue, read under the contact row's
claim (``groundstation.contact_datasets``).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from groundstation.clock import Clock, iso_utc
from groundstation.contact_datasets import dataset_state
from groundstation.events import ContactEvent, EventSink
from groundstation.executor import (
    ContactExecutor,
    ContactHandedOver,
    ContactRun,
    ContactStopped,
    ResumableExecutor,
    StoppableExecutor,
)
from groundstation.models import Contact, ContactTransition, SchedulerInstance
from groundstation.profile_settings import (
    downlink_problems,
    profile_document,
    read_profile,
    satellite_transmitter_problems,
)
from groundstation.settings import Settings
from groundstation.states import ACTIVE_STATE_VALUES, ContactState
from groundstation.transitions import apply_transition

log = logging.getLogger(__name__)

S = ContactState


class ContactTrigger(BaseTrigger):
    """Fires once at each of ``run_times`` (aware wall-clock datetimes)."""

    def __init__(self, run_times: Sequence[datetime]) -> None:
        self.run_times = sorted(run_times)

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        for t in self.run_times:
            if previous_fire_time is None or t > previous_fire_time:
                return t
        return None

    def __str__(self) -> str:
        return "contact[" + ", ".join(t.isoformat() for t in self.run_times) + "]"


@dataclass
class ReconcileReport:
    events: list[ContactEvent] = field(default_factory=list)
    jobs: int = 0


class LifecycleService:
    """One scheduler instance. Several may run against the same database.

    ``grace_s`` (service seconds) is how late a transition may run and still
    count as on time; later than that, a missed AOS fails the contact with
    what happened named in the reason. ``require_dataset``: a contact
    completes only with a ready dataset (see the module docstring).
    """

    def __init__(
        self,
        *,
        session_factory: sessionmaker[Session],
        clock: Clock,
        events: EventSink,
        executor: ContactExecutor,
        instance_id: str = "",
        grace_s: float = 60.0,
        sync_interval_s: float = 5.0,
        heartbeat_interval_s: float = 10.0,
        lock_retry_s: float = 2.0,
        require_dataset: bool = False,
    ) -> None:
        self.session_factory = session_factory
        self.clock = clock
        self.events = events
        self.executor = executor
        self.instance_id = instance_id or f"scheduler-{uuid.uuid4().hex[:12]}"
        self.grace = timedelta(seconds=grace_s)
        self.sync_interval_s = sync_interval_s
        self.heartbeat_interval_s = heartbeat_interval_s
        self.lock_retry_s = lock_retry_s
        self.require_dataset = require_dataset
        self._scheduler: BackgroundScheduler | None = None
        self._job_times: dict[str, tuple[datetime, ...]] = {}
        self._lock = threading.Lock()
        self._previous_seen: datetime | None = None
        # Service time at which this instance started (None before start()).
        self._started_at: datetime | None = None
        self._stop = threading.Event()
        self._sync_thread: threading.Thread | None = None
        # Contacts whose executor runs in this process (each in a thread of
        # its own): they complete only once it has returned.
        self._running: set[str] = set()
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------ start/stop

    def start(self) -> ReconcileReport:
        """Register, reconcile what was missed while down, build jobs, start."""
        self._previous_seen = self._register()
        report = ReconcileReport(events=self.reconcile())
        scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 4},
            executors={"default": {"type": "threadpool", "max_workers": 8}},
        )
        self._scheduler = scheduler
        scheduler.start()
        report.jobs = self.sync()
        # The periodic re-sync runs in its own thread, not as a scheduler job:
        # APScheduler 3 holds its job-store lock while shutdown() waits for
        # running jobs, so a job touching the scheduler could deadlock it.
        self._stop.clear()
        self._sync_thread = threading.Thread(
            target=self._sync_loop, name=f"{self.instance_id}-sync", daemon=True
        )
        self._sync_thread.start()
        scheduler.add_job(
            self.heartbeat,
            "interval",
            seconds=self.heartbeat_interval_s,
            id="__heartbeat__",
            max_instances=1,
        )
        return report

    def _sync_loop(self) -> None:
        while not self._stop.wait(self.sync_interval_s):
            try:
                self.sync()
            except Exception:
                log.exception("lifecycle sync failed")

    def shutdown(self, *, wait: bool = True) -> None:
        self._stop.set()
        if self._sync_thread is not None:
            self._sync_thread.join()
            self._sync_thread = None
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=wait)
        if wait:
            for thread in self._threads:
                thread.join()
        self._threads = [t for t in self._threads if t.is_alive()]
        self._scheduler = None
        self._job_times.clear()

    @property
    def scheduler(self) -> BackgroundScheduler | None:
        return self._scheduler

    # ------------------------------------------------------------ heartbeats

    def _register(self) -> datetime | None:
        """Record this instance; return the latest heartbeat of any instance
        seen before (when the service was last known up)."""
        now = self.clock.now()
        self._started_at = now
        with self.session_factory() as session:
            last = session.scalar(select(func.max(SchedulerInstance.last_seen_at)))
            row = session.get(SchedulerInstance, self.instance_id)
            if row is None:
                session.add(
                    SchedulerInstance(id=self.instance_id, started_at=now, last_seen_at=now)
                )
            else:
                row.started_at = row.last_seen_at = now
            session.commit()
        return last

    def heartbeat(self) -> None:
        with self.session_factory() as session:
            row = session.get(SchedulerInstance, self.instance_id)
            if row is not None:
                row.last_seen_at = self.clock.now()
                session.commit()

    def _down_since(self, missed_at: datetime) -> datetime:
        last = self._previous_seen
        if last is not None and last < missed_at:
            return last
        return missed_at

    def _was_down(self, instant: datetime) -> bool:
        """Whether this instance was not running yet at ``instant``."""
        return self._started_at is None or instant < self._started_at

    def _missed(self, instant: datetime, now: datetime, fired_at: datetime | None) -> str:
        """What made a transition due at ``instant`` run only at ``now``."""
        if self._was_down(instant):
            until = self._started_at or now
            return f"service was down from {iso_utc(self._down_since(instant))} to {iso_utc(until)}"
        late_s = (now - instant).total_seconds()
        return f"transition ran {late_s:.0f} s late: {self._late_cause(instant, now, fired_at)}"

    def _late_cause(self, instant: datetime, now: datetime, fired_at: datetime | None) -> str:
        n = len(self.running())
        passes = f"{n} pass{'' if n == 1 else 'es'} executing in this process"
        speedup = self.clock.speedup
        clock = f", service clock x{speedup:g}" if speedup != 1.0 else ""
        if fired_at is None:
            return f"applied when the contact's executor returned ({passes}{clock})"
        job_late_s = (fired_at - instant).total_seconds()
        waited_s = (now - fired_at).total_seconds()
        if waited_s > job_late_s:
            return f"waited {waited_s:.0f} s for the contact's row ({passes}{clock})"
        return f"the scheduler started its job {job_late_s:.0f} s late ({passes}{clock})"

    # ------------------------------------------------------------ jobs

    def _transition_times(self, contact: Contact) -> tuple[datetime, ...]:
        return (contact.booked_start, contact.aos, contact.los, contact.booked_end)

    def sync(self) -> int:
        """(Re)build jobs from the active contacts in the database; returns
        the number of contact jobs. Safe to call at any time."""
        scheduler = self._scheduler
        if scheduler is None or self._stop.is_set():
            return 0
        with self.session_factory() as session:
            contacts = session.scalars(
                select(Contact).where(Contact.state.in_(ACTIVE_STATE_VALUES))
            )
            wanted: dict[str, tuple[datetime, ...]] = {}
            cancelling: dict[str, str] = {}
            for c in contacts:
                wanted[c.id] = self._transition_times(c)
                if c.state == S.CANCELLING:
                    cancelling[c.id] = c.state_reason
            session.rollback()
        self._stop_requested(cancelling)
        with self._lock:
            for contact_id, times in wanted.items():
                if self._job_times.get(contact_id) == times and scheduler.get_job(contact_id):
                    continue
                real_times = [self.clock.to_real(t) for t in times]
                scheduler.add_job(
                    self._fire,
                    trigger=ContactTrigger(real_times),
                    args=[contact_id],
                    id=contact_id,
                    replace_existing=True,
                )
                self._job_times[contact_id] = times
            for contact_id in list(self._job_times):
                if contact_id not in wanted:
                    del self._job_times[contact_id]
                    if scheduler.get_job(contact_id) is not None:
                        scheduler.remove_job(contact_id)
        return len(wanted)

    def _stop_requested(self, cancelling: dict[str, str]) -> None:
        """Contacts in CANCELLING ({id: reason}): the pass running here is
        told to stop (it keeps what it received); one running nowhere is
        cancelled now (``step``)."""
        for contact_id, reason in cancelling.items():
            if contact_id in self.running():
                if isinstance(self.executor, StoppableExecutor):
                    self.executor.stop_contact(contact_id, reason)
            else:
                self.step(contact_id)

    def _fire(self, contact_id: str) -> None:
        try:
            self.step(contact_id, fired_at=self.clock.now())
        except Exception:
            log.exception("lifecycle step of contact %s failed", contact_id)

    # ------------------------------------------------------------ transitions

    def _claim(self, session: Session, contact_id: str) -> Contact | None:
        """Lock the contact row or return None if another session holds it
        (``FOR UPDATE SKIP LOCKED``; plain serialized transaction on SQLite)."""
        return session.scalar(
            select(Contact)
            .where(Contact.id == contact_id)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )

    def _due(
        self, session: Session, contact: Contact, now: datetime, fired_at: datetime | None
    ) -> tuple[ContactState, str] | None:
        """The transition due for ``contact`` at ``now`` and its reason, if any."""
        eps = timedelta(milliseconds=5)
        state = contact.state
        if state == S.SCHEDULED and now + eps >= contact.booked_start:
            # Within the grace of AOS the pass is still run (as from PREPASS):
            # a late pre-pass start must not fail a pass the PREPASS rule keeps.
            if now <= contact.aos + self.grace:
                return (
                    S.PREPASS,
                    f"pre-pass started at {iso_utc(contact.booked_start)}"
                    + self._late(contact.booked_start, now),
                )
            return S.FAILED, (
                f"PASS missed (AOS {iso_utc(contact.aos)}): "
                + self._missed(contact.booked_start, now, fired_at)
            )
        if state == S.PREPASS and now + eps >= contact.aos:
            if now <= contact.aos + self.grace:
                return S.PASS, f"AOS at {iso_utc(contact.aos)}"
            return S.FAILED, (
                f"PASS missed (AOS {iso_utc(contact.aos)}): "
                + self._missed(contact.aos, now, fired_at)
            )
        if state == S.PASS and now + eps >= contact.los:
            # Followed to LOS: on time, or by an executor still running here,
            # or one that already committed the pass's dataset.
            if (
                now <= contact.los + self.grace
                or contact.id in self._running
                or self._dataset(session, contact) == "ready"
            ):
                return S.POSTPASS, f"LOS at {iso_utc(contact.los)}" + self._late(contact.los, now)
            return S.FAILED, (
                f"pass not followed to LOS {iso_utc(contact.los)}: "
                + self._missed(contact.los, now, fired_at)
            )
        if (
            state == S.POSTPASS
            and now + eps >= contact.booked_end
            and contact.id not in self._running
        ):
            return self._post_pass_end(session, contact, now)
        if state == S.CANCELLING and contact.id not in self._running:
            return self._stopped(session, contact, now)
        return None

    def _stopped(
        self, session: Session, contact: Contact, now: datetime
    ) -> tuple[ContactState, str] | None:
        """CANCELLED once the stopped pass's executor has returned (here, or
        in an instance no longer alive), naming the dataset it kept."""
        if self._owner_alive(session, contact.id, now):
            return None  # its executor runs in another live instance
        kept = ""
        if self.require_dataset:
            ready = self._dataset(session, contact) == "ready"
            kept = ", the partial dataset received is kept" if ready else ", no dataset was kept"
        return S.CANCELLED, f"{contact.state_reason}; pass stopped at {iso_utc(now)}{kept}"

    def _late(self, instant: datetime, now: datetime) -> str:
        late = now - instant
        return f" (late by {late.total_seconds():.0f} s)" if late > self.grace else ""

    def _dataset(self, session: Session, contact: Contact) -> str | None:
        if not self.require_dataset:
            return None
        found = dataset_state(session, contact.id)
        return None if found is None else found[0]

    def _post_pass_end(
        self, session: Session, contact: Contact, now: datetime
    ) -> tuple[ContactState, str] | None:
        """COMPLETED once the dataset is ready (or none is required); FAILED
        if it was not committed; nothing yet while another process writes it."""
        ended = f"post-pass ended at {iso_utc(contact.booked_end)}" + self._late(
            contact.booked_end, now
        )
        if not self.require_dataset:
            return S.COMPLETED, ended
        found = dataset_state(session, contact.id)
        if found is not None and found[0] == "ready":
            return S.COMPLETED, ended
        if found is not None and found[0] == "writing":
            return None  # an executor in another process is still committing it
        if self._was_down(contact.los):
            # The writer died with the process: down since its last heartbeat.
            since = self._previous_seen or contact.los
            until = self._started_at or now
            why = f"service was down from {iso_utc(since)} to {iso_utc(until)} while the dataset was written"
        else:
            why = found[1] if found is not None and found[1] else "no dataset was written"
        return S.FAILED, f"{ended}; dataset not committed: {why}"

    def step(self, contact_id: str, *, fired_at: datetime | None = None) -> list[ContactEvent]:
        """Apply every transition of ``contact_id`` that is due now, once,
        across all instances; start the executor if this call entered PASS.
        ``fired_at``: when the scheduler started the job (for late reasons)."""
        deadline = time.monotonic() + self.lock_retry_s
        while True:
            with self.session_factory() as session:
                contact = self._claim(session, contact_id)
                if contact is None:
                    session.rollback()
                    exists = session.get(Contact, contact_id) is not None
                    session.rollback()
                    if not exists or time.monotonic() > deadline:
                        return []
                    time.sleep(0.02)
                    continue
                events, run = self._advance(session, contact, fired_at)
                session.commit()
            break
        self._publish(events)
        if run is not None:
            self._execute(run)
        return events

    def _publish(self, events: list[ContactEvent]) -> None:
        for event in events:
            self.events.publish(event)

    def _advance(
        self, session: Session, contact: Contact, fired_at: datetime | None
    ) -> tuple[list[ContactEvent], ContactRun | None]:
        events: list[ContactEvent] = []
        entered_pass = False
        now = self.clock.now()
        while (due := self._due(session, contact, now, fired_at)) is not None:
            new_state, reason = due
            events.append(
                apply_transition(
                    session, contact, new_state, at=now, reason=reason, instance_id=self.instance_id
                )
            )
            if new_state == S.PASS:
                # The executor runs the pass before LOS is applied, even when
                # this step came so late that LOS is already due (a stalled
                # machine): LOS follows when the executor returns.
                entered_pass = True
                break
        run = None
        if entered_pass and contact.state == S.PASS:
            run = contact_run(contact)
        return events, run

    def _execute(self, run: ContactRun) -> None:
        """Run the executor in a thread of its own: never in the scheduler's
        worker pool (transitions of other contacts must not wait behind it)
        nor in ``start()``'s reconciliation (the API is not held up)."""
        with self._lock:
            self._running.add(run.contact_id)
            self._threads = [t for t in self._threads if t.is_alive()]
            thread = threading.Thread(
                target=self._execute_now,
                args=(run,),
                name=f"pass-{run.contact_id[:8]}",
                daemon=True,
            )
            self._threads.append(thread)
        thread.start()

    def _execute_now(self, run: ContactRun) -> None:
        try:
            self.executor.execute(run)
        except ContactHandedOver as exc:
            # The service stops; the pass goes on where it runs (a station
            # agent) and the next start follows it again (reconcile).
            log.info("contact %s left in PASS: %s", run.contact_id, exc)
            with self._lock:
                self._running.discard(run.contact_id)
            return
        except ContactStopped as exc:
            log.info("contact %s stopped: %s", run.contact_id, exc)
        except Exception as exc:
            self.fail(run.contact_id, reason=f"contact executor failed: {exc}")
        finally:
            with self._lock:
                self._running.discard(run.contact_id)
        # Apply what came due while the executor ran (LOS, post-pass end).
        try:
            self.step(run.contact_id)
        except Exception:
            log.exception("lifecycle step of contact %s failed", run.contact_id)

    def running(self) -> set[str]:
        """Contacts whose executor is running in this process."""
        with self._lock:
            return set(self._running)

    def fail(self, contact_id: str, *, reason: str) -> ContactEvent | None:
        """Move an active contact to FAILED (waits for the row lock)."""
        with self.session_factory() as session:
            contact = session.scalar(
                select(Contact)
                .where(Contact.id == contact_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
            if (
                contact is None
                or contact.state not in ACTIVE_STATE_VALUES
                or contact.state == S.SCHEDULED
            ):
                session.rollback()
                return None
            event = apply_transition(
                session,
                contact,
                S.FAILED,
                at=self.clock.now(),
                reason=reason,
                instance_id=self.instance_id,
            )
            session.commit()
        self._publish([event])
        return event

    # ------------------------------------------------------------ reconciliation

    def reconcile(self) -> list[ContactEvent]:
        """At start-up: apply, with reasons, every transition whose time passed
        while the service was down; fail contacts left in PASS by an instance
        that is no longer alive (their executor died with it)."""
        now = self.clock.now()
        with self.session_factory() as session:
            rows = list(
                session.execute(
                    select(Contact.id, Contact.state, Contact.los).where(
                        Contact.state.in_(ACTIVE_STATE_VALUES), Contact.booked_start <= now
                    )
                )
            )
            session.rollback()
        out: list[ContactEvent] = []
        for contact_id, state, los in rows:
            if state == S.PASS and self._resume(contact_id, now):
                continue
            if state == S.PASS and now < los and not self._pass_owner_alive(contact_id, now):
                event = self.fail(
                    contact_id,
                    reason=(
                        f"pass interrupted: service was down from "
                        f"{iso_utc(self._previous_seen or now)} to {iso_utc(self._started_at or now)}"
                    ),
                )
                if event is not None:
                    out.append(event)
                continue
            out.extend(self.step(contact_id))
        return out

    def _resume(self, contact_id: str, now: datetime) -> bool:
        """A contact left in PASS whose pass outlives the service (a station
        agent's, ``ResumableExecutor``) and no live instance follows: given
        back to the executor, which goes on from where it was. True if so."""
        if not isinstance(self.executor, ResumableExecutor):
            return False
        with self.session_factory() as session:
            contact = session.get(Contact, contact_id)
            if contact is None or self._owner_alive(session, contact_id, now):
                session.rollback()
                return False
            run = contact_run(contact)
            session.rollback()
        if not self.executor.resumes(run):
            return False
        log.info(
            "contact %s: following its pass again (station agent of %s)", contact_id, run.station_id
        )
        self._execute(run)
        return True

    def _pass_owner_alive(self, contact_id: str, now: datetime) -> bool:
        with self.session_factory() as session:
            alive = self._owner_alive(session, contact_id, now)
            session.rollback()
        return alive

    def _owner_alive(self, session: Session, contact_id: str, now: datetime) -> bool:
        """Whether another scheduler instance, still alive, entered the
        contact's PASS (its executor runs there), read in ``session``."""
        owner = session.scalar(
            select(ContactTransition.instance_id)
            .where(
                ContactTransition.contact_id == contact_id,
                ContactTransition.new_state == S.PASS.value,
            )
            .order_by(ContactTransition.id.desc())
            .limit(1)
        )
        row = session.get(SchedulerInstance, owner) if owner else None
        last_seen = row.last_seen_at if row is not None else None
        if last_seen is None or owner == self.instance_id:
            return False
        stale_after = self._service_span(3 * self.heartbeat_interval_s)
        return now - last_seen <= stale_after

    def _service_span(self, real_seconds: float) -> timedelta:
        """Service time elapsing during ``real_seconds`` of wall time."""
        now = self.clock.now()
        probe = now + timedelta(hours=1)
        real_per_hour_s = (self.clock.to_real(probe) - self.clock.to_real(now)).total_seconds()
        return timedelta(seconds=real_seconds * 3600.0 / max(real_per_hour_s, 1e-9))


def lifecycle_from_settings(
    settings: Settings,
    *,
    session_factory: sessionmaker[Session],
    clock: Clock,
    events: EventSink,
    executor: ContactExecutor,
    require_dataset: bool = False,
) -> LifecycleService:
    """The lifecycle service as configured (``serve-scheduler``, ``serve``)."""
    return LifecycleService(
        session_factory=session_factory,
        clock=clock,
        events=events,
        executor=executor,
        instance_id=settings.scheduler_instance_id,
        grace_s=settings.scheduler_grace_s,
        heartbeat_interval_s=settings.scheduler_heartbeat_s,
        require_dataset=require_dataset,
    )


def job_summary(service: LifecycleService) -> list[dict[str, Any]]:
    """The scheduler's contact jobs (id, next run), for diagnostics."""
    scheduler = service.scheduler
    if scheduler is None:
        return []
    return [
        {"id": job.id, "next_run_time": job.next_run_time}
        for job in scheduler.get_jobs()
        if not job.id.startswith("__")
    ]


def contact_run(contact: Contact) -> ContactRun:
    """What the executor needs to work ``contact``'s pass: its window, the
    satellite's downlink and the mission profile's settings, as plain values
    (the settings typed; stored values that do not validate are left at
    their defaults and named in ``problems``)."""
    settings, profile_problems = read_profile(profile_document(contact.profile))
    problems = [f"mission profile {contact.profile_id!r}: {p}" for p in profile_problems]
    satellite = contact.satellite
    problems += [
        f"satellite NORAD {satellite.norad_id}: {p}"
        for p in downlink_problems(
            norad_id=satellite.norad_id,
            modulation=satellite.modulation,
            framing_profile=satellite.framing_profile,
        )
        + satellite_transmitter_problems(satellite, settings)
    ]
    return ContactRun(
        contact_id=contact.id,
        norad_id=contact.satellite.norad_id,
        satellite_name=contact.satellite.name,
        antenna_id=contact.antenna_id,
        station_id=contact.antenna.station_id,
        profile_id=contact.profile_id,
        aos=contact.aos,
        tca=contact.tca,
        los=contact.los,
        downlink_freq_hz=contact.satellite.downlink_freq_hz,
        ephemeris_text=contact.ephemeris_text,
        downlink_bandwidth_hz=contact.satellite.downlink_bandwidth_hz,
        modulation=contact.satellite.modulation,
        symbol_rate_baud=contact.satellite.symbol_rate_baud,
        framing_profile=contact.satellite.framing_profile,
        demod=settings.demod,
        decode=settings.decode,
        kafka_topic=settings.kafka_topic,
        dataset_options=settings.dataset_options,
        problems=tuple(problems),
        tenant=contact.satellite.tenant,
    )
