"""With Celery the forum reply is a task of its own (workers/forum_reply.py): the webhook in
this process only records the post and sends the task; a real worker process on PostgreSQL
and Redis posts the placeholder, waits for the job, uploads and edits, so the web process can
go away meanwhile. The job's result is made beforehand (the worker suite runs experiments)."""

from __future__ import annotations

from dataclasses import fields

import pytest

from tests.workers.conftest import WorkerProcess, clean, worker_settings

from .conftest import SECRET, SEED_QUESTION, InstantResults, deliver, post_payload
from .conftest import wait_until_settled as settled

pytestmark = [pytest.mark.services, pytest.mark.slow]


def finished_job_for(database, text: str, preset: str) -> int:
    """The succeeded job that submit_question will find for `text`, made now."""
    from experiments import catalog
    from service import jobs
    from service.router import route

    [ask] = route(text).asks
    params = catalog.get(ask.type).resolve(preset, dict(ask.params))
    with database.session() as session:
        job, created = jobs.find_or_create_job(session, ask.type, params, preset, fresh=False,
                                               queue="cpu")
        session.commit()
        assert created
        InstantResults(database).enqueue(job)
        return job.id


def test_the_worker_answers_after_the_web_process_is_gone(postgresql_database, postgres_url,
                                                          redis_url, session_token, tmp_path,
                                                          standin):
    from service.app import create_app
    from service.models import Job

    clean(postgresql_database)
    settings = worker_settings(
        postgres_url, redis_url, session_token, "bot", tmp_path,
        discourse_url=standin.url, discourse_api_key="test-api-key",
        discourse_username="bnlab", discourse_webhook_secret=SECRET,
        discourse_categories="7", discourse_preset="smoke")
    job_id = finished_job_for(postgresql_database, SEED_QUESTION, "smoke")
    worker = WorkerProcess(settings, tmp_path / "worker.log", "bot").start()
    try:
        app = create_app({f.name: getattr(settings, f.name) for f in fields(settings)})
        assert type(app.extensions["bnlab.forum_runner"]).__name__ == "CeleryRunner"
        response = deliver(app.test_client(), post_payload(SEED_QUESTION))
        assert response.status_code == 202
        app.extensions["bnlab.db"].dispose()  # the web process is done with it
        del app
        [row] = settled(postgresql_database, timeout=120)
        assert row.state == "answered", (row.error, worker.log()[-3000:])
        assert "bnlab.forum_reply" in worker.log()
    finally:
        worker.stop()
    [reply] = standin.created()
    assert [m for m, _ in standin.requests] == ["POST", "POST", "POST", "PUT"]
    assert reply["version"] == 2 and "upload://" in reply["raw"]
    with postgresql_database.session() as session:
        assert session.get(Job, job_id).state == "succeeded"
        assert session.query(Job).count() == 1  # the finished job was reused, not rerun
