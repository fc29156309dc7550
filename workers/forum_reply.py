"""The Celery task for forum replies: a forum post's row id in, one reply step done.

A step that has more to do (jobs still running, a Retry-After to honour) sends the task again
with that countdown, so no worker process waits on a forum post and a worker restart loses
nothing: the row (service/bot/store.py) says where the reply stands.
"""

from __future__ import annotations

import functools

from celery import shared_task

from service.bot.runner import FORUM_TASK, CeleryRunner
from service.config import get_settings

from .execute import database_for


@functools.cache
def _context(celery):
    from service.bot.discourse import Discourse
    from service.bot.reply import BotContext

    from .dispatch import CeleryDispatcher

    settings = get_settings()
    return BotContext(settings, database_for(settings), Discourse.from_settings(settings),
                      CeleryDispatcher(celery))


@shared_task(bind=True, name=FORUM_TASK)
def forum_reply_task(self, row_id: int) -> float | None:
    from service.bot.reply import advance

    delay = advance(_context(self.app), int(row_id))
    if delay is not None:
        CeleryRunner(self.app, get_settings().cpu_queue).kick(int(row_id), delay)
    return delay
