"""Heartbeats, hand-backs and the reconciler's row work, on both backends.

A heartbeat is the row's updated_at; `age` moves it back in time, as a worker that stopped
beating would leave it. The reconciler here sends through a recording dispatcher; the Celery
suites (tests/workers/test_faults.py) run it against a real broker.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from service import jobs
from service.models import Job, JobState, utcnow
from workers.reconcile import Reconciler

TYPE = "small_batch_statistics"


def new_job(session, params=None, fresh=False):
    job, created = jobs.find_or_create_job(session, TYPE, params or {"seeds": 2}, "smoke",
                                           fresh=fresh, queue="cpu", code_version="v1")
    session.commit()
    return job, created


def age(session, job_id, seconds, column="updated_at"):
    session.execute(update(Job).where(Job.id == job_id)
                    .values({column: utcnow() - timedelta(seconds=seconds)}))
    session.commit()


def claim(session, job_id, stale_after=60):
    return jobs.claim_job(session, job_id, worker="w", device="cpu", max_attempts=3,
                          stale_after=stale_after)


class Recorder:
    def __init__(self, fail=False):
        self.sent, self.fail = [], fail

    def enqueue(self, job):
        if self.fail:
            raise ConnectionError("broker down")
        self.sent.append(job.id)


def test_a_heartbeat_keeps_a_running_job_from_being_taken_over(database):
    with database.session() as session:
        job, _ = new_job(session)
        first = claim(session, job.id)
        age(session, job.id, 120)
        assert jobs.heartbeat(session, first)
        assert claim(session, job.id) is None  # fresh again: a second delivery is dropped
        age(session, job.id, 120)
        second = claim(session, job.id)
        assert second.attempt == 2
        assert not jobs.heartbeat(session, first)  # the old attempt learns it lost the job


def test_release_hands_a_job_back_without_spending_its_attempt(database):
    with database.session() as session:
        job, _ = new_job(session)
        first = claim(session, job.id)
        assert jobs.release_job(session, first, "queued again: its worker shut down")
        row = session.get(Job, job.id, populate_existing=True)
        assert (row.state, row.attempts, row.dispatched_at) == (JobState.QUEUED, 0, None)
        assert row.active_key == row.key
        again = claim(session, job.id)
        assert again.attempt == 1
        assert not jobs.release_job(session, first, "late") or first.attempt == again.attempt


def test_a_fresh_request_never_waits_on_a_job_that_stopped_reporting(database):
    with database.session() as session:
        job, _ = new_job(session)
        claim(session, job.id)
        same, created = new_job(session, fresh=True)
        assert (same.id, created) == (job.id, False)  # progressing: shared
        age(session, job.id, 3600)
        new, created = jobs.find_or_create_job(session, TYPE, {"seeds": 2}, "smoke",
                                               fresh=True, queue="cpu", code_version="v1",
                                               stale_after=60)
        session.commit()
        assert created and new.id != job.id
        old = session.get(Job, job.id, populate_existing=True)
        assert old.state == JobState.FAILED and "superseded" in old.error
        assert old.active_key is None


def test_the_reconciler_requeues_stale_jobs_and_sends_unsent_ones(database, settings):
    settings = settings.replace(stale_after=30, heartbeat_interval=1, reconcile_interval=1,
                                executor="local", redis_url="")
    with database.session() as session:
        stale = new_job(session, {"seeds": 1})[0].id
        old_task = session.get(Job, stale).task_id
        claim(session, stale)
        age(session, stale, 600)
        alive = new_job(session, {"seeds": 2})[0].id
        claim(session, alive)
        unsent = new_job(session, {"seeds": 3})[0].id
        age(session, unsent, 600, column="created_at")
        just_made = new_job(session, {"seeds": 4})[0].id
        ended = new_job(session, {"seeds": 5})[0].id
        session.execute(update(Job).where(Job.id == ended).values(state=JobState.FAILED))
        session.commit()
    recorder = Recorder()
    done = Reconciler(settings, recorder, db=database).run_once()
    assert done.leader and done.requeued == [stale] and done.keys_released == 1
    assert sorted(recorder.sent) == sorted([stale, unsent])
    with database.session() as session:
        row = session.get(Job, stale)
        assert row.state == JobState.QUEUED and row.attempts == 1 and row.task_id != old_task
        assert row.dispatched_at is not None
        assert session.get(Job, alive).state == JobState.RUNNING
        assert session.get(Job, just_made).dispatched_at is None  # its sender has time
        assert session.get(Job, ended).active_key is None
    # A broker that refuses leaves them queued and unsent for the next pass.
    with database.session() as session:
        age(session, alive, 600)
    refusing = Recorder(fail=True)
    done = Reconciler(settings, refusing, db=database).run_once()
    assert done.requeued == [alive] and alive in done.unsent
    with database.session() as session:
        row = session.get(Job, alive)
        assert row.state == JobState.QUEUED and row.dispatched_at is None


def test_a_job_out_of_attempts_is_failed_by_the_reconciler(database, settings):
    settings = settings.replace(stale_after=30, heartbeat_interval=1, max_attempts=1,
                                executor="local", redis_url="")
    with database.session() as session:
        job, _ = new_job(session)
        claim(session, job.id)
        age(session, job.id, 600)
    done = Reconciler(settings, Recorder(), db=database).run_once()
    assert done.requeued == []
    with database.session() as session:
        row = session.get(Job, job.id)
        assert row.state == JobState.FAILED and "gave up after 1 attempts" in row.error


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_message_lost_from_redis_is_sent_again(database, settings):
    """Against the real Redis (this session's queue names): a queued job whose message is in
    the queue is left alone; once the message is gone (a Redis restart), it is sent again."""
    import redis

    from workers.dispatch import make_dispatcher, send_job
    from workers.reconcile import BrokerQueues

    settings = settings.replace(stale_after=30, heartbeat_interval=1, reconcile_interval=1)
    dispatcher = make_dispatcher(settings)
    client = redis.Redis.from_url(settings.redis_url)
    client.delete(settings.cpu_queue)  # this session's queue, without earlier tests' messages
    with database.session() as session:
        job, _ = jobs.find_or_create_job(session, TYPE, {"seeds": 2}, "smoke", fresh=False,
                                         queue=settings.cpu_queue, code_version="v1")
        session.commit()
        assert send_job(session, dispatcher, job)
        job_id, task_id = job.id, job.task_id
        age(session, job_id, 600, column="dispatched_at")  # sent long ago
    broker = BrokerQueues(settings)
    assert task_id in broker.task_ids()
    reconciler = Reconciler(settings, dispatcher, db=database, broker=broker)
    assert reconciler.run_once().sent == []  # still in the queue: nothing to do
    client.delete(settings.cpu_queue)  # the message is lost
    assert task_id not in broker.task_ids()
    assert reconciler.run_once().sent == [job_id]
    assert task_id in broker.task_ids()
    client.delete(settings.cpu_queue)
    reconciler.stop()
