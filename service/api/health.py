"""/healthz (the process answers) and /readyz (its database, schema and Redis are usable).

/readyz is public, so it names what is down ("unavailable", "schema behind") and nothing more:
driver errors carry hosts, ports and database names, and go to the log instead.
"""

from __future__ import annotations

import logging

from flask import Blueprint, current_app

from ..db import get_db
from . import endpoints
from .errors import RETRY_AFTER_S, ApiError
from .schemas import HEALTH

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@endpoints.endpoint(bp, "GET", "/healthz", summary="Liveness", response=HEALTH, auth=False,
                    prefix="")
def healthz():
    return {"status": "ok"}


@endpoints.endpoint(bp, "GET", "/readyz", summary="Readiness: database at the current schema, "
                    "Redis reachable when used", response=HEALTH, errors=(503,), auth=False,
                    prefix="")
def readyz():
    checks = {"database": database_check()}
    settings = current_app.config["BNLAB"]
    if settings.redis_url:
        checks["redis"] = redis_check(settings)
    failing = {k: v for k, v in checks.items() if v != "ok"}
    if failing:
        raise ApiError(503, "not ready: " + ", ".join(f"{k} {v}" for k, v in failing.items()),
                       fields=failing, code="not_ready",
                       headers={"Retry-After": str(RETRY_AFTER_S)})
    return {"status": "ready", "checks": checks}


def database_check() -> str:
    db = get_db()
    try:
        db.ping()
        current, head = db.revision(), db.head()
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        log.warning("readyz: database: %s: %s", type(exc).__name__, exc)
        return "unavailable"
    return "ok" if current == head else "schema behind: run `bnlab db upgrade`"


def redis_check(settings) -> str:
    import redis

    client = redis.Redis.from_url(settings.redis_url, socket_timeout=settings.broker_timeout,
                                  socket_connect_timeout=settings.broker_timeout)
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001
        log.warning("readyz: redis: %s: %s", type(exc).__name__, exc)
        return "unavailable"
    finally:
        client.close()
    return "ok"
