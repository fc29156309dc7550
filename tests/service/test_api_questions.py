"""POST /api/v1/questions and GET /api/v1/questions/<id>, on both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from service.api.schemas import ERROR, QUESTION
from service.models import Ask, Job, Question

SMALL_BATCH = ("With small batches the batch statistics are noisy. Why not normalize with the "
               "running averages during training, as at test time?")


def counts(database) -> tuple[int, int, int]:
    with database.session() as session:
        return tuple(session.scalar(select(func.count()).select_from(model))
                     for model in (Question, Ask, Job))


def test_a_question_is_stored_and_its_jobs_queued(client, auth, dispatcher, forum_post,
                                                  ready_seed_types):
    response = client.post("/api/v1/questions", json={"text": forum_post, "preset": "smoke"},
                           headers=auth)
    assert response.status_code == 202
    body = QUESTION.validate(response.get_json())
    assert response.headers["Location"] == body["url"] == f"/api/v1/questions/{body['id']}"
    assert (body["source"], body["asker"], body["preset"]) == ("api", "tester", "smoke")
    jobs = {a["type"]: a["job"] for a in body["asks"] if a["job"]}
    assert sorted(jobs) == sorted(ready_seed_types)
    assert all(j["status"] == "queued" and j["cached"] is False for j in jobs.values())
    assert dispatcher.enqueued == [a["job"]["id"] for a in body["asks"] if a["job"]]

    page = client.get(body["url"], headers=auth)
    assert page.status_code == 200
    assert QUESTION.validate(page.get_json())["asks"] == [
        {**a, "job": {k: v for k, v in a["job"].items() if k != "cached"} if a["job"] else None}
        for a in body["asks"]]


def test_preset_defaults_to_quick(client, auth):
    body = client.post("/api/v1/questions", json={"text": SMALL_BATCH}, headers=auth).get_json()
    assert body["preset"] == "quick"


def test_a_duplicate_is_answered_by_the_same_job(client, auth, dispatcher):
    first = client.post("/api/v1/questions", json={"text": SMALL_BATCH, "preset": "smoke"},
                        headers=auth).get_json()
    second = client.post("/api/v1/questions", json={"text": SMALL_BATCH, "preset": "smoke",
                                                    "fresh": True}, headers=auth).get_json()
    assert second["id"] != first["id"]
    assert second["asks"][0]["job"]["id"] == first["asks"][0]["job"]["id"]
    assert second["asks"][0]["job"]["cached"] is True  # fresh shares a job still queued
    assert len(dispatcher.enqueued) == 1


OVERSIZE = "why not use running averages? " * 700  # 21,000 characters


@pytest.mark.parametrize("kwargs, status, fields", [
    ({}, 415, {"Content-Type"}),
    ({"data": "text=hello", "content_type": "application/x-www-form-urlencoded"}, 415,
     {"Content-Type"}),
    ({"data": '{"text": "BN?"}', "content_type": "text/plain"}, 415, {"Content-Type"}),
    ({"data": '{"text": "why \\ud800 BN?"}', "content_type": "application/json"}, 422,
     {"text"}),
    ({"data": '{"text": "why \\u0000 BN?"}', "content_type": "application/json"}, 422,
     {"text"}),
    ({"data": "[" * 100_000 + "]" * 100_000, "content_type": "application/json"}, 400,
     {"body"}),
    ({"data": '{"text": "BN?", "x": ' + "[" * 40 + "]" * 40 + "}",
      "content_type": "application/json"}, 400, {"body"}),
    ({"data": b'{"text": "\xff\xfe"}', "content_type": "application/json"}, 400, {"body"}),
    ({"data": "{not json", "content_type": "application/json"}, 400, {"body"}),
    ({"json": ["a", "list"]}, 400, {"body"}),
    ({"json": {}}, 422, {"text"}),
    ({"json": {"text": ""}}, 422, {"text"}),
    ({"json": {"text": "   \n "}}, 422, {"text"}),
    ({"json": {"text": 42}}, 422, {"text"}),
    ({"json": {"text": OVERSIZE}}, 413, {"text"}),
    ({"json": {"text": SMALL_BATCH, "preset": "huge"}}, 422, {"preset"}),
    ({"json": {"text": SMALL_BATCH, "fresh": "yes"}}, 422, {"fresh"}),
    ({"json": {"text": SMALL_BATCH, "colour": "blue"}}, 422, {"colour"}),
    ({"json": {"text": "With a batch size of 100000, why not use the running averages of "
                       "batch norm during training?", "preset": "smoke"}}, 422,
     {"asks[0].params.asked_batch_sizes"}),
])
def test_bad_input_is_refused_and_nothing_is_written(client, auth, dispatcher, database,
                                                     kwargs, status, fields):
    response = client.post("/api/v1/questions", headers=auth, **kwargs)
    assert response.status_code == status
    error = ERROR.validate(response.get_json())["error"]
    assert set(error["fields"]) == fields
    assert error["code"] == {400: "bad_request", 413: "payload_too_large",
                             415: "unsupported_media_type",
                             422: "validation_error"}[status]
    assert counts(database) == (0, 0, 0)
    assert dispatcher.enqueued == []


def test_a_body_past_the_size_limit_is_413(client, auth, database):
    response = client.post("/api/v1/questions", data=b"x" * (300 * 1024), headers=auth,
                           content_type="application/json")
    assert response.status_code == 413
    assert ERROR.validate(response.get_json())["error"]["code"] == "payload_too_large"
    assert counts(database) == (0, 0, 0)


def test_unknown_question_is_404(client, auth):
    response = client.get("/api/v1/questions/12345", headers=auth)
    assert response.status_code == 404
    assert ERROR.validate(response.get_json())["error"]["code"] == "not_found"


@pytest.fixture
def settings(settings):
    return settings.replace(rate_limit="3/60")


def test_rate_limit_per_key(client, auth, database):
    """Kept in Redis with PostgreSQL (the distributed shape), in memory with SQLite."""
    from service.auth import create_key

    for _ in range(3):
        response = client.post("/api/v1/questions", json={"text": SMALL_BATCH}, headers=auth)
        assert response.status_code == 202
    limited = client.post("/api/v1/questions", json={"text": SMALL_BATCH}, headers=auth)
    assert limited.status_code == 429
    assert ERROR.validate(limited.get_json())["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    # Reading is not limited, and another key has its own budget.
    assert client.get("/api/v1/questions/1", headers=auth).status_code == 200
    with database.session() as session:
        other = create_key(session, "other")[1]
    response = client.post("/api/v1/questions", json={"text": SMALL_BATCH},
                           headers={"Authorization": f"Bearer {other}"})
    assert response.status_code == 202


def test_an_off_topic_post_says_so_with_the_reason(client, auth, dispatcher):
    response = client.post("/api/v1/questions", headers=auth,
                           json={"text": "What is the best pizza in Rome?", "preset": "smoke"})
    assert response.status_code == 202
    body = QUESTION.validate(response.get_json())
    assert body["asks"] == [] and body["off_topic"] is True
    assert "pizza" in body["off_topic_reason"]
    assert dispatcher.enqueued == []
    page = client.get(body["url"], headers=auth).get_json()
    assert page["off_topic"] is True and page["off_topic_reason"] == body["off_topic_reason"]
    on_topic = client.post("/api/v1/questions", headers=auth,
                           json={"text": SMALL_BATCH, "preset": "smoke"}).get_json()
    assert on_topic["off_topic"] is False and on_topic["off_topic_reason"] is None
