"""The faults, one round each: inject it while jobs run and wait, then count what survived.

Every round submits a few probe jobs (one running when the fault strikes, the others queued),
injects the fault, repairs it, and waits for every job to end. It returns the Tally and the
recovery time: seconds from the repair (for a worker loss: the kill, or the end of the stopped
worker) until every job of the round had ended; a replacement worker starts meanwhile. A fault
run's guarantees: every job finishes exactly once (one result row, the experiment completed
once), and only a lost worker costs an attempt.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable

from .lab import Lab, Tally

WAIT_S = 180  # a round that has not ended by then counts its unfinished jobs as lost


def _end(lab: Lab, ids: list[int], since: float, expected: dict[int, int] | None = None
         ) -> tuple[Tally, float | None]:
    waited = lab.wait_finished(ids, WAIT_S)
    recovery = None if waited is None else time.monotonic() - since
    return lab.tally(ids, expected), recovery


def _replace(lab: Lab, index: int) -> threading.Thread:
    """Start a new worker in place of worker `index`, in the background: recovery must not
    wait for it, since the other worker's reconciler and queue carry on meanwhile."""
    lab.workers[index] = lab.worker(lab.workers[index].name)
    starter = threading.Thread(target=lab.workers[index].start, daemon=True)
    starter.start()
    return starter


def _holder(lab: Lab, job) -> int:
    """Index of the worker group running `job` (its row names the worker's node)."""
    for i, worker in enumerate(lab.workers):
        if job.worker and job.worker.startswith(worker.name + "@"):
            return i
    raise LookupError(f"no worker of this lab runs job {job.id} ({job.worker})")


def worker_kill(lab: Lab) -> tuple[Tally, float | None]:
    """SIGKILL the whole process group of the worker running a job; a new worker starts."""
    lab.start_workers()
    ids = lab.submit(3)
    job = lab.wait_running(ids[0])
    index = _holder(lab, job)
    killed_at = time.monotonic()
    lab.workers[index].signal_group(signal.SIGKILL)
    lab.workers[index].wait(10)
    starter = _replace(lab, index)
    outcome = _end(lab, ids, killed_at, expected={job.id: 2})  # the killed start is spent
    starter.join()
    return outcome


def worker_sigterm(lab: Lab, group: bool = True) -> tuple[Tally, float | None]:
    """SIGTERM to the group of the worker running a job (systemd's way), or with `group` false
    to its main process only (`docker stop`): the job gets the grace period, then goes back to
    the queue without spending an attempt."""
    lab.start_workers()
    ids = lab.submit(3, steps=40)  # longer than the grace period, so it is handed back
    job = lab.wait_running(ids[0])
    index = _holder(lab, job)
    if group:
        lab.workers[index].signal_group(signal.SIGTERM)
    else:
        lab.workers[index].process.send_signal(signal.SIGTERM)
    if not lab.workers[index].wait(lab.settings.shutdown_grace + 30):
        raise RuntimeError("the worker did not shut down after its grace period")
    stopped_at = time.monotonic()
    starter = _replace(lab, index)
    outcome = _end(lab, ids, stopped_at)
    starter.join()
    return outcome


def database_outage(lab: Lab, seconds: float = 8.0) -> tuple[Tally, float | None]:
    """PostgreSQL stops at once (backends terminated, connections refused) while a job runs
    and others wait, for longer than the stale-heartbeat limit; then it comes back."""
    lab.start_workers()
    ids = lab.submit(4)
    lab.wait_running(ids[0])
    lab.postgres.stop()
    time.sleep(seconds)
    lab.postgres.start()
    return _end(lab, ids, time.monotonic())


def redis_kill(lab: Lab, seconds: float = 3.0) -> tuple[Tally, float | None]:
    """Redis is killed while a job runs and others wait in it, and restarts empty: every
    message it held is gone, and the rows are all that is left."""
    lab.start_workers()
    ids = lab.submit(4)
    lab.wait_running(ids[0])
    lab.redis.kill()
    time.sleep(seconds)
    lab.redis.start()
    return _end(lab, ids, time.monotonic())


def redis_pause(lab: Lab, seconds: float = 6.0) -> tuple[Tally, float | None]:
    """Redis hangs (CLIENT PAUSE) while a job runs, and new jobs are submitted meanwhile:
    their sends time out and they stay queued for the reconciler."""
    lab.start_workers()
    ids = lab.submit(2)
    lab.wait_running(ids[0])
    lab.redis.pause(seconds)
    paused_at = time.monotonic()
    ids += lab.submit(2)  # during the pause: each send gives up after the broker timeout
    time.sleep(max(0.0, seconds - (time.monotonic() - paused_at)))
    return _end(lab, ids, time.monotonic())


FAULTS: dict[str, Callable[[Lab], tuple[Tally, float | None]]] = {
    "worker_kill": worker_kill,
    "worker_sigterm": worker_sigterm,
    "worker_sigterm_main": lambda lab: worker_sigterm(lab, group=False),
    "database_outage": database_outage,
    "redis_kill": redis_kill,
    "redis_pause": redis_pause,
}
