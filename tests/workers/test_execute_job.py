"""execute_job on both backends, with a stand-in question type that runs in milliseconds.

The real experiments run in the end-to-end tests; here the job's life is what is tested:
claim, progress, result and figures, every way to fail, cancel, and never running twice.
"""

from __future__ import annotations

import struct
import zlib

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.exc import OperationalError

from experiments import catalog
from experiments.errors import ParamError
from experiments.params import Param, Schema
from experiments.result import Figure, Result
from service import jobs
from service.models import Job, JobState
from workers import shutdown
from workers.execute import InfrastructureError, execute_job

TYPE = "small_batch_statistics"
PNG = (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR"
       + struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
       + struct.pack(">I", zlib.crc32(b"IHDR" + struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))))


class StandIn:
    """A question type whose experiment takes 5 steps and does `at_step(i)` at each."""

    def __init__(self, at_step=lambda i: None):
        self.at_step, self.steps = at_step, 0

    def experiment(self, ctx) -> Result:
        for i in range(5):
            ctx.progress(i / 5, f"step {i}")
            self.steps += 1
            self.at_step(i)
        (ctx.out_dir / "curve.png").write_bytes(PNG)
        return Result(TYPE, "Stand-in", "It ran.", "## Stand-in", dict(ctx.params), ctx.preset,
                      [{"arm": "a", "acc": 0.5}], [Figure("curve", "curve.png", "A curve.")],
                      [], {"device": str(ctx.device)})

    def install(self, monkeypatch):
        question = catalog.QuestionType(TYPE, "Stand-in", "?", Schema(
            (Param("seeds", "int", 1, "seeds", 1, 4),)), self.experiment)
        real_get = catalog.get
        monkeypatch.setattr(catalog, "get",
                            lambda type_id: question if type_id == TYPE else real_get(type_id))
        return self


@pytest.fixture
def queued(database):
    def make(seeds: int = 1) -> int:
        with database.session() as session:
            job, _ = jobs.find_or_create_job(session, TYPE, {"seeds": seeds}, "smoke",
                                             fresh=False, queue="cpu")
            session.commit()
            return job.id

    return make


def load(database, job_id) -> Job:
    with database.session() as session:
        job = session.get(Job, job_id)
        job.result, job.figures  # noqa: B018 - load before the session closes
        return job


def test_a_job_runs_once_and_stores_its_result_and_figures(database, settings, queued,
                                                          monkeypatch):
    stand_in = StandIn().install(monkeypatch)
    job_id = queued()
    assert execute_job(job_id, settings=settings, db=database, worker="w1") == "succeeded"
    job = load(database, job_id)
    assert (job.state, job.progress, job.attempts, job.worker) == ("succeeded", 1.0, 1, "w1")
    assert job.device == "cpu" and job.active_key is None and job.finished_at is not None
    assert job.result.data["answer"] == "It ran."
    assert [(f.name, f.caption, f.data, f.content_type) for f in job.figures] == [
        ("curve", "A curve.", PNG, "image/png")]
    # Delivered again (a retry, a duplicate message): nothing runs.
    assert execute_job(job_id, settings=settings, db=database) == "succeeded"
    assert stand_in.steps == 5 and load(database, job_id).attempts == 1


def test_progress_is_written_while_it_runs(database, settings, queued, monkeypatch):
    seen = []
    job_id = queued()

    def look(i):
        seen.append((load(database, job_id).progress, load(database, job_id).message))

    StandIn(look).install(monkeypatch)
    execute_job(job_id, settings=settings, db=database)
    assert seen[2] == (0.4, "step 2")


def raised_while_handling(first: BaseException, second: Exception) -> Exception:
    """`second` as clean-up code raises it while `first` is on its way out."""
    try:
        try:
            raise first
        except BaseException:
            raise second  # noqa: B904 - the implicit context is the point
    except Exception as exc:
        return exc


@pytest.mark.parametrize("error, reason", [
    (ParamError("lr", "above the maximum"), "lr: above the maximum"),
    (RuntimeError("CUDA out of memory"), "RuntimeError: CUDA out of memory"),
    (SoftTimeLimitExceeded(), "time limit: the job ran longer than"),
    (raised_while_handling(SoftTimeLimitExceeded(), RuntimeError("rollback failed")),
     "time limit: the job ran longer than"),
])
def test_a_failing_experiment_fails_the_job_with_the_reason(database, settings, queued,
                                                             monkeypatch, error, reason):
    def fail(i):
        if i == 1:
            raise error

    StandIn(fail).install(monkeypatch)
    job_id = queued()
    assert execute_job(job_id, settings=settings, db=database) == "failed"
    job = load(database, job_id)
    assert job.error.startswith(reason) and job.result is None and job.active_key is None


def test_a_job_cancelled_while_running_stops_and_stores_nothing(database, settings, queued,
                                                                monkeypatch):
    job_id = queued()

    def cancel(i):
        if i == 1:
            with database.session() as session:
                assert jobs.cancel_job(session, job_id)

    stand_in = StandIn(cancel).install(monkeypatch)
    assert execute_job(job_id, settings=settings, db=database) == "cancelled"
    assert stand_in.steps == 2  # stopped at the next progress write
    job = load(database, job_id)
    assert job.result is None and job.figures == []


def test_a_cancelled_job_is_not_started(database, settings, queued, monkeypatch):
    stand_in = StandIn().install(monkeypatch)
    job_id = queued()
    with database.session() as session:
        jobs.cancel_job(session, job_id)
    assert execute_job(job_id, settings=settings, db=database) == "cancelled"
    assert stand_in.steps == 0 and load(database, job_id).attempts == 0


def test_an_unknown_job_is_ignored(database, settings):
    assert execute_job(424242, settings=settings, db=database) == "missing"


def test_a_device_that_is_not_there_fails_the_job(database, settings, queued, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    StandIn().install(monkeypatch)
    job_id = queued()
    state = execute_job(job_id, settings=settings.replace(device="cuda"), db=database)
    assert state == "failed"
    assert "cuda was asked for but no CUDA device is available" in load(database, job_id).error


def test_the_hard_time_limit_fails_the_job(database, settings, queued, monkeypatch):
    """At the hard limit the pool kills the job's process; Celery then calls the task's
    on_failure in the worker's main process, which records why."""
    from celery.exceptions import TimeLimitExceeded

    from service import config
    from workers.tasks import execute_job_task

    monkeypatch.setattr(config, "_current", settings)
    job_id = queued()
    with database.session() as session:
        jobs.claim_job(session, job_id, worker="w", device="cpu", max_attempts=3)
    execute_job_task.on_failure(TimeLimitExceeded(settings.hard_time_limit), "task-id",
                                (job_id,), {}, None)
    job = load(database, job_id)
    assert job.state == "failed"
    assert job.error.startswith(f"time limit: the job ran longer than "
                                f"{settings.hard_time_limit} s and its process was killed")


@pytest.fixture
def pool_signals():
    """The signal handlers of a billiard pool process, put back as they were afterwards."""
    import signal

    from billiard.pool import SIG_SOFT_TIMEOUT, soft_timeout_sighandler

    names = (SIG_SOFT_TIMEOUT, signal.SIGTERM, signal.SIGALRM, shutdown.CANCEL_SIGNAL)
    before = {n: signal.getsignal(n) for n in names}
    signal.signal(SIG_SOFT_TIMEOUT, soft_timeout_sighandler)
    yield SIG_SOFT_TIMEOUT
    for n, handler in before.items():
        signal.signal(n, handler)


def test_a_soft_limit_swallowed_where_it_landed_still_fails_the_job(database, settings, queued,
                                                                     monkeypatch, pool_signals):
    """The limit lands in code that catches every Exception (as SQLAlchemy's pool does while it
    hands a connection back): the job stops at its next progress report, as timed out."""
    import os

    def limit_lands_in_clean_up(i):
        if i == 1:
            try:
                os.kill(os.getpid(), pool_signals)
            except Exception:  # noqa: BLE001, S110 - the clean-up code that loses it
                pass

    stand_in = StandIn(limit_lands_in_clean_up).install(monkeypatch)
    shutdown.install(0.0)
    job_id = queued()
    assert execute_job(job_id, settings=settings, db=database) == "failed"
    job = load(database, job_id)
    assert job.error == f"time limit: the job ran longer than {settings.soft_time_limit} s " \
                        "and was stopped"
    assert stand_in.steps == 2  # stopped at the report after the limit, not run to the end
    # The next job in this process starts with no limit passed.
    shutdown.install(0.0)
    StandIn().install(monkeypatch)
    assert execute_job(queued(seeds=2), settings=settings, db=database) == "succeeded"


# Infrastructure, not the experiment, failing: database errors while claiming, recording or
# failing a job are waited out or handed back, never charged to the job; a worker shutting down
# hands its job back unspent. tests/workers/test_faults.py does the same with real outages.

def outage(monkeypatch, name: str, times: int):
    """jobs.<name> raises a connection error `times` times, then works."""
    real, calls = getattr(jobs, name), {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] <= times:
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("refused"))
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs, name, flaky)
    return calls


@pytest.fixture
def quick_retries(settings):
    return settings.replace(db_retry_limit=5.0)


@pytest.mark.parametrize("step", ["claim_job", "finish_job"])
def test_a_short_outage_is_waited_out_and_the_job_finishes_once(database, quick_retries,
                                                                queued, monkeypatch, step):
    stand_in = StandIn().install(monkeypatch)
    calls = outage(monkeypatch, step, times=2)
    job_id = queued()
    assert execute_job(job_id, settings=quick_retries, db=database) == "succeeded"
    job = load(database, job_id)
    assert calls["n"] == 3 and job.attempts == 1 and stand_in.steps == 5
    assert job.result is not None


def test_a_failure_is_recorded_once_the_database_is_back(database, quick_retries, queued,
                                                         monkeypatch):
    def fail(i):
        raise RuntimeError("boom")

    StandIn(fail).install(monkeypatch)
    outage(monkeypatch, "fail_job", times=2)
    job_id = queued()
    assert execute_job(job_id, settings=quick_retries, db=database) == "failed"
    assert load(database, job_id).error == "RuntimeError: boom"


def test_a_long_outage_while_claiming_spends_nothing(database, quick_retries, queued,
                                                     monkeypatch):
    stand_in = StandIn().install(monkeypatch)
    outage(monkeypatch, "claim_job", times=10**6)
    job_id = queued()
    with pytest.raises(InfrastructureError):
        execute_job(job_id, settings=quick_retries.replace(db_retry_limit=1.0), db=database)
    job = load(database, job_id)
    assert (job.state, job.attempts, stand_in.steps) == (JobState.QUEUED, 0, 0)


def test_a_worker_shutting_down_hands_its_job_back_unspent(database, settings, queued,
                                                          monkeypatch):
    sent = []

    class Recorder:
        def enqueue(self, job):
            sent.append(job.id)

    def grace_over(i):
        if i == 2:
            raise shutdown.ShutdownRequested()

    StandIn(grace_over).install(monkeypatch)
    job_id = queued()
    assert execute_job(job_id, settings=settings, db=database,
                       dispatcher=Recorder()) == "queued"
    job = load(database, job_id)
    assert (job.state, job.attempts, job.result) == (JobState.QUEUED, 0, None)
    assert sent == [job_id] and job.dispatched_at is not None  # sent again at once
    StandIn().install(monkeypatch)
    assert execute_job(job_id, settings=settings, db=database) == "succeeded"
    assert load(database, job_id).attempts == 1


def test_the_local_worker_shares_the_cores_among_running_jobs(settings, monkeypatch):
    from workers import local

    assert [local.intra_op_threads(2, n) for n in (1, 2, 3)] == [2, 1, 1]
    assert local.intra_op_threads(8, 3) == 2
    monkeypatch.setattr(local.os, "cpu_count", lambda: 4)
    # One thread per core whatever the load average says (it trails by a minute).
    monkeypatch.setattr(local.os, "getloadavg", lambda: (9.0, 0.0, 0.0))
    assert local.LocalWorker(settings.replace(local_workers=0)).slots == 4
    assert local.LocalWorker(settings.replace(local_workers=1)).slots == 1  # as configured
