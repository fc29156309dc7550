"""A running job's signs of life: the heartbeat thread and the progress writer.

The heartbeat thread writes the row's `updated_at` every `heartbeat_interval` seconds while the
experiment runs, however long its steps are; the reconciler takes a job whose heartbeat is older
than `stale_after` as lost (workers/reconcile.py). Both writers tolerate a database outage (the
experiment goes on; the job is recorded once the database is back) and both notice when the job
was cancelled or taken over, which stops the experiment at its next progress call.
"""

from __future__ import annotations

import logging
import threading
import time

from service import jobs
from service.db import Database, is_unavailable

from . import shutdown

log = logging.getLogger(__name__)


class Heartbeat:
    """`with Heartbeat(db, claim, interval):` beats on a daemon thread until the block ends."""

    def __init__(self, db: Database, claim: jobs.Claim, interval: float):
        self.db, self.claim, self.interval = db, claim, interval
        self.lost = threading.Event()  # the attempt no longer holds the job
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"bnlab-heartbeat-{claim.job_id}")

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=max(5.0, self.interval))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with self.db.session() as session:
                    alive = jobs.heartbeat(session, self.claim)
            except Exception as exc:  # noqa: BLE001 - a missed beat is retried next interval
                level = logging.WARNING if is_unavailable(exc) else logging.ERROR
                log.log(level, "job %s: heartbeat not written: %s", self.claim.job_id,
                        type(exc).__name__)
                continue
            if not alive:
                self.lost.set()
                return


class ProgressWriter:
    """The experiment's on_progress callback: writes to the job row at most every `interval`
    seconds (a progress bar needs no more), and raises JobLost once the job is cancelled or
    taken over. A write the database refuses for an outage is skipped, not fatal. A soft time
    limit that was swallowed where it landed is raised again here (workers.shutdown)."""

    def __init__(self, db: Database, claim: jobs.Claim, interval: float,
                 heartbeat: Heartbeat | None = None):
        self.db, self.claim, self.interval, self.heartbeat = db, claim, interval, heartbeat
        self.last = 0.0

    def __call__(self, fraction: float, message: str) -> None:
        shutdown.raise_if_past_soft_limit()  # a limit swallowed where it landed comes out here
        if self.heartbeat is not None and self.heartbeat.lost.is_set():
            raise jobs.JobLost(self.claim.job_id)
        now = time.monotonic()
        if now - self.last < self.interval:
            return
        self.last = now
        try:
            with self.db.session() as session:
                jobs.report_progress(session, self.claim, fraction, message)
        except jobs.JobLost:
            raise
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            log.warning("job %s: progress not written (database unavailable)",
                        self.claim.job_id)
