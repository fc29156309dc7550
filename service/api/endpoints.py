"""`@endpoint(...)`: registers a view on the API blueprint and records it for OpenAPI.

The decorator does what every API view needs before it runs: the API key check (unless the
route is public), parsing the JSON body and validating it with the endpoint's schema. The same
Endpoint records are what service/api/openapi.py turns into the document.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from flask import Blueprint, g, request

from ..auth import verify_key
from ..db import get_session
from .errors import ApiError
from .schemas import Schema, ValidationError

PREFIX = "/api/v1"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # Flask rule relative to the blueprint, e.g. /jobs/<int:job_id>
    name: str
    summary: str
    body: Schema | None
    status: int
    response: Schema | None  # None: not JSON (see media_type)
    media_type: str
    errors: tuple[int, ...]
    auth: bool
    prefix: str

    @property
    def openapi_path(self) -> str:
        """/jobs/<int:job_id> -> /api/v1/jobs/{job_id}"""
        return self.prefix + re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", self.path)

    @property
    def path_params(self) -> list[tuple[str, str]]:
        return [(name, "integer" if kind == "int" else "string")
                for kind, name in re.findall(r"<(?:([a-z]+):)?([a-z_]+)>", self.path)]


ENDPOINTS: list[Endpoint] = []


def endpoint(bp: Blueprint, method: str, path: str, *, summary: str, status: int = 200,
             response: Schema | None = None, body: Schema | None = None,
             media_type: str = "application/json", errors: tuple[int, ...] = (),
             auth: bool = True, prefix: str = PREFIX):
    def decorator(view):
        all_errors = tuple(sorted(set(errors) | ({401} if auth else set())
                                  | ({400, 422} if body else set())))
        ENDPOINTS.append(Endpoint(method, path, view.__name__, summary, body, status, response,
                                  media_type, all_errors, auth, prefix))

        @functools.wraps(view)
        def wrapped(**kwargs):
            if auth:
                authenticate()
            if body is not None:
                kwargs["body"] = parse_body(body)
            return view(**kwargs)

        bp.add_url_rule(path, view.__name__, wrapped, methods=[method])
        return view

    return decorator


UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="bnlab"'}


def authenticate() -> None:
    """Set g.api_key from `Authorization: Bearer <key>`, or raise 401."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "an API key is required: send Authorization: Bearer <key>",
                       headers=UNAUTHORIZED_HEADERS)
    key = verify_key(get_session(), token.strip())
    if key is None:
        raise ApiError(401, "the API key is not valid (unknown or revoked)",
                       headers=UNAUTHORIZED_HEADERS)
    g.api_key = key


def parse_body(schema: Schema) -> dict:
    data = request.get_json(force=True, silent=True)
    if data is None:
        raise ApiError(400, "the request body must be JSON",
                       fields={"body": "expected a JSON object"})
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object",
                       fields={"body": "expected a JSON object"})
    try:
        return schema.validate(data)
    except ValidationError as exc:
        message = ("the request is too large" if exc.status == 413
                   else "the request has invalid fields")
        raise ApiError(exc.status, message, fields=exc.fields) from None


