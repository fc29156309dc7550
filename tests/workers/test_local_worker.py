"""The embedded local worker: each job in a child process, real experiments at the smoke preset.

A child sees none of this process's monkeypatches, so these tests run real question types
(the cheapest at smoke) and act on the children from outside, as an operator or the kernel
would: a SIGKILL mid-job, a cancel.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from experiments import catalog
from service import jobs
from service.models import Job, JobState
from workers import local

FAST = "dropout_interaction"  # about half a second at smoke
SLOW = "gamma_beta_undo"  # a few seconds at smoke: time to act on it while it runs


@pytest.fixture
def make_worker():
    """LocalWorker(settings), closed after the test so that its reconciler leaves the next
    test's jobs alone."""
    made = []

    def make(settings):
        made.append(local.LocalWorker(settings))
        return made[-1]

    yield make
    for worker in made:
        worker.close()


def queue_job(database, type_id: str, seed_count: int | None = None,
              preset: str = "smoke") -> int:
    overrides = {} if seed_count is None else {"seeds": seed_count}
    params = catalog.get(type_id).resolve(preset, overrides)
    with database.session() as session:
        job, _ = jobs.find_or_create_job(session, type_id, params, preset, fresh=True,
                                         queue="cpu")
        session.commit()
        return job.id


def load(database, job_id: int) -> Job:
    with database.session() as session:
        job = session.get(Job, job_id)
        job.result  # noqa: B018 - load before the session closes
        return job


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def running_child(worker: local.LocalWorker, database, job_id: int):
    """The child process running job `job_id`, once it has claimed the job."""
    def claimed() -> bool:
        child = worker.process_of(job_id)
        return (child is not None and load(database, job_id).state == JobState.RUNNING
                and load(database, job_id).worker.endswith(f" pid {child.pid}"))

    wait_for(claimed, 60, f"job {job_id} to start")
    return worker.process_of(job_id)


def test_each_job_runs_in_a_child_process_of_its_own(database, settings, make_worker):
    worker = make_worker(settings.replace(local_workers=2))
    ids = [queue_job(database, FAST, seeds) for seeds in (2, 3, 4)]
    for job_id in ids:
        worker.submit(job_id)
    wait_for(lambda: all(load(database, i).state == JobState.SUCCEEDED for i in ids), 120,
             "the jobs to succeed")
    done = [load(database, i) for i in ids]
    pids = {job.worker.rsplit(" pid ", 1)[1] for job in done}
    assert str(os.getpid()) not in pids and len(pids) == 3  # one fresh child per job
    assert all(job.attempts == 1 and job.result.data["question_type"] == FAST for job in done)
    wait_for(lambda: worker.state()["running"] == 0, 10, "the children to end")


def test_a_child_killed_mid_job_loses_its_attempt_and_the_job_runs_again(database, settings,
                                                                       make_worker):
    # Heartbeats go stale only after 120 s: within the wait below, only the worker's own
    # notice of the death can send the job again (not the reconciler).
    worker = make_worker(settings.replace(local_workers=1, max_attempts=2, stale_after=120.0))
    job_id = queue_job(database, SLOW)
    worker.submit(job_id)
    first = running_child(worker, database, job_id)
    os.kill(first.pid, signal.SIGKILL)
    wait_for(lambda: load(database, job_id).state == JobState.SUCCEEDED, 60,
             "the second attempt to succeed")
    job = load(database, job_id)
    assert job.attempts == 2 and not job.worker.endswith(f" pid {first.pid}")


def test_a_child_killed_on_its_last_attempt_fails_the_job_and_says_why(database, settings,
                                                                     make_worker):
    worker = make_worker(settings.replace(local_workers=1, max_attempts=1))
    job_id = queue_job(database, SLOW)
    worker.submit(job_id)
    os.kill(running_child(worker, database, job_id).pid, signal.SIGKILL)
    wait_for(lambda: load(database, job_id).state == JobState.FAILED, 30, "the job to fail")
    job = load(database, job_id)
    assert job.attempts == 1
    assert "was lost each time" in job.error and "killed by signal 9" in job.error


def test_a_cancel_stops_the_child_at_once(database, settings, make_worker):
    from workers.dispatch import LocalDispatcher

    # No progress write or heartbeat during the run, where the job would notice its cancel
    # by itself: only the signal can stop it in time.
    worker = make_worker(settings.replace(local_workers=1, progress_interval=60.0,
                                          heartbeat_interval=30.0, stale_after=120.0))
    job_id = queue_job(database, SLOW, preset="quick")  # about 20 s of training
    worker.submit(job_id)
    child = running_child(worker, database, job_id)
    # Its one progress write ("starting") is behind it: from here on it trains unaware.
    wait_for(lambda: load(database, job_id).message == "starting", 30, "the first progress write")
    with database.session() as session:
        assert jobs.cancel_job(session, job_id)
    LocalDispatcher(worker).stop(load(database, job_id))
    wait_for(lambda: worker.process_of(job_id) is None, 3, "the child to stop its cancelled job")
    assert child.exitcode == 0  # it stopped its job and ended normally
    job = load(database, job_id)
    assert (job.state, job.result) == (JobState.CANCELLED, None)


def test_at_exit_the_children_hand_their_jobs_back_unspent(database, settings, make_worker):
    worker = make_worker(settings.replace(local_workers=1))
    running = queue_job(database, SLOW, preset="quick")
    waiting = queue_job(database, FAST)
    worker.submit(running)
    worker.submit(waiting)
    running_child(worker, database, running)
    worker._at_exit(wait_s=10)  # what atexit runs when this process ends
    assert worker.state()["running"] == 0
    job = load(database, running)
    assert (job.state, job.attempts) == (JobState.QUEUED, 0) and "shut down" in job.message
    assert load(database, waiting).state == JobState.QUEUED  # never started
