"""POST /bot/discourse/webhook: signatures, ping, and which events are acted on."""

from __future__ import annotations

import json

import pytest

from service.bot.signature import delivery_headers, sign, verify

from .conftest import SECRET, SEED_QUESTION, deliver, forum_rows, post_payload, wait_until_settled


def test_signature_is_hmac_sha256_of_the_raw_body():
    body = b'{"post": {"id": 1}}'
    header = sign(SECRET, body)
    assert header.startswith("sha256=") and len(header) == len("sha256=") + 64
    assert verify(SECRET, body, header)
    assert not verify(SECRET, body + b" ", header)
    assert not verify("another-secret-entirely", body, header)
    assert not verify(SECRET, body, None) and not verify(SECRET, body, "")


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "garbage"])
def test_bad_or_missing_signature_is_401_and_nothing_is_stored(client, database, standin,
                                                                signature):
    body = json.dumps(post_payload(SEED_QUESTION)).encode()
    headers = delivery_headers(SECRET, body)
    if signature is None:
        del headers["X-Discourse-Event-Signature"]
    else:
        headers["X-Discourse-Event-Signature"] = signature
    response = client.post("/bot/discourse/webhook", data=body, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert forum_rows(database) == []
    assert standin.requests == []


def test_a_body_changed_after_signing_is_refused(client, database):
    body = json.dumps(post_payload(SEED_QUESTION)).encode()
    headers = delivery_headers(SECRET, body)
    response = client.post("/bot/discourse/webhook", data=body.replace(b"dana", b"evil"),
                           headers=headers)
    assert response.status_code == 401
    assert forum_rows(database) == []


def test_ping_is_200(client, database):
    response = deliver(client, {"ping": "OK"}, event="ping")
    assert response.status_code == 200 and response.get_json()["event"] == "ping"
    assert forum_rows(database) == []


def test_a_signed_body_that_is_not_a_post_is_400(client, database):
    response = deliver(client, {"topic": {"id": 3}})
    assert response.status_code == 400
    assert "post" in response.get_json()["error"]["fields"]


@pytest.mark.parametrize("change, event, reason", [
    ({"username": "bnlab", "user_id": 2}, "post_created", "the bot's own post"),
    ({"username": "BNLab", "user_id": 2}, "post_edited", "not post_created"),
    ({"username": "system", "user_id": -1}, "post_created", "system user or bot"),
    ({"username": "discobot", "user_id": -2}, "post_created", "system user or bot"),
    ({"post_type": 4}, "post_created", "not a regular post"),
    ({"archetype": "private_message"}, "post_created", "archetype"),
    ({"category_id": 99}, "post_created", "is not answered here"),
    ({"post_number": 3}, "post_created", "neither a new topic"),
    ({}, "post_edited", "not post_created"),
])
def test_events_not_acted_on_are_200_and_ignored(client, database, standin, change, event,
                                                 reason):
    response = deliver(client, post_payload(SEED_QUESTION, **change), event=event)
    assert response.status_code == 200
    assert reason in response.get_json()["reason"]
    assert forum_rows(database) == []
    assert standin.requests == []


def test_a_mention_inside_a_quote_is_not_a_call(client, database, standin):
    raw = ('[quote="sam, post:2, topic:42"]\n@bnlab could you run this?\n[/quote]\n\n'
           "I agree with Sam, but I wonder why running averages are not used in training.")
    response = deliver(client, post_payload(raw, post_id=502, post_number=3))
    assert response.status_code == 200 and response.get_json()["ignored"]
    nested = ('[quote="a, post:1, topic:42"]\n[quote="b, post:2, topic:42"]\n@bnlab hi\n'
              "[/quote]\nand @bnlab again\n[/quote]\n> @bnlab in a Markdown quote\n"
              "`@bnlab in code`\nNothing for the bot here.")
    response = deliver(client, post_payload(nested, post_id=503, post_number=4))
    assert response.status_code == 200 and response.get_json()["ignored"]
    assert forum_rows(database) == [] and standin.requests == []


def test_a_mention_outside_quotes_is_acted_on(client, database, instant, standin):
    raw = ('[quote="sam, post:2, topic:42"]\nsomething\n[/quote]\n\n@bnlab ' + SEED_QUESTION)
    response = deliver(client, post_payload(raw, post_id=504, post_number=3))
    assert response.status_code == 202
    [row] = wait_until_settled(database)
    assert row.trigger == "mention" and row.state == "answered"


def test_accepted_event_is_202_with_the_row(client, database, instant):
    response = deliver(client, post_payload(SEED_QUESTION))
    assert response.status_code == 202
    body = response.get_json()
    assert body["accepted"] and body["new"] and body["state"] == "received"
    wait_until_settled(database)


def test_the_webhook_is_absent_without_a_discourse_url(database, tmp_path):
    from service.config import Settings

    from .conftest import make_app

    settings = Settings.from_env(environ={}, overrides=dict(
        instance=tmp_path / "i", database_url=database.url.render_as_string(
            hide_password=False), executor="local"))
    app = make_app(settings)
    try:
        response = deliver(app.test_client(), post_payload(SEED_QUESTION))
        assert response.status_code == 404
        assert "bnlab.forum_runner" not in app.extensions
    finally:
        app.extensions["bnlab.db"].dispose()
