"""Job rows: keys, deduplication, and every change of a job's state.

A job is (question type, validated params, preset, code version); its key is a hash of those.
Every state change is one conditional UPDATE, so that two processes can never both move a job:

    queued ──claim──► running ──finish──► succeeded
       │                 │ └────fail────► failed
       └──────cancel─────┴──────────────► cancelled

`claim_job` also takes over a job left `running` by a worker that died, but only once its
heartbeat (`updated_at`) is older than `stale_after`: a message delivered twice never starts a
job that is still making progress elsewhere. The attempt number it returns fences the old attempt
out, because progress and results are written only `WHERE attempts = <my attempt>`. A succeeded
job is never claimed again. `release_job` hands a running job back to the queue without spending
its attempt (a worker shutting down); workers/reconcile.py uses `requeue_stale` and
`undispatched` to put lost jobs back on the queue.
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .models import ACTIVE_STATES, FINAL_STATES, Figure, Job, JobState, Result, utcnow

MESSAGE_MAX = 200  # the column's width
# Seconds without a heartbeat after which a running job counts as lost (settings.stale_after).
DEFAULT_STALE_AFTER = 60.0
# Below this fraction done, the rate so far says more about start-up than about the work.
ETA_MIN_PROGRESS = 0.02


@functools.cache
def current_code_version() -> str:
    """The running code's version, once per process (it asks git)."""
    from experiments.result import code_version

    return code_version()


def job_key(type_id: str, params: dict[str, Any], preset: str, code_version: str) -> str:
    """sha256 over a canonical JSON of what determines a result.

    `params` must already be resolved by the type's schema (defaults filled in, values coerced),
    so that equal requests written differently ("32" and 32, missing and default) hash equal.
    """
    canonical = json.dumps({"type": type_id, "params": params, "preset": preset,
                            "code_version": code_version},
                           sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def queue_for(preset: str, settings) -> str:
    """Smoke runs take seconds on a CPU; quick and full are training runs that want a GPU."""
    return settings.cpu_queue if preset == "smoke" else settings.gpu_queue


def find_or_create_job(session: Session, type_id: str, params: dict[str, Any], preset: str, *,
                       fresh: bool, queue: str, code_version: str | None = None,
                       stale_after: float = DEFAULT_STALE_AFTER) -> tuple[Job, bool]:
    """The job that answers this request, and whether it was created now.

    A queued or running job with the same key is shared, except that a `fresh` request never
    waits on a running job whose heartbeat is older than `stale_after`: that job is failed as
    superseded and a new one made. Otherwise the latest succeeded one is returned, unless
    `fresh`; else a new queued job is made. The insert runs in a savepoint: if a concurrent
    request inserted the same active key first, the UNIQUE constraint refuses ours and the
    winner is returned instead. Flushes; the caller commits.
    """
    version = code_version or current_code_version()
    key = job_key(type_id, params, preset, version)
    for _ in range(3):  # a winner can finish between our failed insert and the next look
        active = session.scalar(select(Job).where(Job.active_key == key)
                                .execution_options(populate_existing=True))
        if active is not None and fresh and _is_stale(active, stale_after):
            session.execute(
                update(Job).where(Job.id == active.id, Job.attempts == active.attempts,
                                  Job.state == JobState.RUNNING)
                .values(state=JobState.FAILED, active_key=None, message="failed",
                        error="superseded by a fresh request: its worker had stopped "
                              "reporting", finished_at=utcnow(), updated_at=utcnow()))
            session.expire(active)
            continue
        if active is not None:
            return active, False
        if not fresh:
            done = session.scalar(select(Job).where(Job.key == key,
                                                    Job.state == JobState.SUCCEEDED)
                                  .order_by(Job.id.desc()).limit(1)
                                  .execution_options(populate_existing=True))
            if done is not None:
                return done, False
        job = Job(key=key, active_key=key, type=type_id, params=params, preset=preset,
                  code_version=version, queue=queue, task_id=uuid.uuid4().hex,
                  state=JobState.QUEUED, progress=0.0, message="queued", attempts=0)
        try:
            with session.begin_nested():
                session.add(job)
        except IntegrityError:
            continue
        return job, True
    raise RuntimeError(f"could not find or create a job for key {key}")


@dataclass(frozen=True)
class Claim:
    """A worker's hold on a running job: valid while the row's attempts equal `attempt`."""

    job_id: int
    attempt: int
    type: str
    params: dict[str, Any]
    preset: str


class JobLost(Exception):
    """The job was cancelled, or another attempt took it over, while this one ran."""


def _is_stale(job: Job, stale_after: float) -> bool:
    """A running job whose last heartbeat is older than `stale_after` seconds."""
    if job.state != JobState.RUNNING:
        return False
    beat = job.updated_at or job.started_at
    if beat is None:
        return True
    if beat.tzinfo is None:  # SQLite keeps no time zone; bnlab stores UTC
        beat = beat.replace(tzinfo=utcnow().tzinfo)
    return utcnow() - beat > timedelta(seconds=stale_after)


def _stale_clause(stale_after: float):
    cutoff = utcnow() - timedelta(seconds=stale_after)
    return or_(Job.updated_at < cutoff, Job.updated_at.is_(None))


def claim_job(session: Session, job_id: int, *, worker: str, device: str | None,
              max_attempts: int, stale_after: float = DEFAULT_STALE_AFTER) -> Claim | None:
    """Move a queued job (or a running one whose heartbeat is stale) to running.

    Returns None when there is nothing to run: the job is unknown, finished or cancelled,
    another delivery claimed it first, it is running with a fresh heartbeat (this is a second
    delivery), or it has used up its attempts (then it is failed). Commits.
    """
    job = session.get(Job, job_id, populate_existing=True)
    if job is None or job.state not in ACTIVE_STATES or (
            job.state == JobState.RUNNING and not _is_stale(job, stale_after)):
        session.rollback()
        return None
    seen = job.attempts
    if seen >= max_attempts:
        session.rollback()
        fail_job(session, job_id, f"gave up after {seen} attempts: the worker running the job "
                                  "was lost each time", attempt=seen)
        return None
    now = utcnow()
    claimed = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.attempts == seen,
               # Queued, or still stale: a heartbeat that lands meanwhile keeps its job.
               or_(Job.state == JobState.QUEUED,
                   (Job.state == JobState.RUNNING) & _stale_clause(stale_after)))
        .values(state=JobState.RUNNING, attempts=seen + 1, worker=worker[:200], device=device,
                started_at=now, updated_at=now, progress=0.0, error=None,
                message=("started" if seen == 0 else f"restarted (attempt {seen + 1})"))
        # The heartbeat comparison is the database's to make (SQLite keeps no time zone).
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    session.commit()
    held = Claim(job_id, seen + 1, job.type, dict(job.params), job.preset)
    session.expire(job)  # not synchronised above; the next read loads the new state
    return held if claimed else None


def _held(claim: Claim):
    return (Job.id == claim.job_id, Job.attempts == claim.attempt,
            Job.state == JobState.RUNNING)


def heartbeat(session: Session, claim: Claim) -> bool:
    """Say the attempt is alive; False once it no longer holds the job. Commits."""
    alive = session.execute(
        update(Job).where(*_held(claim)).values(updated_at=utcnow())).rowcount == 1
    session.commit()
    return alive


def release_job(session: Session, claim: Claim, message: str) -> bool:
    """Hand a running job back to the queue without spending its attempt (the worker is
    shutting down); the caller sends it again, or the reconciler does. Commits."""
    released = session.execute(
        update(Job).where(*_held(claim))
        .values(state=JobState.QUEUED, attempts=claim.attempt - 1, progress=0.0,
                message=message[:MESSAGE_MAX], worker=None, dispatched_at=None,
                updated_at=utcnow())
    ).rowcount == 1
    session.commit()
    return released


def mark_dispatched(session: Session, job_id: int) -> None:
    """Record that the job's message reached the broker. Commits."""
    session.execute(update(Job).where(Job.id == job_id, Job.state == JobState.QUEUED)
                    .values(dispatched_at=utcnow()))
    session.commit()


def requeue_stale(session: Session, stale_after: float, max_attempts: int) -> list[int]:
    """Put running jobs whose heartbeat is older than `stale_after` back in the queue (the
    attempt they lost is spent) or, out of attempts, fail them. Returns the requeued ids;
    each gets a new task id, so the caller sends it as a new message. Flushes."""
    stale = session.scalars(select(Job).where(Job.state == JobState.RUNNING,
                                              _stale_clause(stale_after))).all()
    requeued = [job.id for job in stale if _requeue_or_fail(
        session, job, max_attempts, f"the worker of attempt {job.attempts} stopped reporting",
        _stale_clause(stale_after))]
    session.flush()
    return requeued


def requeue_lost(session: Session, job_id: int, worker: str, max_attempts: int,
                 why: str) -> bool:
    """The process `worker` died while running job `job_id`: if its attempt still holds the
    job, queue it again (that attempt is spent) or, out of attempts, fail it. True when it was
    queued again. Commits."""
    job = session.get(Job, job_id, populate_existing=True)
    if job is None or job.state != JobState.RUNNING or job.worker != worker[:200]:
        session.rollback()
        return False
    requeued = _requeue_or_fail(session, job, max_attempts, why, Job.worker == job.worker)
    session.commit()
    return requeued


def _requeue_or_fail(session: Session, job: Job, max_attempts: int, why: str, *still) -> bool:
    """Move running `job` back to the queue under a new task id, or fail it when its attempts
    are used up; only while its attempt holds it and the `still` conditions hold."""
    held = (Job.id == job.id, Job.attempts == job.attempts, Job.state == JobState.RUNNING,
            *still)
    if job.attempts >= max_attempts:
        session.execute(update(Job).where(*held).values(
            state=JobState.FAILED, active_key=None, message="failed",
            error=f"gave up after {job.attempts} attempts: the worker running the job "
                  f"was lost each time (last: {why})", finished_at=utcnow(),
            updated_at=utcnow()).execution_options(synchronize_session=False))
        return False
    return session.execute(update(Job).where(*held).values(
        state=JobState.QUEUED, progress=0.0, worker=None, task_id=uuid.uuid4().hex,
        dispatched_at=None, updated_at=utcnow(), message=f"queued again: {why}"[:MESSAGE_MAX])
        .execution_options(synchronize_session=False)).rowcount == 1


def queued_jobs(session: Session, *, sent_before) -> list[Job]:
    """Queued jobs never sent, or last sent before `sent_before` (candidates for a lost
    message), oldest first."""
    return list(session.scalars(select(Job).where(
        Job.state == JobState.QUEUED,
        or_(Job.dispatched_at.is_(None), Job.dispatched_at < sent_before))
        .order_by(Job.id).execution_options(populate_existing=True)).all())


def release_ended_keys(session: Session) -> int:
    """Clear the active key of jobs that ended without clearing it. Flushes."""
    return session.execute(update(Job).where(Job.state.in_(FINAL_STATES),
                                             Job.active_key.is_not(None))
                           .values(active_key=None)).rowcount


def report_progress(session: Session, claim: Claim, fraction: float, message: str) -> None:
    """Write progress; raise JobLost if the job was cancelled or taken over. Commits."""
    updated = session.execute(
        update(Job).where(*_held(claim))
        .values(progress=min(max(float(fraction), 0.0), 1.0), message=message[:MESSAGE_MAX],
                updated_at=utcnow())
    ).rowcount == 1
    session.commit()
    if not updated:
        raise JobLost(claim.job_id)


def finish_job(session: Session, claim: Claim, result: dict[str, Any],
               figures: list[tuple[str, str, bytes]], device: str | None) -> bool:
    """Store the result and its figures (name, caption, PNG bytes) and mark the job succeeded,
    all in one transaction and only if this attempt still holds the job. Commits."""
    now = utcnow()
    stored = session.execute(
        update(Job).where(*_held(claim))
        .values(state=JobState.SUCCEEDED, progress=1.0, message="done", active_key=None,
                finished_at=now, updated_at=now, device=device)
    ).rowcount == 1
    if not stored:
        session.rollback()
        return False
    session.add(Result(job_id=claim.job_id, data=result, created_at=now))
    for name, caption, data in figures:
        session.add(Figure(job_id=claim.job_id, name=name, caption=caption,
                           content_type="image/png", sha256=hashlib.sha256(data).hexdigest(),
                           data=data))
    session.commit()
    return True


def fail_job(session: Session, job_id: int, reason: str, *, attempt: int | None = None) -> bool:
    """Mark an active job failed with a readable reason (a later request makes a new job).

    With `attempt`, only if that attempt still holds the job. Commits.
    """
    conditions = [Job.id == job_id, Job.state.in_(ACTIVE_STATES)]
    if attempt is not None:
        conditions.append(Job.attempts == attempt)
    now = utcnow()
    failed = session.execute(
        update(Job).where(*conditions)
        .values(state=JobState.FAILED, error=reason, message="failed", active_key=None,
                finished_at=now, updated_at=now)
    ).rowcount == 1
    session.commit()
    return failed


def cancel_job(session: Session, job_id: int) -> bool:
    """Cancel a queued or running job; False if it had already finished. A running worker
    notices at its next progress write (and the dispatcher may stop it sooner). Commits."""
    now = utcnow()
    cancelled = session.execute(
        update(Job).where(Job.id == job_id, Job.state.in_(ACTIVE_STATES))
        .values(state=JobState.CANCELLED, message="cancelled", active_key=None,
                finished_at=now, updated_at=now)
    ).rowcount == 1
    session.commit()
    return cancelled


def remaining_seconds(fraction: float, elapsed_s: float) -> float | None:
    """Seconds left if the rest of the work goes at the average rate so far; None while too
    little is done to tell. Job progress is a fraction of the planned training steps, so the
    rate is a rate of real work."""
    if not ETA_MIN_PROGRESS <= fraction < 1 or elapsed_s <= 0:
        return None
    return elapsed_s * (1 - fraction) / fraction


def eta_seconds(job: Job, now: datetime | None = None) -> float | None:
    """A running job's expected seconds to finish, from its progress, its start and its last
    progress write (the row keeps no history, so the rate is the average since the start)."""
    if job.state != JobState.RUNNING or job.started_at is None or job.updated_at is None:
        return None
    started, updated = _aware(job.started_at), _aware(job.updated_at)
    left = remaining_seconds(job.progress, (updated - started).total_seconds())
    if left is None:
        return None
    return max(0.0, left - ((now or utcnow()) - updated).total_seconds())


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)  # SQLite
