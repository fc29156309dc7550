"""The Celery configuration, CUDA left alone before the fork, and on real workers: the soft
time limit, and a job whose whole worker died."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from service.config import Settings
from workers.celery_app import celery_config

REPO = Path(__file__).resolve().parents[2]


def submit(database, settings, overrides: dict) -> int:
    """Queue a small_batch_statistics smoke job with `overrides` as the API would."""
    from experiments import catalog
    from service import jobs
    from workers.dispatch import make_dispatcher

    params = catalog.get("small_batch_statistics").resolve("smoke", overrides)
    with database.session() as session:
        job, _ = jobs.find_or_create_job(session, "small_batch_statistics", params, "smoke",
                                         fresh=True, queue=settings.cpu_queue)
        session.commit()
        make_dispatcher(settings).enqueue(job)
        return job.id


def wait_for_row(database, job_id: int, done, timeout: float = 120):
    from service.models import Job

    deadline = time.monotonic() + timeout
    with database.session() as session:
        while True:
            session.expire_all()
            row = session.get(Job, job_id)
            if done(row):
                row.result  # noqa: B018 - load it while the session is open
                session.expunge(row)
                return row
            assert time.monotonic() < deadline, f"job {job_id} stuck: {row.state}"
            time.sleep(0.2)


def test_celery_settings_make_jobs_safe_to_lose_and_retry():
    settings = Settings.from_env(environ={}, overrides={
        "redis_url": "redis://r/0", "soft_time_limit": 100, "hard_time_limit": 120})
    conf = celery_config(settings)
    assert conf["task_acks_late"] and conf["task_reject_on_worker_lost"]
    assert conf["worker_prefetch_multiplier"] == 1
    assert (conf["task_soft_time_limit"], conf["task_time_limit"]) == (100, 120)
    transport = conf["broker_transport_options"]
    assert transport["visibility_timeout"] > conf["task_time_limit"]
    assert transport["unacked_restore_interval"] <= 10  # a dead worker's job is back soon
    assert conf["task_ignore_result"] and conf["task_default_queue"] == "cpu"


def test_no_cuda_call_before_the_worker_forks():
    """Importing the worker's app and tasks (what the main process does before it forks its
    pool) must not ask CUDA anything: a CUDA context made there breaks every forked child."""
    probe = (
        "import torch\n"
        "def touched(*a, **k): raise SystemExit('CUDA was touched before the fork')\n"
        "torch.cuda.is_available = torch.cuda.device_count = torch.cuda.init = touched\n"
        "torch.cuda._lazy_init = touched\n"
        "import workers.celery_app, workers.tasks, workers.dispatch\n"
        "workers.celery_app.app.loader.import_default_modules()\n"
        "assert not torch.cuda.is_initialized()\n"
        "print('clean')\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "clean", done.stderr


@pytest.mark.services
@pytest.mark.slow
def test_the_soft_time_limit_fails_the_job_with_the_reason(postgresql_database, start_worker):
    # The limit must fall inside training, past the pool process's first imports: a limit
    # that lands in matplotlib's import of its 3-D toolkit is caught there as a failed
    # import and lost (seen with 1 s on a fresh checkout). The job trains for tens of
    # seconds if it is not stopped.
    worker = start_worker("limits", soft_time_limit=8, hard_time_limit=120)
    job_id = submit(postgresql_database, worker.settings, {"batch_sizes": [4], "epochs": 30})
    row = wait_for_row(postgresql_database, job_id, lambda r: r.finished)
    assert row.state == "failed", worker.log()
    assert row.error == "time limit: the job ran longer than 8 s and was stopped"
    assert row.result is None and row.attempts == 1


@pytest.mark.services
@pytest.mark.slow
def test_a_job_whose_whole_worker_died_is_run_by_another_worker(postgresql_database,
                                                                start_worker):
    """SIGKILL a worker's main process and its pool together (its machine is lost): its job's
    heartbeat goes stale, the other worker's reconciler queues it again, and that worker
    finishes it as its second attempt. The visibility timeout is an hour, so the broker's own
    redelivery cannot be what saved it."""
    first = start_worker("lost", soft_time_limit=100, hard_time_limit=110,
                         visibility_timeout=3600)
    job_id = submit(postgresql_database, first.settings, {"batch_sizes": [4], "epochs": 2})
    wait_for_row(postgresql_database, job_id, lambda r: r.state == "running" and r.progress > 0)
    os.killpg(first.process.pid, signal.SIGKILL)
    first.process.wait(timeout=10)

    second = start_worker("found", like=first)
    row = wait_for_row(postgresql_database, job_id, lambda r: r.finished, timeout=120)
    assert row.state == "succeeded", second.log()
    assert row.attempts == 2 and row.worker.startswith("found@")
