"""The embedded worker: runs each job in a child process of this one, started by a thread here.

Used when no Redis is configured (`bnlab serve`, `bnlab ask` out of the box). Jobs go through
the same `execute_job` as on Celery workers, in the child. A process, not a thread, because a
training step at MNIST-1D scale is mostly Python and per-op dispatch, which holds the GIL: on
threads of one process the seed post's three asks took longer than one after another (130 s
against 95 s on 2 cores); in processes they take 90-103 s, most of it the longest ask's own
66 s.

The asks of one post overlap: one slot per core (unless `local_workers` says how many), and
while several jobs run each gets an equal share of the cores as torch intra-op threads (these
small models gain more from running side by side than from splitting one step over threads).
The share follows the count of running jobs, which the children read from shared memory
(experiments.threads.set_budget): the last job of a post takes the cores the others freed at
its next step, if timing says they help. The count does not follow the machine's load: the
load average trails by a minute, so just after an install or another run it reads a free
machine as busy, and jobs sharing a busy core one intra-op thread each cost no more in total
than jobs waiting in line.

A child handles signals as a Celery pool process does (workers.shutdown): a cancel stops its
job at once, and at exit the children are sent SIGTERM and hand their jobs back unspent. A
child that dies mid-job (killed, out of memory) loses that attempt, as a lost Celery worker
does: the job is queued again here, or failed once out of attempts.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import queue
import signal
import threading
import time
from multiprocessing.process import BaseProcess

from service.config import Settings

from .execute import database_for, execute_job, with_database, worker_name

log = logging.getLogger(__name__)

# Children fork from a server process that has imported torch and the experiments but runs
# nothing (so it holds no thread pools or locks a fork could copy half-taken): a child starts
# in milliseconds, not the seconds a fresh interpreter needs to import torch. Forking this
# process instead would not be safe, since it runs torch's thread pools and a web server's
# threads. Where there is no fork (Windows), a fresh interpreter per child.
if "forkserver" in multiprocessing.get_all_start_methods():
    _CONTEXT = multiprocessing.get_context("forkserver")
    _CONTEXT.set_forkserver_preload(["workers.execute"])
else:
    _CONTEXT = multiprocessing.get_context("spawn")


class LocalWorker:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._queue: queue.Queue[int] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._reconciler = None
        self._running = _CONTEXT.Value("i", 0)  # jobs running now, read by every child
        self._children: dict[int, BaseProcess] = {}  # job id -> the process running it
        self._exiting = False
        self.slots = settings.local_workers or os.cpu_count() or 1

    def submit(self, job_id: int) -> None:
        self._start()
        self._queue.put(job_id)

    def stop(self, job_id: int) -> None:
        """Stop the running job `job_id` now (its row is already cancelled)."""
        from .shutdown import CANCEL_SIGNAL

        # Only the slot thread waits on its child: a second reader of the exit status (as
        # is_alive() would be) can take it from that thread.
        child = self.process_of(job_id)
        if child is not None and child.pid is not None:
            try:
                os.kill(child.pid, CANCEL_SIGNAL)
            except ProcessLookupError:
                pass  # it ended meanwhile

    def close(self) -> None:
        """Stop the reconciler; running children finish their jobs (or, at this process's exit,
        hand them back)."""
        with self._lock:
            reconciler, self._reconciler = self._reconciler, None
        if reconciler is not None:
            reconciler.stop()

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
        """What the dashboard's health page shows: slots alive and jobs waiting for one."""
        with self._lock:
            alive = sum(thread.is_alive() for thread in self._threads)
            running = len(self._children)
        return {"threads": self.slots, "alive": alive, "running": running,
                "waiting": self._queue.qsize()}

    def process_of(self, job_id: int) -> BaseProcess | None:
        """The child process running job `job_id` now, if any."""
        with self._lock:
            return self._children.get(job_id)

    def _start(self) -> None:
        with self._lock:
            if not self._threads:
                # Before multiprocessing's own exit hook (atexit runs the last registered
                # first), which would race the slot threads for their children's exit status.
                atexit.register(self._at_exit)
            if self._reconciler is None:
                # Jobs left running by a previous run of this process are queued again once
                # their heartbeat is stale (workers/reconcile.py).
                from .dispatch import LocalDispatcher
                from .reconcile import Reconciler

                self._reconciler = Reconciler(self.settings, LocalDispatcher(self),
                                              db=database_for(self.settings)).start()
            while len(self._threads) < self.slots:
                thread = threading.Thread(target=self._run, daemon=True,
                                          name=f"bnlab-local-{len(self._threads) + 1}")
                thread.start()
                self._threads.append(thread)

    def _run(self) -> None:
        while True:
            job_id = self._queue.get()
            if self._exiting:
                continue  # stays queued in the database; the next start resumes it
            try:
                self._run_child(job_id)
            except Exception:  # noqa: BLE001 - one broken job must not stop the worker
                log.exception("local worker: job %s", job_id)
            finally:
                self._queue.task_done()

    def _run_child(self, job_id: int) -> None:
        # Daemonic, so that nothing outlives this process unasked; at a normal exit _at_exit
        # has already sent each child SIGTERM and the child handed its job back.
        child = _CONTEXT.Process(
            target=run_job, args=(job_id, self.settings, self._running, os.cpu_count() or 1),
            name=f"bnlab-job-{job_id}", daemon=True)
        with self._lock:  # started under the lock, so _at_exit never misses a child
            if self._exiting:
                return
            child.start()
            self._children[job_id] = child
            self._running.value += 1
        try:
            child.join()
        finally:
            with self._lock:
                self._running.value -= 1
                self._children.pop(job_id, None)
        if child.exitcode != 0 and not self._exiting:
            self._lost(job_id, child)

    def _at_exit(self, wait_s: float = 30.0) -> None:
        """This process is exiting (Ctrl-C, the end of `bnlab ask`): start no more children,
        ask the running ones to hand their jobs back (SIGTERM, workers.shutdown) and give the
        slot threads, their only waiters, time to see them end."""
        with self._lock:
            self._exiting = True
            children = list(self._children.values())
        for child in children:
            if child.pid is not None:
                try:
                    os.kill(child.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + wait_s
        while self.state()["running"] and time.monotonic() < deadline:
            time.sleep(0.05)

    def _lost(self, job_id: int, child: BaseProcess) -> None:
        """The child ended without finishing its job's attempt: queue the job again or fail it,
        if the attempt that child made still holds it."""
        from service import jobs

        code = child.exitcode
        why = (f"killed by signal {-code}" if code is not None and code < 0
               else f"exit code {code}")
        log.warning("local worker: the process running job %s ended (%s)", job_id, why)

        def requeue() -> bool:
            with database_for(self.settings).session() as session:
                return jobs.requeue_lost(session, job_id, worker_name("local", child.pid),
                                         self.settings.max_attempts,
                                         f"the process running the job ended ({why})")

        if with_database(self.settings, f"job {job_id}: requeue", requeue):
            self._queue.put(job_id)


def run_job(job_id: int, settings: Settings, running, cores: int) -> None:
    """A child's whole life: one job, then exit."""
    from experiments import threads

    from . import shutdown

    # Ctrl-C reaches the whole process group; the parent decides, and at its exit it sends
    # SIGTERM.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # No grace: SIGTERM comes from the parent's exit (Ctrl-C on `bnlab ask` or `bnlab serve`),
    # which should not wait for a training run; the job is handed back unspent and the next
    # start resumes it.
    shutdown.install(0.0)
    threads.set_budget(lambda: intra_op_threads(cores, running.value))
    execute_job(job_id, settings=settings, worker=worker_name("local"))


def intra_op_threads(cores: int, running: int) -> int:
    """An equal share of the cores for each of `running` jobs, at least 1 thread."""
    return max(1, cores // max(1, running))
