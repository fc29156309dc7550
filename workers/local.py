"""The embedded worker: runs jobs on background threads of this process.

Used when no Redis is configured (`bnlab serve`, `bnlab ask` out of the box). Jobs go through
the same `execute_job` as on Celery workers. Threads cannot be killed, so there are no time
limits here and a cancelled job stops at its next progress write.

The asks of one post overlap: one thread per core (unless `local_workers` says how many), and while
several jobs run each gets an equal share of the cores as torch intra-op threads (these small
models gain more from running side by side than from splitting one step over threads). The
share follows the count of running jobs (experiments.threads.set_budget): the last job of a
post takes the cores the others freed at its next step, if timing says they help. The
count does not follow the machine's load: the load average trails by a minute, so just after
an install or another run it reads a free machine as busy (the seed post's asks were measured
running one after another at a load of 1.6 on 2 idle cores), and jobs sharing a busy core one
intra-op thread each cost no more in total than jobs waiting in line.
"""

from __future__ import annotations

import logging
import os
import queue
import threading

from service.config import Settings

from .execute import database_for, execute_job, worker_name

log = logging.getLogger(__name__)


class LocalWorker:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._queue: queue.Queue[int] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._reconciler = None
        self._running = 0
        self.slots = settings.local_workers or os.cpu_count() or 1

    def submit(self, job_id: int) -> None:
        self._start()
        self._queue.put(job_id)

    def resume(self) -> int:
        """Queue the jobs a previous run of this process left queued; returns how many."""
        from sqlalchemy import select

        from service.models import Job, JobState

        with database_for(self.settings).session() as session:
            ids = session.scalars(select(Job.id).where(Job.state == JobState.QUEUED)
                                  .order_by(Job.id)).all()
        for job_id in ids:
            self.submit(job_id)
        return len(ids)

    def state(self) -> dict:
        """What the dashboard's health page shows: threads alive and jobs waiting for one."""
        with self._lock:
            alive = sum(thread.is_alive() for thread in self._threads)
        return {"threads": self.slots, "alive": alive,
                "waiting": self._queue.qsize()}

    def _start(self) -> None:
        with self._lock:
            if self._reconciler is None:
                # Jobs left running by a previous run of this process are queued again once
                # their heartbeat is stale (workers/reconcile.py).
                from .dispatch import LocalDispatcher
                from .reconcile import Reconciler

                self._reconciler = Reconciler(self.settings, LocalDispatcher(self),
                                              db=database_for(self.settings)).start()
            # Runs on these threads share the cores: each run's experiment takes its share as
            # intra-op threads (catalog.cpu_threads), and the share grows as others finish.
            # (Imported here: torch loads with the first job, not with the web app.)
            from experiments import threads

            threads.set_budget(self.thread_share)
            while len(self._threads) < self.slots:
                thread = threading.Thread(target=self._run, daemon=True,
                                          name=f"bnlab-local-{len(self._threads) + 1}")
                thread.start()
                self._threads.append(thread)

    def thread_share(self) -> int:
        """Intra-op threads for each running job now."""
        return intra_op_threads(os.cpu_count() or 1, self._running)

    def _run(self) -> None:
        while True:
            job_id = self._queue.get()
            with self._lock:
                self._running += 1
            try:
                execute_job(job_id, settings=self.settings, worker=worker_name("local"))
            except Exception:  # noqa: BLE001 - one broken job must not stop the worker
                log.exception("local worker: job %s", job_id)
            finally:
                with self._lock:
                    self._running -= 1
                self._queue.task_done()


def intra_op_threads(cores: int, running: int) -> int:
    """An equal share of the cores for each of `running` jobs, at least 1 thread."""
    return max(1, cores // max(1, running))
