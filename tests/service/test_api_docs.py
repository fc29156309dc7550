"""The OpenAPI document, the types catalog, and the health routes."""

from __future__ import annotations

from experiments import catalog
from service.api.schemas import ERROR, HEALTH, MAX_TEXT_CHARS, QUESTION_REQUEST

CONTRACT = {  # architecture.md, HTTP API
    ("post", "/api/v1/questions"), ("get", "/api/v1/questions/{question_id}"),
    ("get", "/api/v1/jobs/{job_id}"), ("get", "/api/v1/jobs/{job_id}/figures/{name}"),
    ("get", "/api/v1/jobs/{job_id}/data.csv"), ("post", "/api/v1/jobs/{job_id}/cancel"),
    ("get", "/api/v1/types"), ("get", "/api/v1/openapi.json"), ("get", "/healthz"),
    ("get", "/readyz"),
}


def test_openapi_lists_the_contract_routes(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    assert {(m, p) for p, ops in document["paths"].items() for m in ops} == CONTRACT
    post = document["paths"]["/api/v1/questions"]["post"]
    assert set(post["responses"]) >= {"202", "400", "401", "413", "422", "429"}
    assert post["security"] == [{"apiKey": []}]
    assert document["paths"]["/api/v1/types"]["get"]["security"] == []
    figure = document["paths"]["/api/v1/jobs/{job_id}/figures/{name}"]["get"]
    assert "image/png" in figure["responses"]["200"]["content"]
    assert [p["name"] for p in figure["parameters"] if p["in"] == "path"] == ["job_id", "name"]


def test_openapi_schemas_are_the_validating_ones(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert schemas["QuestionRequest"] == QUESTION_REQUEST.to_openapi()
    text = schemas["QuestionRequest"]["properties"]["text"]
    assert text["maxLength"] == MAX_TEXT_CHARS and schemas["QuestionRequest"]["required"] == [
        "text"]
    assert schemas["QuestionRequest"]["properties"]["preset"]["enum"] == ["smoke", "quick",
                                                                          "full"]
    assert schemas["QuestionRequest"]["additionalProperties"] is False
    refs = {"Question", "Ask", "JobRef", "Job", "Result", "Figure", "Error", "ErrorBody"}
    assert refs <= set(schemas)
    assert schemas["Error"] == ERROR.to_openapi()


def test_types_is_the_catalog(client):
    body = client.get("/api/v1/types").get_json()
    assert [t["id"] for t in body["types"]] == catalog.ids()
    ready = [t for t in body["types"] if t["status"] == "ready"]
    assert ready and all("params" in t and "presets" in t for t in ready)


def test_healthz_and_readyz(client):
    assert HEALTH.validate(client.get("/healthz").get_json()) == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.get_json()
    checks = HEALTH.validate(ready.get_json())["checks"]
    assert checks["database"] == "ok"


def test_readyz_is_503_before_migrations_and_without_redis(tmp_path):
    from service.app import create_app

    app = create_app({"instance": tmp_path, "database_url": f"sqlite:///{tmp_path}/empty.db",
                      "redis_url": "redis://127.0.0.1:1/0"})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    error = ERROR.validate(response.get_json())["error"]
    assert error["code"] == "not_ready"
    assert error["fields"]["database"].startswith("schema behind")
    # Which dependency is down, and nothing of the driver's message (host, port).
    assert error["fields"]["redis"] == "unavailable"
    assert "127.0.0.1" not in response.get_data(as_text=True)
    assert response.headers["Retry-After"].isdigit()
