"""`@endpoint(...)`: registers a view on the API blueprint and records it for OpenAPI.

The decorator does what every API view needs before it runs: the API key check (unless the
route is public), parsing the JSON body and validating it with the endpoint's schema. The same
Endpoint records are what service/api/openapi.py turns into the document.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass

from flask import Blueprint, current_app, g, request
from werkzeug.routing import IntegerConverter

from ..auth import verify_key
from ..db import get_session
from .errors import ApiError
from .schemas import Schema, ValidationError

PREFIX = "/api/v1"

# Row ids are PostgreSQL integers: 1 .. 2**31 - 1. A path id outside that is no row (404), and
# is refused by the URL rule before it reaches the database.
ID_MAX = 2**31 - 1
ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": ID_MAX}


class IdConverter(IntegerConverter):
    """`<id:name>`: a row id, 1 .. ID_MAX; anything else does not match the route (404)."""

    def __init__(self, url_map, **kwargs):
        super().__init__(url_map, min=1, max=ID_MAX)


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # Flask rule relative to the blueprint, e.g. /jobs/<id:job_id>
    name: str
    summary: str
    body: Schema | None
    status: int
    response: Schema | None  # None: not JSON (see media_type)
    media_type: str
    errors: tuple[int, ...]
    auth: bool
    prefix: str
    conditional: bool = False  # answers If-None-Match with 304

    @property
    def openapi_path(self) -> str:
        """/jobs/<id:job_id> -> /api/v1/jobs/{job_id}"""
        return self.prefix + re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", self.path)

    @property
    def path_params(self) -> list[tuple[str, dict]]:
        """(name, OpenAPI schema) of each path parameter."""
        kinds = {"id": ID_SCHEMA, "int": {"type": "integer"}}
        return [(name, dict(kinds.get(kind, {"type": "string"})))
                for kind, name in re.findall(r"<(?:([a-z]+):)?([a-z_]+)>", self.path)]


ENDPOINTS: list[Endpoint] = []


def endpoint(bp: Blueprint, method: str, path: str, *, summary: str, status: int = 200,
             response: Schema | None = None, body: Schema | None = None,
             media_type: str = "application/json", errors: tuple[int, ...] = (),
             auth: bool = True, prefix: str = PREFIX, conditional: bool = False):
    def decorator(view):
        # Every keyed route reads the database (the key), so an outage is a 503 there.
        all_errors = tuple(sorted(set(errors) | ({401, 503} if auth else set())
                                  | ({400, 415, 422} if body else set())))
        ENDPOINTS.append(Endpoint(method, path, view.__name__, summary, body, status, response,
                                  media_type, all_errors, auth, prefix, conditional))

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


# Request bodies are flat; a JSON document nested deeper than this is not one of them (and
# a deep enough one would exhaust the parser's recursion).
MAX_JSON_DEPTH = 32


def parse_body(schema: Schema) -> dict:
    if not request.is_json:
        raise ApiError(415, "the request body must be JSON: send Content-Type: "
                            "application/json", fields={"Content-Type": "expected "
                                                        "application/json"})
    raw = read_body()
    try:
        data = json.loads(raw)
    except RecursionError:
        data = _TOO_DEEP
    except ValueError:  # bad JSON, or bytes that are not UTF-8
        raise ApiError(400, "the request body must be JSON",
                       fields={"body": "expected a JSON object"}) from None
    if data is _TOO_DEEP or _depth(data) > MAX_JSON_DEPTH:
        raise ApiError(400, f"the request body is nested deeper than {MAX_JSON_DEPTH} levels",
                       fields={"body": "expected a flat JSON object"})
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object",
                       fields={"body": "expected a JSON object"})
    try:
        return schema.validate(data)
    except ValidationError as exc:
        message = ("the request is too large" if exc.status == 413
                   else "the request has invalid fields")
        raise ApiError(exc.status, message, fields=exc.fields) from None




_TOO_DEEP = object()


def read_body() -> bytes:
    """The raw body, 413 past MAX_CONTENT_LENGTH. With a Content-Length Werkzeug refuses an
    oversize body itself; a chunked one has none, and Werkzeug would silently cut it at the
    limit (then it reads as bad JSON), so it is read here one byte past the limit."""
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None or limit is None:
        return request.get_data(cache=True)
    raw = request.environ["wsgi.input"].read(limit + 1)
    if len(raw) > limit:
        raise ApiError(413, f"the request body is over {limit:,} bytes",
                       fields={"body": f"at most {limit:,} bytes"})
    return raw


def _depth(data) -> int:
    """How deeply lists and objects nest in parsed JSON, counted without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                return deepest
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
    return deepest
