"""A chaos lab: private PostgreSQL and Redis, worker groups, and the job ledger.

`Lab` submits probe jobs the way the API does (commit queued, then send with a bounded broker
timeout; a failed send stays queued for the reconciler), waits for them, and tallies what
happened from the rows and the ledger: finished once, lost, or run to completion twice.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from service import jobs
from service.config import Settings
from service.db import Database
from service.models import FINAL_STATES, Job, JobState, Result

from . import probe
from .instances import PrivatePostgres, PrivateRedis, WorkerGroup, wait_until

# Recovery timings for fault runs: beats every 0.5 s, lost after 3 s, a pass every second.
TIMINGS = dict(heartbeat_interval=0.5, stale_after=3.0, reconcile_interval=1.0,
               broker_timeout=1.0, db_retry_limit=300.0, shutdown_grace=2.0,
               progress_interval=0.2)


@dataclass
class Tally:
    submitted: int = 0
    finished: int = 0  # succeeded with exactly one result row
    lost: int = 0  # not succeeded when the wait ended
    run_twice: int = 0  # the experiment completed more than once
    extra_attempts: int = 0  # attempts counted beyond what the fault should cost

    def add(self, other: Tally) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


class Lab:
    def __init__(self, folder: Path, workers: int = 2, **timings):
        self.folder = Path(folder)
        self.postgres = PrivatePostgres().create()
        self.redis = PrivateRedis(self.folder / "redis").start()
        self.settings = Settings.from_env(environ={}, overrides=dict(
            instance=self.folder / "instance", database_url=self.postgres.url,
            redis_url=self.redis.url, executor="celery", gpu_queue="chaos-gpu",
            cpu_queue="chaos-cpu", **{**TIMINGS, **timings}))
        self.db = Database(self.settings.database_url)
        self.db.upgrade()
        self.ledger = self.folder / "ledger.txt"
        self.ledger.touch()
        from workers.dispatch import make_dispatcher

        self.dispatcher = make_dispatcher(self.settings)
        self.workers = [self.worker(f"w{i}") for i in range(workers)]
        self._tags = itertools.count(1)

    def worker(self, name: str) -> WorkerGroup:
        return WorkerGroup(self.settings, self.folder / f"{name}.log", name,
                           env={probe.LEDGER_ENV: str(self.ledger)})

    def start_workers(self) -> None:
        for worker in self.workers:
            if not worker.alive:
                worker.start()

    def submit(self, count: int, steps: int = 8, step_ms: int = 250) -> list[int]:
        """`count` new probe jobs, each sent as the API sends a new job."""
        from workers.dispatch import send_job

        ids = []
        for _ in range(count):
            params = probe.SCHEMA.resolve("smoke", {"tag": next(self._tags), "steps": steps,
                                                    "step_ms": step_ms})
            with self.db.session() as session:
                job, _ = jobs.find_or_create_job(session, probe.TYPE, params, "smoke",
                                                 fresh=True, queue=self.settings.cpu_queue,
                                                 code_version="chaos")
                session.commit()
                send_job(session, self.dispatcher, job)
                ids.append(job.id)
        return ids

    def jobs(self, ids: list[int]) -> list[Job]:
        with self.db.session() as session:
            return list(session.scalars(select(Job).where(Job.id.in_(ids)).order_by(Job.id)))

    def wait_running(self, job_id: int, timeout: float = 60) -> Job:
        """The job once a worker has it running and past its first step."""
        def running():
            (job,) = self.jobs([job_id])
            return job if job.state == JobState.RUNNING and job.progress > 0 else None

        return wait_until(running, timeout, f"job {job_id} running", 0.05)

    def wait_finished(self, ids: list[int], timeout: float) -> float | None:
        """Seconds until every job ended, or None if some had not by `timeout`."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            try:
                if all(job.state in FINAL_STATES for job in self.jobs(ids)):
                    return time.monotonic() - started
            except Exception:  # noqa: BLE001 - the database may be the fault
                pass
            time.sleep(0.1)
        return None

    def tally(self, ids: list[int], expected_attempts: dict[int, int] | None = None) -> Tally:
        expected_attempts = expected_attempts or {}
        completions = Counter(self.ledger.read_text().split())
        with self.db.session() as session:
            results = dict(session.execute(select(Result.job_id, func.count())
                                           .where(Result.job_id.in_(ids))
                                           .group_by(Result.job_id)).all())
        out = Tally(submitted=len(ids))
        for job in self.jobs(ids):
            if job.state == JobState.SUCCEEDED and results.get(job.id) == 1:
                out.finished += 1
            else:
                out.lost += 1
            if completions[str(job.params["tag"])] > 1:
                out.run_twice += 1
            out.extra_attempts += max(0, job.attempts - expected_attempts.get(job.id, 1))
        return out

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.db.dispose()
        self.redis.destroy()
        self.postgres.destroy()
