"""The reply to a forum post against the Discourse stand-in, with jobs that finish at once:
placeholder, uploads, one edit; once per post; Discourse's errors; guards; follow-ups."""

from __future__ import annotations

import threading

import pytest

from .conftest import (
    ASKER,
    SEED_QUESTION,
    TOPIC,
    InstantResults,
    deliver,
    forum_rows,
    post_payload,
    wait_until_settled,
)

OFF_TOPIC = "What is the best pizza place near the station? I'm visiting next week."
UNPLACEABLE = "How does batch norm interact with quantum entanglement in GANs?"


def requests_to(standin, method: str, path: str) -> list:
    return [r for r in standin.requests if r == (method, path)]


def test_a_topic_gets_a_placeholder_then_uploads_then_one_edit(client, database, standin,
                                                              instant):
    assert deliver(client, post_payload(SEED_QUESTION)).status_code == 202
    [row] = wait_until_settled(database)
    assert (row.state, row.kind, row.trigger) == ("answered", "answer", "topic")
    methods = [m for m, _ in standin.requests]
    assert methods[0] == "POST" and standin.requests[0][1] == "/posts.json"
    assert methods[1:-1] == ["POST"] * 2 and methods[-1] == "PUT"  # two figures, one edit
    [reply] = standin.created()
    assert reply["id"] == row.reply_post_id and reply["reply_to_post_number"] == 1
    assert reply["version"] == 2 and reply["edit_reason"] == "measured answer"
    raw = reply["raw"]
    assert raw.startswith(f'[quote="dana, post:1, topic:{TOPIC}"]')
    for upload in standin.uploads:
        assert upload["synchronous"]
        assert f"({upload['short_url']})" in raw
        assert f"|{upload['thumbnail_width']}x{upload['thumbnail_height']}]" in raw
    assert "An answer." in raw and '[details="Measured table"]' in raw
    assert "Reproduce: `bnlab run small_batch_statistics --preset smoke" in raw


def test_a_repeated_delivery_resumes_the_same_reply(client, database, standin, instant):
    payload = post_payload(SEED_QUESTION)
    first = deliver(client, payload).get_json()
    again = deliver(client, payload)  # Discourse's redelivery: a new event id, the same post
    assert again.status_code == 202 and again.get_json()["id"] == first["id"]
    assert not again.get_json()["new"]
    wait_until_settled(database)
    assert deliver(client, payload).get_json()["state"] == "answered"
    wait_until_settled(database)
    assert len(standin.created()) == 1 and len(forum_rows(database)) == 1
    assert len(requests_to(standin, "PUT", f"/posts/{standin.created()[0]['id']}.json")) == 1


def test_concurrent_deliveries_make_one_reply(bot_app, database, standin, instant):
    payload = post_payload(SEED_QUESTION)
    statuses, barrier = [], threading.Barrier(4)

    def send():
        client = bot_app.test_client()
        barrier.wait()
        statuses.append(deliver(client, payload).status_code)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [202] * 4
    [row] = wait_until_settled(database)
    assert row.state == "answered"
    assert len(standin.created()) == 1 and len(standin.edits) == 1


def test_a_new_version_of_a_post_is_a_new_row(client, database, standin, instant):
    deliver(client, post_payload(SEED_QUESTION, version=1))
    wait_until_settled(database)
    deliver(client, post_payload(SEED_QUESTION, version=2))
    rows = wait_until_settled(database)
    assert [r.post_version for r in rows] == [1, 2]


def test_429_is_retried_after_retry_after_then_succeeds(client, database, standin, instant):
    standin.fail_next("POST", "/posts.json", 429, headers={"Retry-After": "1"},
                      errors=["You've performed this action too many times."])
    deliver(client, post_payload(SEED_QUESTION))
    [row] = wait_until_settled(database)
    assert row.state == "answered"
    assert len(requests_to(standin, "POST", "/posts.json")) == 2  # the 429, then the post
    assert len(standin.created()) == 1


def test_5xx_is_retried_a_bounded_number_of_times(client, database, standin, instant):
    standin.fail_next("POST", "/uploads.json", 502)
    standin.fail_next("POST", "/uploads.json", 503)
    deliver(client, post_payload(SEED_QUESTION))
    [row] = wait_until_settled(database)
    assert row.state == "answered" and len(standin.uploads) == 2


def test_422_ends_the_attempt_and_is_recorded(client, database, standin, instant):
    standin.fail_next("POST", "/posts.json", 422, errors=["Body is too similar to what you "
                                                          "recently posted"])
    deliver(client, post_payload(SEED_QUESTION))
    [row] = wait_until_settled(database)
    assert row.state == "failed" and "too similar" in row.error
    assert standin.created() == []


def test_posts_answered_minutes_apart_each_get_their_placeholder(client, database, standin,
                                                                 instant):
    """Discourse refuses a non-staff user's repeat of their own text within unique_posts_mins
    (the stand-in too); the placeholder and the help reply say the same thing every time."""
    unplaceable = "What is the capital of France, and can batch norm help me there?"
    for topic, text in ((51, SEED_QUESTION), (52, SEED_QUESTION), (53, unplaceable),
                        (54, unplaceable)):
        deliver(client, post_payload(text, post_id=800 + topic, topic_id=topic,
                                     user_id=topic, username=f"asker{topic}"))
        wait_until_settled(database)
    rows = forum_rows(database)
    assert [r.error for r in rows] == [None] * 4
    assert [r.kind for r in rows] == ["answer", "answer", "help", "help"]
    placeholders = [e for e in standin.requests if e == ("POST", "/posts.json")]
    assert len(placeholders) == 4 and len(standin.created()) == 4


def test_a_rejected_final_edit_turns_the_placeholder_into_an_apology(client, database,
                                                                     standin, instant):
    standin.fail_next("PUT", r"/posts/\d+\.json", 409, errors=["edit conflict"])
    deliver(client, post_payload(SEED_QUESTION))
    [row] = wait_until_settled(database)
    assert row.state == "failed" and "409" in row.error
    [reply] = standin.created()
    assert reply["raw"].startswith("Sorry, I could not measure")


def test_a_failed_job_edits_the_placeholder_into_an_apology(bot_app, client, database,
                                                            standin):
    from service.api.questions import DISPATCHER

    bot_app.extensions[DISPATCHER] = InstantResults(database, fail=True)
    deliver(client, post_payload(SEED_QUESTION))
    [row] = wait_until_settled(database)
    assert row.state == "failed"
    [reply] = standin.created()
    assert reply["version"] == 2
    assert reply["raw"].startswith("Sorry, I could not measure an answer")
    assert '[details="What went wrong"]' in reply["raw"]
    assert "ExperimentError: the loss went NaN" in reply["raw"]


def test_at_most_n_bot_posts_per_topic(client, database, standin, instant):
    # The limit is 3 (conftest); the asker's later mentions in the same topic go unanswered.
    for number in range(1, 6):
        raw = SEED_QUESTION if number == 1 else f"@bnlab {SEED_QUESTION}"
        deliver(client, post_payload(raw, post_id=600 + number, post_number=number,
                                     user_id=20 + number, username=f"user{number}"))
        wait_until_settled(database)
    rows = forum_rows(database)
    assert [r.state for r in rows] == ["answered"] * 3 + ["ignored"] * 2
    assert all("limit in this topic" in r.error for r in rows[3:])
    assert len(standin.created()) == 3


def test_at_most_m_answers_per_user_per_day(client, database, standin, instant):
    # The limit is 2 (conftest); each post is a new topic, so only the user limit applies.
    for topic in range(1, 4):
        deliver(client, post_payload(SEED_QUESTION, post_id=700 + topic, topic_id=topic))
        wait_until_settled(database)
    rows = forum_rows(database)
    assert [r.state for r in rows] == ["answered", "answered", "ignored"]
    assert "day's answers" in rows[2].error
    deliver(client, post_payload(SEED_QUESTION, post_id=710, topic_id=9, user_id=99,
                                 username="sam"))
    assert wait_until_settled(database)[-1].state == "answered"


def test_an_off_topic_post_gets_no_reply(client, database, standin, instant):
    deliver(client, post_payload(OFF_TOPIC))
    [row] = wait_until_settled(database)
    assert row.state == "ignored" and "off topic" in row.error
    assert standin.requests == [] and instant.enqueued == []


def test_an_unplaceable_post_gets_one_help_reply_per_topic(client, database, standin,
                                                           instant):
    deliver(client, post_payload(UNPLACEABLE))
    deliver(client, post_payload(f"@bnlab {UNPLACEABLE} Any idea?", post_id=502,
                                 post_number=2))
    rows = wait_until_settled(database)
    assert [(r.state, r.kind) for r in rows] == [("answered", "help"), ("ignored", None)]
    [reply] = standin.created()
    assert "These are the ones I can run" in reply["raw"]
    assert "Small batches" in reply["raw"] and instant.enqueued == []


def test_a_follow_up_with_settings_reruns_them_in_a_new_reply(client, database, standin,
                                                              instant):
    from service.models import Job

    deliver(client, post_payload(SEED_QUESTION))
    [first] = wait_until_settled(database)
    follow_up = post_payload("@bnlab batch_size=8 seeds=3", post_id=502, post_number=3,
                             reply_to_post_number=first.reply_post_number,
                             reply_to_user={"username": "bnlab", "name": "bnlab"})
    assert deliver(client, follow_up).status_code == 202
    rows = wait_until_settled(database)
    assert [(r.state, r.trigger) for r in rows] == [("answered", "topic"),
                                                   ("answered", "mention")]
    assert len(standin.created()) == 2
    assert standin.created()[1]["reply_to_post_number"] == 3
    with database.session() as session:
        jobs = [session.get(Job, job_id) for job_id in instant.enqueued]
        assert [(j.type, j.params["batch_sizes"], j.params["seeds"]) for j in jobs] == [
            ("small_batch_statistics", [4, 32], 2), ("small_batch_statistics", [8], 3)]
    assert "--set batch_sizes=8 --set seeds=3" in standin.created()[1]["raw"]


def test_a_plain_reply_to_the_bot_reads_words_as_settings(client, database, standin, instant):
    from service.models import Job

    deliver(client, post_payload(SEED_QUESTION))
    [first] = wait_until_settled(database)
    follow_up = post_payload("Thanks! What happens with a batch size of 8 and Adam?",
                             post_id=502, post_number=3,
                             reply_to_post_number=first.reply_post_number)
    deliver(client, follow_up)
    rows = wait_until_settled(database)
    assert rows[1].trigger == "reply" and rows[1].state == "answered"
    with database.session() as session:
        job = session.get(Job, instant.enqueued[-1])
        assert job.params["asked_batch_sizes"] == [8] and job.params["optimizer"] == "adam"


def test_a_follow_up_with_a_bad_setting_says_what_is_valid(client, database, standin,
                                                           instant):
    deliver(client, post_payload(SEED_QUESTION))
    [first] = wait_until_settled(database)
    for post_id, settings in ((502, "seeds=1000"), (503, "colour=blue")):
        deliver(client, post_payload(f"@bnlab {settings}", post_id=post_id, post_number=3,
                                     reply_to_post_number=first.reply_post_number))
    rows = wait_until_settled(database)
    assert [(r.state, r.kind) for r in rows[1:]] == [("answered", "refusal")] * 2
    too_many, unknown = (post["raw"] for post in standin.created()[1:])
    assert "can't run that as asked" in too_many
    assert "- `seeds`: 1000 is above the maximum 64" in too_many
    assert "- `colour`: unknown parameter; valid: seeds, batch_sizes" in unknown
    assert len(instant.enqueued) == 1


def test_the_bot_never_mentions_anyone(client, database, standin, instant):
    raw = f"{SEED_QUESTION} @sam said @bnlab would know, cc @alice."
    deliver(client, post_payload(raw, user_id=ASKER["user_id"]))
    wait_until_settled(database)
    [reply] = standin.created()
    import re

    assert re.search(r"(?<![\w])@[A-Za-z0-9_]", reply["raw"]) is None


class Stopped:
    """A runner of a web process that stops before it runs anything (or, with `then`, one
    that records what it is given and hands it on)."""

    def __init__(self, then=None):
        self.kicked: list[int] = []
        self.then = then

    def kick(self, row_id: int, delay: float = 0.0) -> None:
        self.kicked.append(row_id)
        if self.then is not None:
            self.then.kick(row_id, delay)


def test_an_open_post_is_resumed_by_the_next_process(bot_app, bot_settings, client, database,
                                                     standin):
    from service.api.questions import DISPATCHER

    from .conftest import make_app

    bot_app.extensions["bnlab.forum_runner"] = Stopped()
    deliver(client, post_payload(SEED_QUESTION))
    [row] = forum_rows(database)
    assert row.state == "received" and standin.requests == []

    restarted = make_app(bot_settings)  # as `bnlab serve` starts again
    try:
        restarted.extensions[DISPATCHER] = InstantResults(database)
        assert restarted.extensions["bnlab.forum_runner"].resume(database) == 1
        [row] = wait_until_settled(database)
        assert row.state == "answered" and len(standin.created()) == 1
    finally:
        restarted.extensions["bnlab.db"].dispose()


def test_a_redelivery_restarts_a_post_whose_steps_stopped(bot_app, client, database, standin,
                                                          instant):
    from datetime import timedelta

    from sqlalchemy import update

    from service.models import ForumPost, utcnow

    runner = Stopped(then=bot_app.extensions["bnlab.forum_runner"])
    bot_app.extensions["bnlab.forum_runner"] = Stopped()
    payload = post_payload(SEED_QUESTION)
    deliver(client, payload)
    bot_app.extensions["bnlab.forum_runner"] = runner
    deliver(client, payload)  # a step chain may still be alive: not restarted
    assert runner.kicked == [] and standin.requests == []
    with database.engine.begin() as connection:  # the process that had it went away
        connection.execute(update(ForumPost).values(updated_at=utcnow() - timedelta(hours=1)))
    assert deliver(client, payload).status_code == 202
    [row] = wait_until_settled(database)
    assert runner.kicked == [row.id]
    assert row.state == "answered" and len(standin.created()) == 1


def test_a_reply_that_went_through_behind_an_error_is_found_not_posted_twice(
        client, database, standin, instant):
    # The forum creates the placeholder, but a proxy answers 502; the client's retry is then
    # refused as a repeat, and the bot finds its reply in the topic instead of failing.
    standin.fail_next("POST", "/posts.json", 502, after=True)
    deliver(client, post_payload(SEED_QUESTION))
    [row] = wait_until_settled(database)
    [reply] = standin.created()
    assert row.state == "answered" and row.reply_post_id == reply["id"]
    assert ("GET", f"/t/{TOPIC}.json") in standin.requests


def test_a_reply_posted_while_the_database_went_away_is_not_posted_again(
        bot_settings, bot_app, database, standin, instant, monkeypatch):
    from sqlalchemy import update
    from sqlalchemy.exc import OperationalError

    from service.bot import reply, store
    from service.bot.discourse import Discourse
    from service.models import ForumPost

    ctx = reply.BotContext(bot_settings, database, Discourse.from_settings(bot_settings),
                           instant)
    with database.session() as session:
        row_id = store.record_post(session, post_payload(SEED_QUESTION)["post"], "topic")[0].id

    def database_gone(*_args, **_kwargs):
        raise OperationalError("UPDATE forum_posts", {}, Exception("server closed"))

    # The placeholder goes up; recording it (and everything after) fails.
    for name in ("placeholder_posted", "failed", "release"):
        monkeypatch.setattr(store, name, database_gone)
    with pytest.raises(OperationalError):
        reply.advance(ctx, row_id)
    monkeypatch.undo()
    assert len(standin.created()) == 1
    # Back again: the lease the dead step held runs out, and the next step carries on.
    with database.session() as session:
        session.execute(update(ForumPost).values(lease_until=None))
        session.commit()
    for _ in range(20):
        if reply.advance(ctx, row_id) is None:
            break
    [row] = forum_rows(database)
    [placeholder] = standin.created()
    assert row.state == "answered" and row.reply_post_id == placeholder["id"]
