"""The Health page in the distributed shape: real PostgreSQL, Redis and a Celery worker.

A job queued with no worker up shows as a waiting message in its Redis queue and as the
oldest queued job; once a worker starts it is listed with its queues and the job it runs.
"""

from __future__ import annotations

import re
import time
from dataclasses import fields

import pytest

from tests.workers.conftest import WorkerProcess

from .conftest import Browserless


@pytest.fixture
def celery_app(settings):
    from service.app import create_app

    app = create_app({f.name: getattr(settings, f.name) for f in fields(settings)})
    yield app
    app.extensions["bnlab.db"].dispose()


def queue_length(html: str, queue: str) -> str:
    match = re.search(rf'data-queue="{re.escape(queue)}">([^<]*)<', html)
    assert match, html
    return match.group(1)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql"])
def test_health_shows_queues_workers_and_what_they_run(celery_app, admin, settings, tmp_path):
    from service.api.questions import DISPATCHER
    from service.db import get_session
    from service.questions import submit_question

    with celery_app.app_context():
        submission = submit_question(
            get_session(), "With small batches, why not use the running averages in training?",
            preset="smoke", source="api", settings=settings,
            dispatcher=celery_app.extensions[DISPATCHER])
        job_id = submission.new_jobs[0].id
    user = Browserless(celery_app)
    assert user.sign_in().status_code == 302

    page = user.get("/admin/health").text
    assert 'id="check-redis">ok<' in page and 'id="check-database">ok<' in page
    assert queue_length(page, settings.cpu_queue) == "1"
    assert queue_length(page, settings.gpu_queue) == "0"
    assert 'id="no-workers"' in page
    assert re.search(rf'id="oldest"><a href="/admin/jobs/{job_id}">job {job_id}</a>', page)

    worker = WorkerProcess(settings, tmp_path / "worker.log", "health").start()
    try:
        seen_running, deadline = False, time.monotonic() + 300
        while time.monotonic() < deadline:
            page = user.get("/admin/health").text
            listed = re.search(r'<table class="params" id="workers">.*?</table>', page, re.S)
            if listed and f"job {job_id}</a>" in listed.group(0):
                seen_running = True
            state = user.get(f"/admin/jobs/{job_id}/status.json").json["state"]
            if state not in ("queued", "running"):
                break
            time.sleep(0.3)
        assert state == "succeeded", worker.log()[-3000:]
    finally:
        worker.stop()
    assert seen_running, "the worker was never listed running the job"
    assert listed and "health@" in listed.group(0) and settings.cpu_queue in listed.group(0)
    assert queue_length(page, settings.cpu_queue) == "0"


def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_health_answers_while_redis_is_down(settings, admin):
    from service.app import create_app

    down = settings.replace(redis_url=f"redis://127.0.0.1:{closed_port()}/0", executor="celery")
    app = create_app({f.name: getattr(down, f.name) for f in fields(down)})
    user = Browserless(app)
    assert user.sign_in().status_code == 302  # the sign-in limit fails open without Redis
    started = time.monotonic()
    page = user.get("/admin/health").text
    assert time.monotonic() - started < 30
    assert 'id="overall">trouble<' in page and 'id="check-database">ok<' in page
    assert re.search(r'id="check-redis">[A-Za-z]*ConnectionError', page), page
    assert queue_length(page, down.cpu_queue) == "unknown"
    assert "Redis is unreachable, so the workers cannot be asked" in page
    app.extensions["bnlab.db"].dispose()
