"""A real Celery worker process for the worker tests, on the real PostgreSQL and Redis.

`celery_worker` starts `celery -A workers.celery_app worker` as a subprocess on queue names of
its own, waits until it is ready, and kills its whole process group at teardown.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[2]
TABLES = ("forum_posts", "figures", "results", "asks", "questions", "jobs", "api_keys")


class WorkerProcess:
    """One `celery worker` (prefork, one process, a fresh child per job) and its log."""

    def __init__(self, settings, log_path: Path, name: str):
        self.settings, self.log_path, self.name = settings, log_path, name
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> WorkerProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BNLAB_")}
        env.update(self.settings.child_environment())
        env["BNLAB_DATA_DIR"] = str(REPO / "data")
        # The smoke models are tiny: one thread runs them several times faster than two
        # threads fighting the test process (and whatever else) for a 2-core machine.
        env["OMP_NUM_THREADS"] = "1"
        command = [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker",
                   "-Q", f"{self.settings.gpu_queue},{self.settings.cpu_queue}",
                   "--concurrency", "1", "--max-tasks-per-child", "1", "--pool", "prefork",
                   "--hostname", f"{self.name}@%h", "--loglevel", "info",
                   "--without-gossip", "--without-mingle"]
        log = self.log_path.open("ab")
        # A session of its own, so teardown can end the worker and its pool children together.
        self.process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the worker exited with {self.process.returncode}:\n"
                                   + self.log())
            if " ready." in self.log():
                return self
            time.sleep(0.2)
        raise RuntimeError("the worker did not get ready in time:\n" + self.log())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def is_child(self, pid: int) -> bool:
        """Whether `pid` is a pool process of this worker (so the tests kill only their own)."""
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        return self.process is not None and parent == self.process.pid

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass


def clean(database) -> None:
    with database.engine.begin() as connection:
        connection.execute(sa.text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))


def worker_settings(postgres_url: str, redis_url: str, token: str, name: str, tmp: Path,
                    **overrides):
    from service.config import Settings

    values = dict(instance=tmp / "instance", database_url=postgres_url, redis_url=redis_url,
                  executor="celery", gpu_queue=f"gpu-{token}-{name}",
                  cpu_queue=f"cpu-{token}-{name}", progress_interval=0.2,
                  # Short recovery timings, so a lost worker's job is back in seconds.
                  heartbeat_interval=0.5, stale_after=3.0, reconcile_interval=1.0,
                  db_retry_limit=60.0, shutdown_grace=20.0)
    values.update(overrides)
    return Settings.from_env(environ={}, overrides=values)


@pytest.fixture(scope="module")
def celery_worker(postgresql_database, postgres_url, redis_url, session_token,
                  tmp_path_factory, request):
    """A running worker with long time limits; the module's tests share it."""
    clean(postgresql_database)
    tmp = tmp_path_factory.mktemp("worker")
    name = request.module.__name__.rsplit(".", 1)[-1].replace("_", "-")
    settings = worker_settings(postgres_url, redis_url, session_token, name, tmp)
    worker = WorkerProcess(settings, tmp / "worker.log", name).start()
    yield worker
    worker.stop()


@pytest.fixture
def start_worker(postgresql_database, postgres_url, redis_url, session_token, tmp_path):
    """start_worker(name, **settings) -> a running worker of this test, on an empty database;
    start_worker(name, like=other) -> another worker on the same queues and database."""
    started: list[WorkerProcess] = []

    def start(name: str, like: WorkerProcess | None = None, **overrides) -> WorkerProcess:
        if like is None:
            clean(postgresql_database)
            settings = worker_settings(postgres_url, redis_url, session_token, name, tmp_path,
                                       **overrides)
        else:
            settings = like.settings
        started.append(WorkerProcess(settings, tmp_path / f"{name}.log", name))
        return started[-1].start()

    yield start
    for worker in started:
        worker.stop()
