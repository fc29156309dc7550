"""service/questions.py: text → router → asks → jobs, validated before anything is written."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from service import jobs
from service.models import Ask, Job, JobState, Question
from service.questions import InvalidQuestion, submit_question

SMALL_BATCH = ("With small batches the batch statistics are noisy. Why not normalize with the "
               "running averages during training, as at test time?")


class Recorder:
    def __init__(self, fail: bool = False):
        self.enqueued, self.fail = [], fail

    def enqueue(self, job):
        if self.fail:
            raise ConnectionError("broker down")
        self.enqueued.append(job.id)


def counts(database) -> tuple[int, int, int]:
    with database.session() as session:
        return tuple(session.scalar(select(func.count()).select_from(model))
                     for model in (Question, Ask, Job))


def test_forum_post_gives_three_asks_and_jobs_for_ready_types(database, settings, forum_post,
                                                              ready_seed_types):
    recorder = Recorder()
    with database.session() as session:
        submission = submit_question(session, forum_post, preset="smoke", source="cli",
                                     asker="dana", dispatcher=recorder, settings=settings)
        types = [ask.type for ask, _, _ in submission.asks]
        assert types == ["gamma_beta_undo", "covariate_shift_generalization",
                         "small_batch_statistics"]
        for ask, job, created in submission.asks:
            if ask.type in ready_seed_types:
                assert job is not None and created and job.queue == settings.cpu_queue
                assert job.params == ask.job.params and job.state == JobState.QUEUED
            else:
                assert job is None and "planned" in ask.note
        assert recorder.enqueued == [job.id for job in submission.new_jobs]
        assert len(recorder.enqueued) == len(ready_seed_types)
        question = session.get(Question, submission.question.id)
        assert (question.source, question.asker, question.preset) == ("cli", "dana", "smoke")

    with database.session() as session:
        again = submit_question(session, forum_post, preset="smoke", dispatcher=recorder,
                                settings=settings)
        assert again.new_jobs == []
        assert len(recorder.enqueued) == len(ready_seed_types)  # nothing queued twice


def test_parameters_out_of_range_write_nothing(database, settings):
    text = ("With a batch size of 100000, why not use the running averages of batch norm "
            "during training?")
    with database.session() as session, pytest.raises(InvalidQuestion) as caught:
        submit_question(session, text, preset="smoke", dispatcher=Recorder(),
                        settings=settings)
    assert "asks[0].params.asked_batch_sizes" in caught.value.fields
    assert counts(database) == (0, 0, 0)


def test_unknown_preset_writes_nothing(database, settings):
    with database.session() as session, pytest.raises(InvalidQuestion) as caught:
        submit_question(session, SMALL_BATCH, preset="huge", settings=settings)
    assert set(caught.value.fields) == {"preset"}
    assert counts(database) == (0, 0, 0)


def test_a_job_the_broker_refuses_stays_queued_and_unsent_for_the_reconciler(database,
                                                                             settings):
    with database.session() as session:
        submission = submit_question(session, SMALL_BATCH, preset="smoke",
                                     dispatcher=Recorder(fail=True), settings=settings)
        (job,) = submission.new_jobs
        assert job.state == JobState.QUEUED and job.error is None
        assert job.dispatched_at is None and job.active_key == job.key
        sent = submit_question(session, SMALL_BATCH + " Really?", preset="smoke",
                               fresh=True, dispatcher=Recorder(), settings=settings)
        assert sent.asks[0][1].id == job.id  # the same queued job answers; nothing lost


def test_simultaneous_identical_questions_share_one_job(database, settings):
    barrier = threading.Barrier(4)
    job_ids, errors = [], []

    def ask():
        try:
            with database.session() as session:
                barrier.wait()
                submission = submit_question(session, SMALL_BATCH, preset="smoke",
                                             settings=settings)
                job_ids.append(submission.asks[0][1].id)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(set(job_ids)) == 1
    assert counts(database) == (4, 4, 1)


def test_fresh_runs_again_after_a_success(database, settings):
    with database.session() as session:
        first = submit_question(session, SMALL_BATCH, preset="smoke", settings=settings)
        job = first.new_jobs[0]
        claim = jobs.claim_job(session, job.id, worker="w", device="cpu", max_attempts=3)
        jobs.finish_job(session, claim, {"rows": []}, [], device="cpu")
        cached = submit_question(session, SMALL_BATCH, preset="smoke", settings=settings)
        assert cached.asks[0][1].id == job.id and not cached.new_jobs
        fresh = submit_question(session, SMALL_BATCH, preset="smoke", fresh=True,
                                settings=settings)
        assert fresh.new_jobs and fresh.new_jobs[0].id != job.id


def test_an_unusable_value_in_the_text_runs_the_defaults_and_says_so(database, settings):
    text = ("With a batch size of -16, why not normalize with the running averages during "
            "training?")
    with database.session() as session:
        submission = submit_question(session, text, preset="smoke", dispatcher=Recorder(),
                                     settings=settings)
        ask, job, _ = submission.asks[0]
        assert ask.note.startswith("batch_size: '-16' is not usable")
        assert job is not None and job.params["asked_batch_sizes"] == []
