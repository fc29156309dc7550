"""Outages and fuzz-found input speak the API's contract: one error shape, the right status.

A database that is down is a port nothing listens on (connections refused), a broker that is
down likewise; the shared PostgreSQL and Redis are never touched. The fault suites with real
outages of private instances are tests/workers/test_faults.py.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
from dataclasses import fields

import pytest

from service.api.schemas import ERROR, JOB
from service.auth import KEY_PREFIX

SMALL_BATCH = ("With small batches the batch statistics are noisy. Why not normalize with the "
               "running averages during training, as at test time?")
DEAD_PORT_DB = "postgresql+psycopg://postgres@127.0.0.1:1/test"
DEAD_PORT_REDIS = "redis://127.0.0.1:1/0"
ID_ROUTES = ("/api/v1/jobs/{}", "/api/v1/jobs/{}/figures/accuracy", "/api/v1/jobs/{}/data.csv",
             "/api/v1/questions/{}")


def app_with(settings, **changes):
    from service.app import create_app

    changed = settings.replace(**changes)
    return create_app({f.name: getattr(changed, f.name) for f in fields(changed)})


@pytest.mark.parametrize("method, path", [
    ("get", "/api/v1/jobs/1"), ("get", "/api/v1/questions/1"), ("post", "/api/v1/questions"),
    ("post", "/api/v1/jobs/1/cancel"), ("get", "/api/v1/jobs/1/data.csv")])
def test_a_database_that_is_down_is_503_with_retry_after(settings, method, path):
    app = app_with(settings, database_url=DEAD_PORT_DB)
    response = getattr(app.test_client(), method)(
        path, headers={"Authorization": f"Bearer {KEY_PREFIX}0123456789abcdef"},
        json={"text": SMALL_BATCH})
    assert response.status_code == 503
    error = ERROR.validate(response.get_json())["error"]
    assert error["code"] == "unavailable" and "database" in error["message"]
    assert int(response.headers["Retry-After"]) > 0
    assert "127.0.0.1" not in response.get_data(as_text=True)
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["error"]["fields"]["database"] == "unavailable"


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_broker_that_is_down_leaves_the_question_queued(settings, database, api_key):
    from service.models import Job

    app = app_with(settings, redis_url=DEAD_PORT_REDIS, executor="celery", broker_timeout=1)
    started = time.monotonic()
    response = app.test_client().post(
        "/api/v1/questions", json={"text": SMALL_BATCH, "preset": "smoke"},
        headers={"Authorization": f"Bearer {api_key}"})
    assert time.monotonic() - started < 20  # bounded by the broker timeout, not a hang
    assert response.status_code == 202, response.get_json()
    (ask,) = response.get_json()["asks"]
    assert ask["job"]["status"] == "queued"
    with database.session() as session:
        job = session.get(Job, ask["job"]["id"])
        assert job.state == "queued" and job.dispatched_at is None  # the reconciler's to send
    app.extensions["bnlab.db"].dispose()


def test_ids_past_the_integer_range_are_404_on_every_route(client, auth):
    for route in ID_ROUTES:
        for job_id in (2**31, 2**63, 10**30, 0):
            response = client.get(route.format(job_id), headers=auth)
            assert response.status_code == 404, (route, job_id)
            assert ERROR.validate(response.get_json())["error"]["code"] == "not_found"
    assert client.post(f"/api/v1/jobs/{2**31}/cancel", headers=auth).status_code == 404
    assert client.get(f"/api/v1/jobs/{2**31 - 1}", headers=auth).status_code == 404


def test_openapi_declares_the_id_range_and_the_errors(client):
    document = client.get("/api/v1/openapi.json").get_json()
    job = document["paths"]["/api/v1/jobs/{job_id}"]["get"]
    (job_id,) = [p for p in job["parameters"] if p["in"] == "path"]
    assert job_id["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
    assert {"304", "404", "503"} <= set(job["responses"])
    post = document["paths"]["/api/v1/questions"]["post"]
    assert {"400", "413", "415", "422", "429", "503"} <= set(post["responses"])
    text = document["components"]["schemas"]["QuestionRequest"]["properties"]["text"]
    assert "NUL" in text["description"] and "surrogate" in text["description"]


def test_a_job_answers_if_none_match_with_304(client, auth, finished_job):
    job_id = finished_job()
    first = client.get(f"/api/v1/jobs/{job_id}", headers=auth)
    assert first.status_code == 200 and first.headers["ETag"]
    JOB.validate(first.get_json())
    again = client.get(f"/api/v1/jobs/{job_id}", headers={
        **auth, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    cached = client.get(f"/api/v1/jobs/{job_id}", headers=auth)
    assert cached.data == first.data and cached.headers["ETag"] == first.headers["ETag"]


def test_a_running_job_changes_its_etag_as_it_progresses(client, auth, database):
    from service import jobs

    body = client.post("/api/v1/questions", json={"text": SMALL_BATCH, "preset": "smoke"},
                       headers=auth).get_json()
    job_id = body["asks"][0]["job"]["id"]
    queued = client.get(f"/api/v1/jobs/{job_id}", headers=auth).headers["ETag"]
    with database.session() as session:
        claim = jobs.claim_job(session, job_id, worker="w", device="cpu", max_attempts=3)
        jobs.report_progress(session, claim, 0.5, "half way")
    running = client.get(f"/api/v1/jobs/{job_id}", headers={**auth, "If-None-Match": queued})
    assert running.status_code == 200 and running.get_json()["progress"] == 0.5
    assert running.headers["ETag"] != queued


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_chunked_body_over_the_limit_is_413_under_gunicorn(settings, api_key):
    """Chunked bodies carry no Content-Length, so the limit is checked as they are read."""
    port = free_port()
    env = {**settings.child_environment(), "PATH": "/usr/bin:/bin"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "service.wsgi:app"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                connection.request("GET", "/healthz")
                connection.getresponse().read()
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.3)
        chunk = b'{"text": "' + b"a" * 64 * 1024
        body = (chunk for _ in range(8))  # 512 KiB, twice the limit, in chunks
        connection.request("POST", "/api/v1/questions", body=body, encode_chunked=True,
                           headers={"Content-Type": "application/json",
                                    "Authorization": f"Bearer {api_key}"})
        response = connection.getresponse()
        payload = json.loads(response.read())
        assert response.status == 413, payload
        assert ERROR.validate(payload)["error"]["code"] == "payload_too_large"
    finally:
        server.terminate()
        server.wait(timeout=30)
