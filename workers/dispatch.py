"""How a new job reaches a worker: Celery over Redis, or the embedded local worker.

`make_dispatcher(settings)` picks one (settings.uses_celery); both take a committed Job row.
"""

from __future__ import annotations

import logging
from typing import Protocol

from service.config import Settings

log = logging.getLogger(__name__)


class Dispatcher(Protocol):
    def enqueue(self, job) -> None:
        """Send the job to a worker; raise if it cannot be sent."""

    def stop(self, job) -> None:
        """Stop a cancelled job that is running, where the executor can."""


class CeleryDispatcher:
    def __init__(self, celery):
        self.celery = celery

    def enqueue(self, job) -> None:
        from .celery_app import TASK_NAME

        # The task id was chosen when the row was made, so cancel can revoke it later.
        self.celery.send_task(TASK_NAME, args=[job.id], queue=job.queue, task_id=job.task_id)

    def stop(self, job) -> None:
        # The row is already cancelled, so a worker that picks the message up later drops it;
        # terminating kills the process running it now instead of waiting for its next
        # progress write (a long GPU step).
        try:
            self.celery.control.revoke(job.task_id, terminate=True, signal="SIGTERM")
        except Exception:  # noqa: BLE001 - the cancel stands; the worker notices it anyway
            log.warning("could not revoke task %s of job %s", job.task_id, job.id, exc_info=True)


class LocalDispatcher:
    def __init__(self, worker):
        self.worker = worker

    def enqueue(self, job) -> None:
        self.worker.submit(job.id)

    def stop(self, job) -> None:
        """Threads cannot be killed: the job stops at its next progress write."""


def make_dispatcher(settings: Settings, celery=None) -> Dispatcher:
    if settings.uses_celery:
        from .celery_app import make_celery

        return CeleryDispatcher(celery or make_celery(settings))
    from .local import LocalWorker

    return LocalDispatcher(LocalWorker(settings))
