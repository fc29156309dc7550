"""Fixtures for the forum bot: a Discourse stand-in on loopback, an embedded app whose bot
posts to it, webhook deliveries shaped and signed like Discourse's, and fast job results.

Most tests replace the app's job dispatcher with one that finishes each job at once with a
result of the contract's shape, so they test the bot without running experiments; the end to
end test (test_seed_end_to_end.py) runs the real ones.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import fields

import pytest

from service.bot.signature import delivery_headers
from service.bot.standin import DiscourseStandIn
from tests.service.conftest import sample_result, tiny_png

SECRET = "a-webhook-secret-of-some-length"
CATEGORY = 7
TOPIC = 42
ASKER = {"username": "dana", "user_id": 15}
SEED_QUESTION = ("With a modest batch (say 16 examples), the batch mean and variance are rough "
                 "estimates. Why are the exponentially weighted averages only used at test "
                 "time? Normalizing with them during training as well seems like it would make "
                 "training and testing behave the same.")
FINAL_STATES = ("answered", "failed", "ignored")
_event_ids = itertools.count(1)


@pytest.fixture
def standin():
    server = DiscourseStandIn(api_key="test-api-key", username="bnlab").start()
    yield server
    server.stop()


@pytest.fixture
def bot_settings(database, tmp_path, standin):
    """The embedded shape (local runner and worker) on each database backend."""
    from service.config import Settings

    return Settings.from_env(environ={}, overrides=dict(
        instance=tmp_path / "instance",
        database_url=database.url.render_as_string(hide_password=False),
        redis_url="", executor="local", progress_interval=0.0,
        discourse_url=standin.url, discourse_api_key="test-api-key",
        discourse_username="bnlab", discourse_webhook_secret=SECRET,
        discourse_categories=f"{CATEGORY},9", discourse_preset="smoke",
        discourse_max_posts_per_topic=3, discourse_max_answers_per_user_day=2))


def make_app(settings):
    from service.app import create_app

    return create_app({f.name: getattr(settings, f.name) for f in fields(settings)})


@pytest.fixture
def bot_app(bot_settings):
    app = make_app(bot_settings)
    yield app
    app.extensions["bnlab.db"].dispose()


class InstantResults:
    """A job dispatcher that finishes each job at once with a contract-shaped result and
    three figures (or, with `fail`, fails it as a worker does when the experiment raises)."""

    def __init__(self, database, fail: bool = False):
        self.database, self.fail = database, fail
        self.enqueued: list[int] = []

    def enqueue(self, job) -> None:
        from service import jobs

        self.enqueued.append(job.id)
        if self.fail:
            with self.database.session() as session:
                claim = jobs.claim_job(session, job.id, worker="instant", device="cpu",
                                       max_attempts=3)
                assert jobs.fail_job(session, job.id, "ExperimentError: the loss went NaN",
                                     attempt=claim.attempt)
            return
        result = sample_result(job.type)
        result["figures"] = [
            {"name": "accuracy", "file": "accuracy.png", "caption": "Accuracy by batch size."},
            {"name": "curves", "file": "curves.png", "caption": "Learning curves."},
            {"name": "extra", "file": "extra.png", "caption": "A third figure."}]
        with self.database.session() as session:
            claim = jobs.claim_job(session, job.id, worker="instant", device="cpu",
                                   max_attempts=3)
            figures = [(f["name"], f["caption"], tiny_png((40 * i, 90, 160)))
                       for i, f in enumerate(result["figures"])]
            assert jobs.finish_job(session, claim, result, figures, device="cpu")

    def stop(self, job) -> None:
        pass


@pytest.fixture
def instant(bot_app, database):
    from service.api.questions import DISPATCHER

    bot_app.extensions[DISPATCHER] = InstantResults(database)
    return bot_app.extensions[DISPATCHER]


@pytest.fixture
def client(bot_app):
    return bot_app.test_client()


def post_payload(raw: str, *, post_id: int = 501, post_number: int = 1, topic_id: int = TOPIC,
                 category_id: int = CATEGORY, version: int = 1, post_type: int = 1,
                 archetype: str = "regular", reply_to_post_number: int | None = None,
                 reply_to_user: dict | None = None, **author) -> dict:
    """A `post_created` body as WebHookPostSerializer writes it."""
    author = {**ASKER, **author}
    post = {
        "id": post_id, "name": author["username"].title(), "username": author["username"],
        "avatar_template": f"/user_avatar/forum/{author['username']}/{{size}}/1_2.png",
        "created_at": "2026-12-01T21:00:00.000Z", "cooked": f"<p>{raw}</p>",
        "post_number": post_number, "post_type": post_type,
        "updated_at": "2026-12-01T21:00:00.000Z", "reply_count": 0,
        "reply_to_post_number": reply_to_post_number, "quote_count": 0,
        "incoming_link_count": 0, "reads": 1, "readers_count": 0, "score": 0,
        "topic_id": topic_id, "topic_slug": "three-things-about-batch-norm",
        "topic_title": "Three things I don't understand about batch norm",
        "category_id": category_id, "display_username": author["username"].title(),
        "primary_group_name": None, "flair_name": None, "version": version,
        "user_title": None, "bookmarked": False, "raw": raw, "moderator": False,
        "admin": False, "staff": False, "user_id": author["user_id"], "hidden": False,
        "trust_level": 1, "deleted_at": None, "user_deleted": False, "edit_reason": None,
        "wiki": False, "reviewable_id": None, "reviewable_score_count": 0,
        "reviewable_score_pending_count": 0, "topic_posts_count": post_number,
        "topic_filtered_posts_count": post_number, "topic_archetype": archetype,
        "category_slug": "batch-norm-course"}
    if reply_to_user is not None:
        post["reply_to_user"] = reply_to_user
    return {"post": post}


def deliver(client, payload: dict, *, event: str = "post_created", secret: str = SECRET):
    """POST the payload to the webhook as Discourse delivers it (a new event id each time)."""
    body = json.dumps(payload).encode()
    headers = delivery_headers(secret, body, event, event_id=next(_event_ids))
    return client.post("/bot/discourse/webhook", data=body, headers=headers)


def forum_rows(database) -> list:
    from sqlalchemy import select

    from service.models import ForumPost

    with database.session() as session:
        rows = session.scalars(select(ForumPost).order_by(ForumPost.id)).all()
        session.expunge_all()
        return rows


def wait_until_settled(database, timeout: float = 60.0) -> list:
    """The forum rows once every one is answered, failed or ignored."""
    deadline = time.monotonic() + timeout
    while True:
        rows = forum_rows(database)
        if rows and all(row.state in FINAL_STATES for row in rows):
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"forum posts still open: {[(r.id, r.state) for r in rows]}")
        time.sleep(0.05)
