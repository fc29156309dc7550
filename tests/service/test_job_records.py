"""service/jobs.py on both backends: keys, deduplication, and atomic state changes."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from service import jobs
from service.models import Job, JobState

TYPE = "small_batch_statistics"


def new_job(session, params=None, fresh=False, version="v1"):
    job, created = jobs.find_or_create_job(session, TYPE, params or {"seeds": 2}, "smoke",
                                           fresh=fresh, queue="cpu", code_version=version)
    session.commit()
    return job, created


def finish(session, job_id):
    claim = jobs.claim_job(session, job_id, worker="w", device="cpu", max_attempts=3)
    assert jobs.finish_job(session, claim, {"rows": []}, [], device="cpu")


def test_job_key_depends_on_what_determines_a_result():
    key = jobs.job_key(TYPE, {"seeds": 2, "lr": 0.1}, "smoke", "v1")
    assert key == jobs.job_key(TYPE, {"lr": 0.1, "seeds": 2}, "smoke", "v1")
    assert len(key) == 64
    others = [jobs.job_key("gamma_beta_undo", {"seeds": 2, "lr": 0.1}, "smoke", "v1"),
              jobs.job_key(TYPE, {"seeds": 3, "lr": 0.1}, "smoke", "v1"),
              jobs.job_key(TYPE, {"seeds": 2, "lr": 0.1}, "quick", "v1"),
              jobs.job_key(TYPE, {"seeds": 2, "lr": 0.1}, "smoke", "v2")]
    assert len({key, *others}) == 5


def test_the_same_request_shares_a_job_until_it_finishes_then_reuses_its_result(database):
    with database.session() as session:
        first, created = new_job(session)
        assert created and first.state == JobState.QUEUED and first.active_key == first.key
        again, created = new_job(session, fresh=True)  # fresh still shares a queued job
        assert again.id == first.id and not created
        finish(session, first.id)
        cached, created = new_job(session)
        assert cached.id == first.id and not created and cached.state == JobState.SUCCEEDED
        fresh, created = new_job(session, fresh=True)
        assert created and fresh.id != first.id
        # While the fresh run is under way it is the one shared.
        assert new_job(session)[0].id == fresh.id
        assert jobs.cancel_job(session, fresh.id)
        # Cancelled: the earlier result answers again.
        assert new_job(session)[0].id == first.id


def test_a_failed_job_is_not_reused(database):
    with database.session() as session:
        job, _ = new_job(session)
        assert jobs.fail_job(session, job.id, "boom")
        retry, created = new_job(session)
        assert created and retry.id != job.id


def test_identical_requests_at_the_same_moment_make_one_job(database):
    """The UNIQUE active key, not a check-then-insert, decides: eight threads, one job."""
    barrier = threading.Barrier(8)
    ids, errors = [], []

    def request():
        try:
            with database.session() as session:
                barrier.wait()
                job, _ = jobs.find_or_create_job(session, TYPE, {"seeds": 9}, "smoke",
                                                 fresh=False, queue="cpu", code_version="v1")
                session.commit()
                ids.append(job.id)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(ids) == 8 and len(set(ids)) == 1
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 1


def test_claim_is_atomic_and_fences_out_an_older_attempt(database):
    with database.session() as session:
        job, _ = new_job(session)
        first = jobs.claim_job(session, job.id, worker="a", device="cpu", max_attempts=3)
        assert first.attempt == 1
        jobs.report_progress(session, first, 0.5, "half way")
        # A second delivery while the job heartbeats is dropped: it never runs twice at once.
        assert jobs.claim_job(session, job.id, worker="b", device="cpu", max_attempts=3,
                              stale_after=60) is None
        # Once its heartbeat is stale (its worker died), a new attempt takes over.
        second = jobs.claim_job(session, job.id, worker="b", device="cpu", max_attempts=3,
                                stale_after=0)
        assert second.attempt == 2
        with pytest.raises(jobs.JobLost):
            jobs.report_progress(session, first, 0.6, "still here?")
        assert not jobs.finish_job(session, first, {"rows": []}, [], device="cpu")
        assert jobs.finish_job(session, second, {"rows": []}, [], device="cpu")
        row = session.get(Job, job.id, populate_existing=True)
        assert (row.state, row.attempts, row.worker) == (JobState.SUCCEEDED, 2, "b")
        # A succeeded job is never run again.
        assert jobs.claim_job(session, job.id, worker="c", device="cpu", max_attempts=3) is None


def test_a_job_out_of_attempts_fails_with_the_reason(database):
    with database.session() as session:
        job, _ = new_job(session)
        for _ in range(2):
            assert jobs.claim_job(session, job.id, worker="w", device="cpu", max_attempts=2,
                                  stale_after=0)
        assert jobs.claim_job(session, job.id, worker="w", device="cpu", max_attempts=2,
                              stale_after=0) is None
        row = session.get(Job, job.id, populate_existing=True)
        assert row.state == JobState.FAILED and "gave up after 2 attempts" in row.error
        assert row.active_key is None


def test_cancel_only_moves_queued_or_running_jobs(database):
    with database.session() as session:
        queued, _ = new_job(session, {"seeds": 1})
        assert jobs.cancel_job(session, queued.id)
        assert jobs.claim_job(session, queued.id, worker="w", device="cpu",
                              max_attempts=3) is None
        running, _ = new_job(session, {"seeds": 2})
        claim = jobs.claim_job(session, running.id, worker="w", device="cpu", max_attempts=3)
        assert jobs.cancel_job(session, running.id)
        with pytest.raises(jobs.JobLost):
            jobs.report_progress(session, claim, 0.5, "")
        done, _ = new_job(session, {"seeds": 3})
        finish(session, done.id)
        assert not jobs.cancel_job(session, done.id)
        assert not jobs.cancel_job(session, 999_999)


def test_a_result_reads_back_with_its_keys_in_the_order_written(database):
    """Row columns keep the experiment's order on every backend (the CSV and tables rely on
    it): long keys before short ones, which a reordering store would swap."""
    rows = [{"condition_name": "iid", "momentum": 0.1, "eval_acc": 0.8, "n": 3, "a": 1}]
    with database.session() as session:
        job_id = new_job(session)[0].id
        claim = jobs.claim_job(session, job_id, worker="w", device="cpu", max_attempts=3)
        assert jobs.finish_job(session, claim, {"zeta": 1, "rows": rows, "a": 2}, [],
                               device="cpu")
    with database.session() as session:
        data = session.get(Job, job_id).result.data
        assert list(data) == ["zeta", "rows", "a"]
        assert list(data["rows"][0]) == list(rows[0])
