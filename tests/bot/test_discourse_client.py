"""service/bot/discourse.py against the stand-in: Discourse's shapes and its errors."""

from __future__ import annotations

import pytest

from service.bot.discourse import Discourse, RateLimited, Rejected, Unavailable
from service.bot.standin import DiscourseStandIn
from tests.service.conftest import tiny_png


@pytest.fixture
def standin():
    server = DiscourseStandIn(api_key="k", username="bnlab").start()
    yield server
    server.stop()


@pytest.fixture
def client(standin):
    sleeps: list[float] = []
    forum = Discourse(standin.url, "k", "bnlab", retries=2, backoff=0.5, sleep=sleeps.append)
    forum.sleeps = sleeps
    return forum


def test_create_upload_and_edit(standin, client):
    posted = client.create_post(42, "A placeholder with enough words in it.", 1)
    assert posted.post_number == 1 and standin.posts[posted.id]["reply_to_post_number"] == 1
    upload = client.upload_image("figure.png", tiny_png())
    assert upload.short_url.startswith("upload://") and (upload.width, upload.height) == (2, 2)
    client.edit_post(posted.id, "The final answer, with a figure and numbers.", "measured")
    assert standin.posts[posted.id]["version"] == 2
    assert standin.edits == [{"post_id": posted.id, "edit_reason": "measured",
                              "raw": "The final answer, with a figure and numbers."}]


def test_429_raises_rate_limited_with_retry_after(standin, client):
    standin.fail_next("POST", "/posts.json", 429, headers={"Retry-After": "37"})
    with pytest.raises(RateLimited) as caught:
        client.create_post(42, "A placeholder with enough words in it.", 1)
    assert caught.value.retry_after == 37 and client.sleeps == []


def test_a_429_without_retry_after_waits_what_its_body_says(standin, client):
    """A proxy may drop the header; Discourse's body carries the wait too."""
    standin.fail_next("POST", "/posts.json", 429, wait_seconds=12)
    with pytest.raises(RateLimited) as caught:
        client.create_post(42, "A placeholder with enough words in it.", 1)
    assert caught.value.retry_after == 12


@pytest.mark.parametrize("status", [403, 409, 422])
def test_403_409_422_are_rejections_that_are_not_retried(standin, client, status):
    standin.fail_next("PUT", r"/posts/\d+\.json", status, errors=["refused for a reason"])
    with pytest.raises(Rejected, match="refused for a reason") as caught:
        client.edit_post(1, "Some text long enough to be a post.", "x")
    assert caught.value.status == status and client.sleeps == []


def test_the_stand_in_validates_like_discourse(standin, client):
    with pytest.raises(Rejected, match="Body is too short"):
        client.create_post(42, "too short", None)
    with pytest.raises(Rejected, match="seems unclear"):
        client.create_post(42, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaab", None)
    with pytest.raises(Rejected, match="not authorized"):
        client.upload_image("notes.txt", b"plain text, not an image", "text/plain")
    wrong_key = Discourse(standin.url, "wrong", "bnlab", retries=0)
    with pytest.raises(Rejected, match="invalid") as caught:
        wrong_key.create_post(42, "A placeholder with enough words in it.", None)
    assert caught.value.status == 403


def test_an_edit_conflict_is_409(standin, client):
    posted = client.create_post(42, "A placeholder with enough words in it.", None)
    standin_post = standin.posts[posted.id]
    standin_post["raw"] = "Edited by a moderator meanwhile, with words."
    body = {"post": {"raw": "The bot's answer, long enough to post.", "edit_reason": "x",
                     "original_text": "A placeholder with enough words in it."}}
    with pytest.raises(Rejected) as caught:
        client._json("PUT", f"/posts/{posted.id}.json", body)
    assert caught.value.status == 409


def test_5xx_is_retried_with_backoff_then_gives_up(standin, client):
    standin.fail_next("POST", "/posts.json", 502)
    posted = client.create_post(42, "A placeholder with enough words in it.", None)
    assert posted.id and client.sleeps == [0.5]
    for _ in range(3):
        standin.fail_next("POST", "/posts.json", 503)
    with pytest.raises(Unavailable):
        client.create_post(42, "Another placeholder with enough words.", None)
    assert client.sleeps == [0.5, 0.5, 1.0]


def test_a_refused_connection_is_unavailable():
    forum = Discourse("http://127.0.0.1:9", "k", "bnlab", retries=1, sleep=lambda s: None)
    with pytest.raises(Unavailable):
        forum.create_post(1, "A placeholder with enough words in it.", None)
