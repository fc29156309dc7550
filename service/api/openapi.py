"""GET /api/v1/openapi.json: the OpenAPI 3 document, made from the endpoint records and the
schemas that validate requests (schemas.py), so it says what the code does."""

from __future__ import annotations

import functools

from . import bp
from .endpoints import ENDPOINTS, endpoint
from .errors import CODES
from .schemas import ERROR


@endpoint(bp, "GET", "/openapi.json", summary="This document", auth=False)
def get_openapi():
    return openapi_document()


@functools.cache
def openapi_document() -> dict:
    schemas = {s.name: s.to_openapi() for s in ERROR.nested()}
    paths: dict[str, dict] = {}
    for ep in ENDPOINTS:
        operation: dict = {"operationId": ep.name, "summary": ep.summary,
                           "responses": {}}
        if ep.path_params:
            operation["parameters"] = [
                {"name": name, "in": "path", "required": True, "schema": schema}
                for name, schema in ep.path_params]
        if ep.body is not None:
            for s in ep.body.nested():
                schemas.setdefault(s.name, s.to_openapi())
            operation["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{ep.body.name}"}}}}
        if ep.response is not None:
            for s in ep.response.nested():
                schemas.setdefault(s.name, s.to_openapi())
            content = {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{ep.response.name}"}}}
        elif ep.media_type == "application/json":
            content = {"application/json": {"schema": {"type": "object"}}}
        else:
            content = {ep.media_type: {"schema": {"type": "string", "format": "binary"}}}
        operation["responses"][str(ep.status)] = {"description": "OK", "content": content}
        if ep.conditional:
            operation.setdefault("parameters", []).append(
                {"name": "If-None-Match", "in": "header", "required": False,
                 "schema": {"type": "string"}, "description": "An ETag from an earlier answer"})
            operation["responses"]["304"] = {"description": "Not modified since that ETag"}
        for status in ep.errors:
            operation["responses"][str(status)] = {
                "description": CODES.get(status, "error").replace("_", " "),
                "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Error"}}}}
        operation["security"] = [{"apiKey": []}] if ep.auth else []
        paths.setdefault(ep.openapi_path, {})[ep.method.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": "bnlab", "version": "1",
                 "description": "Answers Batch Normalization questions with live PyTorch "
                                "experiments."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                                           "description": "A key from `bnlab keys create`."}},
        },
    }
