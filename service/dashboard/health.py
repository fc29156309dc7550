"""The Health page's checks: database and Redis reachable, queue lengths, Celery workers and
what they run, or the embedded local worker's own state when there is no Redis.

Each check catches its own failure and reports it as text, so one broken part never hides the
state of the others (a page about trouble must render during trouble).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..api.questions import DISPATCHER

# Seconds to wait for Celery workers to answer an inspect broadcast: the page waits this long
# when none are up, and a live worker answers in milliseconds.
INSPECT_TIMEOUT_S = 1.0
REDIS_TIMEOUT_S = 2


@dataclass
class WorkerInfo:
    name: str
    queues: list[str]
    active: list[dict[str, Any]]  # {"task_id", "job_id"}


@dataclass
class Health:
    database: str = "ok"
    redis: str | None = None  # None: not configured (embedded shape)
    queues: dict[str, int | str] = field(default_factory=dict)  # name -> length or error
    workers: list[WorkerInfo] | None = None  # None: Celery not used
    workers_error: str | None = None
    local: dict[str, Any] | None = None  # the embedded worker's state

    @property
    def ok(self) -> bool:
        return self.database == "ok" and self.redis in (None, "ok")


def check(app, db) -> Health:
    settings = app.config["BNLAB"]
    health = Health(database=_database(db))
    if settings.redis_url:
        health.redis, health.queues = _redis(settings)
    celery = app.extensions.get("celery")
    if celery is not None and health.redis != "ok":
        # Celery would keep retrying the broker connection; the page must answer now.
        health.workers_error = "Redis is unreachable, so the workers cannot be asked"
    elif celery is not None:
        try:
            health.workers = celery_workers(celery, {settings.gpu_queue, settings.cpu_queue})
        except Exception as exc:  # noqa: BLE001 - shown on the page
            health.workers_error = f"{type(exc).__name__}: {exc}"
    local = getattr(app.extensions.get(DISPATCHER), "worker", None)
    if local is not None:
        health.local = local.state()
    return health


def _database(db) -> str:
    try:
        db.ping()
        current, head = db.revision(), db.head()
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"
    return "ok" if current == head else f"schema at {current}, not {head}"


def _redis(settings) -> tuple[str, dict[str, int | str]]:
    import redis

    client = redis.Redis.from_url(settings.redis_url, socket_timeout=REDIS_TIMEOUT_S,
                                  socket_connect_timeout=REDIS_TIMEOUT_S)
    try:
        client.ping()
        # Celery's Redis transport keeps each queue's waiting messages in a list of its name.
        queues: dict[str, int | str] = {
            name: int(client.llen(name)) for name in (settings.gpu_queue, settings.cpu_queue)}
        return "ok", queues
    except Exception as exc:  # noqa: BLE001
        reason = f"{type(exc).__name__}: {exc}"
        return reason, {settings.gpu_queue: "unknown", settings.cpu_queue: "unknown"}
    finally:
        client.close()


def celery_workers(celery, queues: set[str]) -> list[WorkerInfo]:
    """Workers that answer within INSPECT_TIMEOUT_S and consume one of `queues`, with the
    tasks they run now (each task's first argument is its job id)."""
    inspect = celery.control.inspect(timeout=INSPECT_TIMEOUT_S)
    consumed = inspect.active_queues() or {}
    mine = {name: sorted(q["name"] for q in qs) for name, qs in consumed.items()
            if any(q.get("name") in queues for q in qs)}
    if not mine:
        return []
    running = celery.control.inspect(timeout=INSPECT_TIMEOUT_S,
                                     destination=list(mine)).active() or {}
    workers = []
    for name in sorted(mine):
        tasks = [{"task_id": t.get("id"), "job_id": (t.get("args") or [None])[0]}
                 for t in running.get(name, [])]
        workers.append(WorkerInfo(name=name, queues=mine[name], active=tasks))
    return workers
