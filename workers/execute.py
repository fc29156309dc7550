"""`execute_job(job_id)`: the one function that runs a job, whatever started it.

Id in, claim the row, run the question type's experiment, store result and figures, report
progress on the way. The Celery task, the embedded local worker and the tests all call this, so
there is one code path to test. Every error ends the job `failed` with a readable reason; only a
lost claim (cancelled, or taken over by a newer attempt) ends it silently.
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
from service.db import Database
from service.models import Job

log = logging.getLogger(__name__)

_databases: dict[str, Database] = {}
_databases_lock = threading.Lock()


def database_for(settings: Settings) -> Database:
    """One Database (engine and pool) per URL per process."""
    with _databases_lock:
        if settings.database_url not in _databases:
            _databases[settings.database_url] = Database(settings.database_url)
        return _databases[settings.database_url]


def worker_name(label: str = "worker") -> str:
    """Who is running a job, as stored on its row: label@host pid N [thread]; a label that
    names its host already (a Celery node name) is kept as it is."""
    node = label if "@" in label else f"{label}@{socket.gethostname()}"
    name = f"{node} pid {os.getpid()}"
    thread = threading.current_thread()
    if thread is not threading.main_thread():
        name += f" {thread.name}"
    return name


class ProgressWriter:
    """The experiment's on_progress callback: writes to the job row at most every `interval`
    seconds (a progress bar needs no more), and raises JobLost once the job is cancelled."""

    def __init__(self, db: Database, claim: jobs.Claim, interval: float):
        self.db, self.claim, self.interval = db, claim, interval
        self.last = 0.0

    def __call__(self, fraction: float, message: str) -> None:
        now = time.monotonic()
        if now - self.last < self.interval:
            return
        self.last = now
        with self.db.session() as session:
            jobs.report_progress(session, self.claim, fraction, message)


def execute_job(job_id: int, *, settings: Settings | None = None, db: Database | None = None,
                worker: str | None = None) -> str:
    """Run job `job_id` if it is there to be run; returns the job's state afterwards.

    Safe to call again for the same job (a broker redelivery, a second local thread): the claim
    is atomic, a finished or cancelled job is left alone, and only the attempt that holds the
    claim can store a result.
    """
    settings = settings or get_settings()
    db = db or database_for(settings)
    # Choosing the device is the first CUDA call; it happens here, in the process that runs the
    # job (a forked pool child under Celery), never in a parent that forks afterwards.
    try:
        device, device_error = catalog.pick_device(settings.device), None
    except ExperimentError as exc:
        device, device_error = None, str(exc)
    with db.session() as session:
        claim = jobs.claim_job(session, job_id, worker=worker or worker_name(),
                               device=describe(device), max_attempts=settings.max_attempts)
    if claim is None:
        return state_of(db, job_id)
    log.info("job %s: %s/%s attempt %s on %s", job_id, claim.type, claim.preset, claim.attempt,
             describe(device))

    reason = device_error
    if reason is None:
        try:
            result, figures = run_experiment(claim, device, ProgressWriter(
                db, claim, settings.progress_interval))
        except jobs.JobLost:
            log.info("job %s: cancelled or taken over; attempt %s stops", job_id, claim.attempt)
            return state_of(db, job_id)
        except SoftTimeLimitExceeded:
            reason = (f"time limit: the job ran longer than {settings.soft_time_limit} s "
                      "and was stopped")
        except ExperimentError as exc:
            reason = str(exc)
        except Exception as exc:  # noqa: BLE001 - the reason is stored; the traceback logged
            log.exception("job %s failed", job_id)
            reason = f"{type(exc).__name__}: {exc}"
        else:
            with db.session() as session:
                stored = jobs.finish_job(session, claim, result, figures,
                                         device=result.get("provenance", {}).get("device"))
            if not stored:
                log.info("job %s: finished after losing its claim; result dropped", job_id)
            return state_of(db, job_id)
    with db.session() as session:
        jobs.fail_job(session, job_id, reason, attempt=claim.attempt)
    return state_of(db, job_id)


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
