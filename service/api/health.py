"""/healthz (the process answers) and /readyz (its database, schema and Redis are usable)."""

from __future__ import annotations

from flask import Blueprint, current_app

from ..db import get_db
from . import endpoints
from .errors import ApiError
from .schemas import HEALTH

bp = Blueprint("health", __name__)


@endpoints.endpoint(bp, "GET", "/healthz", summary="Liveness", response=HEALTH, auth=False,
                    prefix="")
def healthz():
    return {"status": "ok"}


@endpoints.endpoint(bp, "GET", "/readyz", summary="Readiness: database at the current schema, "
                    "Redis reachable when used", response=HEALTH, errors=(503,), auth=False,
                    prefix="")
def readyz():
    checks: dict[str, str] = {}
    db = get_db()
    try:
        db.ping()
        current, head = db.revision(), db.head()
        checks["database"] = "ok" if current == head else f"schema at {current}, not {head}"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready, with its reason
        checks["database"] = f"{type(exc).__name__}: {exc}"
    settings = current_app.config["BNLAB"]
    if settings.redis_url:
        try:
            import redis

            redis.Redis.from_url(settings.redis_url, socket_timeout=2,
                                 socket_connect_timeout=2).ping()
            checks["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["redis"] = f"{type(exc).__name__}: {exc}"
    failing = {k: v for k, v in checks.items() if v != "ok"}
    if failing:
        raise ApiError(503, "not ready", fields=failing, code="not_ready")
    return {"status": "ready", "checks": checks}
