"""End to end on the real parts: the API (in this process), PostgreSQL, Redis, and a Celery
worker process started by the fixture. The seed post goes in; answers, PNGs and CSV come out.
"""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import time
from dataclasses import fields

import pytest
from PIL import Image

pytestmark = [pytest.mark.services, pytest.mark.slow]

JOB_TIMEOUT_S = 180


@pytest.fixture(scope="module")
def api(celery_worker, postgresql_database):
    """A test client of the web app that enqueues to the fixture's worker, and its key."""
    from service.app import create_app
    from service.auth import create_key

    settings = celery_worker.settings
    app = create_app({f.name: getattr(settings, f.name) for f in fields(settings)})
    with postgresql_database.session() as session:
        _, key = create_key(session, "e2e")
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    yield client
    app.extensions["bnlab.db"].dispose()


def wait_for_job(api, job_id: int, done=lambda job: job["status"] in (
        "succeeded", "failed", "cancelled"), timeout: float = JOB_TIMEOUT_S) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = api.get(f"/api/v1/jobs/{job_id}").get_json()
        if done(job):
            return job
        assert time.monotonic() < deadline, f"job {job_id} stuck: {job}"
        time.sleep(0.2)


def ask_jobs(body: dict) -> dict[str, dict]:
    return {ask["type"]: ask["job"] for ask in body["asks"] if ask["job"] is not None}


def test_forum_post_is_answered_by_the_worker(api, celery_worker, forum_post,
                                              ready_seed_types):
    from service.api.schemas import JOB, QUESTION

    response = api.post("/api/v1/questions", json={"text": forum_post, "preset": "smoke"})
    assert response.status_code == 202, response.get_json()
    body = QUESTION.validate(response.get_json())
    assert [ask["type"] for ask in body["asks"]] == [
        "gamma_beta_undo", "covariate_shift_generalization", "small_batch_statistics"]
    jobs = ask_jobs(body)
    assert sorted(jobs) == sorted(ready_seed_types)
    for ask in body["asks"]:
        if ask["type"] not in ready_seed_types:
            assert ask["job"] is None and "planned" in ask["note"]

    for type_id, ref in jobs.items():
        assert ref["cached"] is False
        job = JOB.validate(wait_for_job(api, ref["id"]))
        assert job["status"] == "succeeded", job["error"]
        assert job["attempts"] == 1
        assert job["worker"].startswith(celery_worker.name + "@")
        assert job["queue"] == celery_worker.settings.cpu_queue  # smoke runs on the cpu queue
        result = job["result"]
        assert result["question_type"] == type_id and result["preset"] == "smoke"
        assert result["answer"] and result["rows"] and result["figures"]

        for figure in result["figures"]:
            image = api.get(figure["url"])
            assert image.status_code == 200
            assert image.mimetype == "image/png"
            assert image.data.startswith(b"\x89PNG\r\n\x1a\n")
            Image.open(io.BytesIO(image.data)).verify()  # a whole, valid PNG

        data = api.get(job["data_url"])
        assert data.status_code == 200 and data.mimetype == "text/csv"
        rows = list(csv.DictReader(io.StringIO(data.get_data(as_text=True))))
        assert len(rows) == len(result["rows"])
        assert "arm" in rows[0]

    page = api.get(body["url"]).get_json()
    assert all(ask["job"]["status"] == "succeeded" for ask in page["asks"] if ask["job"])


def test_same_question_again_is_answered_from_cache_and_fresh_runs_again(api, forum_post):
    first = api.post("/api/v1/questions", json={"text": forum_post, "preset": "smoke"})
    cached = ask_jobs(first.get_json())
    assert cached and all(job["cached"] and job["status"] == "succeeded"
                          for job in cached.values())

    again = api.post("/api/v1/questions",
                     json={"text": forum_post, "preset": "smoke", "fresh": True})
    assert again.status_code == 202
    fresh = ask_jobs(again.get_json())
    for type_id, job in fresh.items():
        assert job["cached"] is False and job["id"] != cached[type_id]["id"]
        # The worker need not run them all again: cancel while queued or running.
        response = api.post(f"/api/v1/jobs/{job['id']}/cancel")
        assert response.status_code in (200, 409)
    # Now a plain request is served by the first jobs again (cancelled runs give up the key).
    third = ask_jobs(api.post("/api/v1/questions",
                              json={"text": forum_post, "preset": "smoke"}).get_json())
    assert {t: j["id"] for t, j in third.items()} == {t: j["id"] for t, j in cached.items()}


@pytest.fixture(scope="module")
def submit_job(celery_worker, postgresql_database):
    """submit_job() -> id of a new queued job that runs for several seconds (a smoke run of
    three epochs at batch size 4), sent to the worker as the API would send it."""
    from experiments import catalog
    from service import jobs
    from workers.dispatch import make_dispatcher

    dispatcher = make_dispatcher(celery_worker.settings)
    params = catalog.get("small_batch_statistics").resolve(
        "smoke", {"batch_sizes": [4], "epochs": 3})

    def submit() -> int:
        with postgresql_database.session() as session:
            job, created = jobs.find_or_create_job(
                session, "small_batch_statistics", params, "smoke", fresh=True,
                queue=celery_worker.settings.cpu_queue)
            session.commit()
            assert created
            dispatcher.enqueue(job)
            return job.id

    return submit


def running_pid(job: dict) -> int:
    return int(re.search(r"pid (\d+)", job["worker"]).group(1))


def test_cancel_stops_a_running_job(api, celery_worker, submit_job):
    job_id = submit_job()
    job = wait_for_job(api, job_id, lambda j: j["status"] == "running" and j["progress"] > 0)
    response = api.post(f"/api/v1/jobs/{job_id}/cancel")
    assert response.status_code == 200
    assert response.get_json()["status"] == "cancelled"
    # The pool process running it goes away (revoked and terminated) and nothing is stored.
    pid = running_pid(job)
    deadline = time.monotonic() + 30
    while celery_worker.is_child(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not celery_worker.is_child(pid)
    job = api.get(f"/api/v1/jobs/{job_id}").get_json()
    assert job["status"] == "cancelled" and job["result"] is None
    again = api.post(f"/api/v1/jobs/{job_id}/cancel")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "conflict"


def test_a_job_whose_worker_process_is_killed_runs_again_and_once(api, celery_worker,
                                                                   postgresql_database,
                                                                   submit_job):
    from sqlalchemy import func, select

    from service.models import Figure, Result

    job_id = submit_job()
    job = wait_for_job(api, job_id, lambda j: j["status"] == "running" and j["progress"] > 0)
    pid = running_pid(job)
    assert celery_worker.is_child(pid), "the job must run in a pool process of the worker"
    os.kill(pid, signal.SIGKILL)

    job = wait_for_job(api, job_id)
    assert job["status"] == "succeeded", job["error"]
    assert job["attempts"] == 2  # the killed start, and the one that finished
    assert running_pid(job) != pid
    with postgresql_database.session() as session:
        assert session.scalar(select(func.count()).select_from(Result)
                              .where(Result.job_id == job_id)) == 1
        assert session.scalar(select(func.count()).select_from(Figure)
                              .where(Figure.job_id == job_id)) == len(job["result"]["figures"])
