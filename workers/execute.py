"""`execute_job(job_id)`: the one function that runs a job, whatever started it.

Id in, claim the row, run the question type's experiment, store result and figures, report
progress on the way (and a heartbeat beside it). The Celery task, the embedded local worker and the
tests all call this, so there is one code path to test. An experiment's error ends the job
`failed` with a readable reason; a lost claim (cancelled, or taken over by a newer attempt) ends
it silently; a database outage is infrastructure, not the job's fault: it is waited out, and
past a limit raised as InfrastructureError without spending an attempt.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded

from experiments import catalog
from experiments.errors import ExperimentError
from service import jobs
from service.config import Settings, get_settings
from service.db import Database, is_unavailable
from service.models import Job

from . import shutdown
from .heartbeat import Heartbeat, ProgressWriter

log = logging.getLogger(__name__)

_databases: dict[str, Database] = {}
_databases_lock = threading.Lock()


def database_for(settings: Settings) -> Database:
    """One Database (engine and pool) per URL per process."""
    with _databases_lock:
        if settings.database_url not in _databases:
            _databases[settings.database_url] = Database(settings.database_url)
        return _databases[settings.database_url]


def worker_name(label: str = "worker", pid: int | None = None) -> str:
    """Who is running a job, as stored on its row: label@host pid N [thread]; a label that
    names its host already (a Celery node name) is kept as it is. With `pid`, the name that
    process gives itself from its main thread (how the embedded worker finds its children's
    rows)."""
    node = label if "@" in label else f"{label}@{socket.gethostname()}"
    name = f"{node} pid {os.getpid() if pid is None else pid}"
    thread = threading.current_thread()
    if pid is None and thread is not threading.main_thread():
        name += f" {thread.name}"
    return name


class InfrastructureError(Exception):
    """The database stayed unreachable past settings.db_retry_limit: the job could not be
    claimed or recorded. The caller hands the message back; no attempt was spent."""


def with_database(settings: Settings, what: str, action):
    """`action()`, retried with backoff (0.5 s doubling to 10 s) while the database is
    unavailable, for at most settings.db_retry_limit seconds; then InfrastructureError."""
    deadline = time.monotonic() + settings.db_retry_limit
    delay = 0.5
    while True:
        try:
            return action()
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            if time.monotonic() + delay > deadline:
                raise InfrastructureError(f"{what}: the database stayed unavailable") from exc
            log.warning("%s: database unavailable (%s); retrying in %.1f s", what,
                        type(exc).__name__, delay)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)


def execute_job(job_id: int, *, settings: Settings | None = None, db: Database | None = None,
                worker: str | None = None, dispatcher=None) -> str:
    """Run job `job_id` if it is there to be run; returns the job's state afterwards.

    Safe to call again for the same job (a broker redelivery, a second local thread): the claim
    is atomic, a finished, cancelled or still-heartbeating job is left alone, and only the
    attempt that holds the claim can store a result. Database outages while claiming or
    recording are waited out (`with_database`); past the limit InfrastructureError is raised
    and nothing was spent. A worker shutting down hands the job back and, with `dispatcher`,
    sends it again at once.
    """
    settings = settings or get_settings()
    db = db or database_for(settings)
    # Choosing the device is the first CUDA call; it happens here, in the process that runs the
    # job (a forked pool child under Celery), never in a parent that forks afterwards.
    try:
        device, device_error = catalog.pick_device(settings.device), None
    except ExperimentError as exc:
        device, device_error = None, str(exc)

    def claim_it():
        with db.session() as session:
            return jobs.claim_job(session, job_id, worker=worker or worker_name(),
                                  device=describe(device), max_attempts=settings.max_attempts,
                                  stale_after=settings.stale_after)

    claim = with_database(settings, f"job {job_id}: claim", claim_it)
    if claim is None:
        return with_database(settings, f"job {job_id}: state", lambda: state_of(db, job_id))
    log.info("job %s: %s/%s attempt %s on %s", job_id, claim.type, claim.preset, claim.attempt,
             describe(device))
    reason = device_error if device_error is not None else run_and_store(
        db, settings, claim, device, dispatcher)
    if reason is not None:
        def fail_it():
            with db.session() as session:
                jobs.fail_job(session, job_id, reason, attempt=claim.attempt)

        with_database(settings, f"job {job_id}: fail", fail_it)
    return with_database(settings, f"job {job_id}: state", lambda: state_of(db, job_id))


def run_and_store(db: Database, settings: Settings, claim: jobs.Claim, device,
                  dispatcher) -> str | None:
    """Run the claimed job and store its result; returns why it failed, or None."""
    job_id = claim.job_id
    try:
        with Heartbeat(db, claim, settings.heartbeat_interval) as beat, shutdown.running_job():
            result, figures = run_experiment(claim, device, ProgressWriter(
                db, claim, settings.progress_interval, beat))
    except (jobs.JobLost, shutdown.CancelRequested):
        log.info("job %s: cancelled or taken over; attempt %s stops", job_id, claim.attempt)
        return None
    except shutdown.ShutdownRequested:
        hand_back(db, settings, claim, dispatcher)
        return None
    except SoftTimeLimitExceeded:
        return time_limit_reason(settings)
    except ExperimentError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - the reason is stored; the traceback logged
        if stopped_by_the_time_limit(exc):
            return time_limit_reason(settings)
        if is_unavailable(exc):
            raise InfrastructureError(f"job {job_id}: the database failed mid-run") from exc
        log.exception("job %s failed", job_id)
        return f"{type(exc).__name__}: {exc}"

    def store():
        with db.session() as session:
            return jobs.finish_job(session, claim, result, figures,
                                   device=result.get("provenance", {}).get("device"))

    if not with_database(settings, f"job {job_id}: store result", store):
        log.info("job %s: finished after losing its claim; result dropped", job_id)
    return None


def time_limit_reason(settings: Settings) -> str:
    return f"time limit: the job ran longer than {settings.soft_time_limit} s and was stopped"


def stopped_by_the_time_limit(exc: BaseException) -> bool:
    """Whether the soft time limit is what set `exc` off: the limit's exception can land in
    clean-up code (a library's, a connection's) whose own error is then what comes out,
    with the limit as its cause or context."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, SoftTimeLimitExceeded):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def hand_back(db: Database, settings: Settings, claim: jobs.Claim, dispatcher) -> None:
    """The worker is shutting down: the job goes back to the queue, its attempt unspent."""
    from .dispatch import send_job

    def release() -> bool:
        with db.session() as session:
            if not jobs.release_job(session, claim, "queued again: its worker shut down"):
                return False  # cancelled or taken over meanwhile: nothing to hand back
            if dispatcher is not None:
                send_job(session, dispatcher, session.get(Job, claim.job_id))
            return True

    if with_database(settings, f"job {claim.job_id}: hand back", release):
        log.warning("job %s: handed back to the queue at shutdown", claim.job_id)


def run_experiment(claim: jobs.Claim, device, on_progress
                   ) -> tuple[dict, list[tuple[str, str, bytes]]]:
    """The experiment in a scratch folder: (result JSON, [(name, caption, PNG bytes)])."""
    question_type = catalog.get(claim.type)
    on_progress(0.0, "starting")
    with tempfile.TemporaryDirectory(prefix=f"bnlab-job-{claim.job_id}-") as tmp:
        result = question_type.run(claim.params, claim.preset, tmp, device=device,
                                   on_progress=on_progress)
        figures = [(f.name, f.caption, (Path(tmp) / f.file).read_bytes())
                   for f in result.figures]
    return result.to_json(), figures


def describe(device) -> str | None:
    if device is None:
        return None
    if device.type == "cuda":
        import torch

        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


def state_of(db: Database, job_id: int) -> str:
    with db.session() as session:
        job = session.get(Job, job_id)
        return job.state if job is not None else "missing"
