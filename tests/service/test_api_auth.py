"""API keys: no key or a bad one is 401 everywhere under /api/v1 but types and openapi.json."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from service.api.endpoints import ENDPOINTS
from service.api.schemas import ERROR
from service.models import ApiKey, Question

PROTECTED = [("post", "/api/v1/questions"), ("get", "/api/v1/questions/1"),
             ("get", "/api/v1/jobs/1"), ("get", "/api/v1/jobs/1/figures/accuracy"),
             ("get", "/api/v1/jobs/1/data.csv"), ("post", "/api/v1/jobs/1/cancel")]


def test_the_protected_list_is_every_authenticated_endpoint():
    protected = {(e.method.lower(), e.openapi_path) for e in ENDPOINTS if e.auth}
    assert protected == {(m, p.replace("/1/figures/accuracy", "/{job_id}/figures/{name}")
                          .replace("/jobs/1", "/jobs/{job_id}")
                          .replace("/questions/1", "/questions/{question_id}"))
                         for m, p in PROTECTED}


@pytest.mark.parametrize("method, path", PROTECTED)
@pytest.mark.parametrize("header", [None, "Bearer", "Bearer bnlab_not-a-real-key",
                                    "Basic dXNlcjpwYXNz", "bnlab_raw-key-without-scheme"])
def test_missing_or_bad_key_is_401(client, database, api_key, method, path, header):
    headers = {"Authorization": header} if header else {}
    response = getattr(client, method)(path, headers=headers,
                                       json={"text": "why not running averages?"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert ERROR.validate(response.get_json())["error"]["code"] == "unauthorized"
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Question)) == 0


def test_a_revoked_key_is_401(client, database, api_key):
    from service.auth import revoke_key

    headers = {"Authorization": f"Bearer {api_key}"}
    assert client.get("/api/v1/questions/1", headers=headers).status_code == 404
    with database.session() as session:
        revoke_key(session, "tester")
    assert client.get("/api/v1/questions/1", headers=headers).status_code == 401


@pytest.mark.parametrize("path", ["/api/v1/types", "/api/v1/openapi.json", "/healthz"])
def test_public_routes_need_no_key(client, path):
    assert client.get(path).status_code == 200


def test_only_a_hash_of_the_key_is_stored(database, api_key):
    with database.session() as session:
        row = session.scalar(select(ApiKey))
    assert api_key not in (row.key_hash, row.prefix, row.name)
    assert len(row.key_hash) == 64 and api_key.startswith(row.prefix)


def test_key_names_are_checked(database):
    from service.auth import ApiKeyError, create_key, revoke_key

    with database.session() as session:
        create_key(session, "bot")
        for bad in ("bot", "", "has space", "x" * 101):
            with pytest.raises(ApiKeyError):
                create_key(session, bad)
        with pytest.raises(ApiKeyError):
            revoke_key(session, "nobody")
