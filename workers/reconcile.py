"""The reconciler: makes the queue agree with the job rows, which are the truth.

Each pass (every `reconcile_interval` seconds, in every worker and in the embedded server):

1. running jobs whose heartbeat is older than `stale_after` lost their worker: they are queued
   again under a new task id (the lost attempt counts) or, out of attempts, failed;
2. queued jobs whose message was never sent (`dispatched_at` null: the broker was down when
   they were made, or a worker handed them back) are sent; so are queued jobs whose message is
   no longer in the broker (Redis restarted without it), checked in the queue lists and in the
   unacknowledged set of messages delivered within `stale_after`;
3. jobs that ended but still hold their job key give it up.

Only one process reconciles at a time: each pass takes a PostgreSQL advisory lock for its
transaction and is skipped where another holds it (SQLite is one process, embedded). A second
message for a job is harmless, because claim_job never starts a job that is running with a fresh
heartbeat, so every step may err towards sending. After an outage of its own database, a
reconciler waits `stale_after` before judging heartbeats, so that workers that were waiting out
the same outage have time to beat again.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import text

from service import jobs
from service.config import Settings
from service.db import Database, is_unavailable
from service.models import Job, utcnow

from .dispatch import send_job

log = logging.getLogger(__name__)

LOCK_ID = 0x626E6C6162  # "bnlab": the advisory lock of the reconciler


@dataclass
class Pass:
    """What one pass did (job ids)."""

    leader: bool = True
    requeued: list[int] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)
    unsent: list[int] = field(default_factory=list)
    keys_released: int = 0


class BrokerQueues:
    """Which task ids the Redis broker still holds (kombu's Redis layout: one list per queue,
    and the `unacked` hash with its `unacked_index` of delivery times)."""

    def __init__(self, settings: Settings):
        import redis

        self.client = redis.Redis.from_url(settings.redis_url,
                                           socket_timeout=settings.broker_timeout,
                                           socket_connect_timeout=settings.broker_timeout)
        self.queues = (settings.gpu_queue, settings.cpu_queue)
        self.recent = settings.stale_after

    def task_ids(self) -> set[str]:
        ids: set[str] = set()
        for queue in self.queues:
            for raw in self.client.lrange(queue, 0, -1):
                ids.add(_task_id(raw))
        since = time.time() - self.recent
        recent = self.client.zrangebyscore("unacked_index", since, "+inf")
        if recent:
            for raw in self.client.hmget("unacked", recent):
                if raw is not None:
                    ids.add(_task_id(raw, wrapped=True))
        ids.discard("")
        return ids

    def close(self) -> None:
        self.client.close()


def _task_id(raw: bytes, wrapped: bool = False) -> str:
    try:
        message = json.loads(raw)
        if wrapped:  # unacked entries are [message, exchange, routing key]
            message = message[0]
        return str(message["headers"]["id"])
    except (ValueError, KeyError, IndexError, TypeError):
        return ""


class Reconciler:
    def __init__(self, settings: Settings, dispatcher, db: Database | None = None,
                 broker: BrokerQueues | None = None):
        self.settings, self.dispatcher = settings, dispatcher
        self.db = db or Database(settings.database_url)
        self.broker = broker if broker is not None else (
            BrokerQueues(settings) if settings.uses_celery else None)
        # Monotonic time since the database has answered; -inf: since before we started.
        self.healthy_since = float("-inf")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> Pass:
        """One pass; raises what the database raised (the loop logs and carries on)."""
        try:
            done, to_send = self._reconcile_rows()
        except Exception as exc:
            if is_unavailable(exc):
                self.healthy_since = None
            raise
        if self.healthy_since is None:
            self.healthy_since = time.monotonic()
        if done.leader:
            self._send(done, to_send)
        return done

    def _reconcile_rows(self) -> tuple[Pass, list[Job]]:
        settings, done = self.settings, Pass()
        with self.db.session() as session:
            if self.db.backend == "postgresql" and not session.scalar(
                    text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": LOCK_ID}):
                return Pass(leader=False), []
            recovered_for = time.monotonic() - (self.healthy_since or time.monotonic())
            if recovered_for >= settings.stale_after:
                done.requeued = jobs.requeue_stale(session, settings.stale_after,
                                                   settings.max_attempts)
            done.keys_released = jobs.release_ended_keys(session)
            grace = timedelta(seconds=max(settings.reconcile_interval,
                                          2 * settings.broker_timeout))
            candidates = jobs.queued_jobs(session, sent_before=utcnow() - grace)
            session.commit()
        now = utcnow()
        to_send = [job for job in candidates if job.id in done.requeued
                   or job.dispatched_at is None and _age(job.created_at, now) > grace]
        maybe_lost = [job for job in candidates if job not in to_send
                      and job.dispatched_at is not None]
        if maybe_lost and self.broker is not None:
            held = self.broker.task_ids()
            to_send += [job for job in maybe_lost if job.task_id not in held]
        return done, to_send

    def _send(self, done: Pass, to_send: list[Job]) -> None:
        with self.db.session() as session:
            for job in to_send:
                (done.sent if send_job(session, self.dispatcher, job) else done.unsent).append(
                    job.id)
        if done.requeued or done.sent or done.keys_released:
            log.info("reconciler: requeued %s, sent %s, %s unsent, %s keys released",
                     done.requeued, done.sent, len(done.unsent), done.keys_released)

    def start(self) -> Reconciler:
        """Run passes on a daemon thread until stop()."""
        self._thread = threading.Thread(target=self._loop, daemon=True, name="bnlab-reconciler")
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as exc:  # noqa: BLE001 - the next pass tries again
                log.warning("reconciler pass failed: %s: %s", type(exc).__name__,
                            str(exc).splitlines()[0] if str(exc) else "")
            self._stop.wait(self.settings.reconcile_interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self.broker is not None:
            self.broker.close()


def _age(moment, now) -> timedelta:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=now.tzinfo)
    return now - moment
