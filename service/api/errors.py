"""The API's one error shape: {"error": {"code", "message", "fields"}}.

Views raise ApiError; HTTP errors from Flask itself (404 for an unknown path, 405, 413 for an
oversize body) get the same shape under /api/ and on the health routes, so a client parses
one thing. A database or broker outage is 503 with Retry-After, in the same shape, on every
route; the driver's message (hosts, ports, database names) goes to the log, not to the client.
"""

from __future__ import annotations

import logging

from flask import jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


# Seconds a client should wait before trying again after a 503.
RETRY_AFTER_S = 5


def unavailable_dependency(exc: BaseException) -> str | None:
    """"database" or "queue" when `exc` says that dependency is unreachable, else None."""
    from ..db import is_unavailable

    if is_unavailable(exc):
        return "database"
    import kombu.exceptions
    import redis.exceptions

    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError
                  | kombu.exceptions.OperationalError):
        return "queue"
    return None


class ApiError(Exception):
    def __init__(self, status: int, message: str, fields: dict[str, str] | None = None,
                 code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message = status, message
        self.fields = fields or {}
        self.code = code or CODES.get(status, "error")
        self.headers = headers or {}


def error_response(status: int, message: str, fields: dict[str, str] | None = None,
                   code: str | None = None, headers: dict[str, str] | None = None):
    body = {"error": {"code": code or CODES.get(status, "error"), "message": message,
                      "fields": fields or {}}}
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _json_wanted() -> bool:
    return (request.path.startswith(("/api/", "/bot/"))
            or request.path in ("/healthz", "/readyz"))


def init_app(app) -> None:
    @app.errorhandler(ApiError)
    def handle_api_error(exc: ApiError):
        return error_response(exc.status, exc.message, exc.fields, exc.code, exc.headers)

    @app.errorhandler(HTTPException)
    def handle_http_error(exc: HTTPException):
        if not _json_wanted():
            return exc
        headers = dict(exc.get_headers())
        headers.pop("Content-Type", None)
        return error_response(exc.code or 500, exc.description or exc.name, headers=headers)

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return handle_http_error(exc)
        dependency = unavailable_dependency(exc)
        if dependency is not None:
            log.warning("%s unavailable on %s %s: %s", dependency, request.method,
                        request.path, type(exc).__name__)
            return error_response(503, f"the {dependency} is unavailable; retry shortly",
                                  code="unavailable",
                                  headers={"Retry-After": str(RETRY_AFTER_S)})
        log.exception("unhandled error on %s %s", request.method, request.path)
        if not _json_wanted():
            raise exc
        return error_response(500, "internal error; it has been logged")
