"""Who runs a forum post's reply steps (service/bot/reply.py): a background thread of the web
process when there is no Redis, or the Celery task `bnlab.forum_reply` (workers/forum_reply.py),
so that with Celery a restart of the web process loses nothing."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import select

from ..models import OPEN_FORUM_STATES, ForumPost

log = logging.getLogger(__name__)

FORUM_TASK = "bnlab.forum_reply"


class CeleryRunner:
    def __init__(self, celery, queue: str):
        self.celery, self.queue = celery, queue

    def kick(self, row_id: int, delay: float = 0.0) -> None:
        self.celery.send_task(FORUM_TASK, args=[row_id], queue=self.queue,
                              countdown=max(delay, 0.0) or None)


class ThreadRunner:
    """Steps on one daemon thread, each at its due time; `make_context()` gives the
    BotContext when the first step runs (the app's dispatcher may be replaced until then)."""

    def __init__(self, make_context: Callable[[], object]):
        self.make_context = make_context
        self._due: list[tuple[float, int, int]] = []  # (when, tie-break, row id)
        self._count = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def kick(self, row_id: int, delay: float = 0.0) -> None:
        with self._wake:
            heapq.heappush(self._due, (time.monotonic() + delay, next(self._count), row_id))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="bnlab-forum-bot")
                self._thread.start()
            self._wake.notify()

    def resume(self, db) -> int:
        """Kick the posts an earlier run of this process left open; returns how many."""
        with db.session() as session:
            ids = session.scalars(select(ForumPost.id).where(
                ForumPost.state.in_(OPEN_FORUM_STATES)).order_by(ForumPost.id)).all()
        for row_id in ids:
            self.kick(row_id)
        return len(ids)

    def idle(self) -> bool:
        with self._wake:
            return not self._due

    def _next(self) -> int:
        with self._wake:
            while True:
                now = time.monotonic()
                if self._due and self._due[0][0] <= now:
                    return heapq.heappop(self._due)[2]
                self._wake.wait(timeout=(self._due[0][0] - now) if self._due else None)

    def _run(self) -> None:
        from .reply import advance

        context = None
        while True:
            row_id = self._next()
            try:
                context = context or self.make_context()
                delay = advance(context, row_id)
            except Exception:  # noqa: BLE001 - one broken post must not stop the bot
                log.exception("forum bot: post row %s", row_id)
                continue
            if delay is not None:
                self.kick(row_id, delay)
