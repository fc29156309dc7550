"""How a new job reaches a worker: Celery over Redis, or the embedded local worker.

`make_dispatcher(settings)` picks one (settings.uses_celery); both take a committed Job row.
`send_job` is how every caller (the API, the reconciler, a worker handing a job back) sends one:
the row is committed as queued first, the send is bounded by the broker timeout, and a send
that fails leaves the row queued with `dispatched_at` null for the reconciler to send later
(an outbox), so a job can never be half dispatched.
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

        # The task id was chosen when the row was made, so cancel can revoke it later. No
        # retries here: a failed send is the reconciler's to repeat, and the caller must not
        # hang on a broker that is down or paused (the socket timeouts of celery_config).
        self.celery.send_task(TASK_NAME, args=[job.id], queue=job.queue, task_id=job.task_id,
                              retry=False)

    def stop(self, job) -> None:
        # The row is already cancelled, so a worker that picks the message up later drops it;
        # terminating kills the process running it now instead of waiting for its next
        # progress write (a long GPU step).
        from .shutdown import CANCEL_SIGNAL

        try:
            self.celery.control.revoke(job.task_id, terminate=True, signal=CANCEL_SIGNAL.name)
        except Exception:  # noqa: BLE001 - the cancel stands; the worker notices it anyway
            log.warning("could not revoke task %s of job %s", job.task_id, job.id, exc_info=True)


class LocalDispatcher:
    def __init__(self, worker):
        self.worker = worker

    def enqueue(self, job) -> None:
        self.worker.submit(job.id)

    def stop(self, job) -> None:
        # The row is already cancelled; signalling the job's process stops it now rather than
        # at its next progress write.
        self.worker.stop(job.id)


def make_dispatcher(settings: Settings, celery=None) -> Dispatcher:
    if settings.uses_celery:
        from .celery_app import make_celery

        return CeleryDispatcher(celery or make_celery(settings))
    from .local import LocalWorker

    return LocalDispatcher(LocalWorker(settings))


def send_job(session, dispatcher, job) -> bool:
    """Send a committed queued job and record that it was sent; False if the broker could not
    take it (the row stays queued, unsent, for the reconciler). Never raises for an outage."""
    from service import jobs
    from service.db import is_unavailable

    try:
        dispatcher.enqueue(job)
    except Exception as exc:  # noqa: BLE001 - any broker failure leaves it to the reconciler
        log.warning("job %s: could not send it to the queue (%s: %s); the reconciler will",
                    job.id, type(exc).__name__, exc)
        return False
    try:
        jobs.mark_dispatched(session, job.id)
    except Exception as exc:
        session.rollback()
        if not is_unavailable(exc):
            raise
        # Unrecorded, the send is repeated later; a second message for a job is harmless.
        log.warning("job %s: sent, but the database did not record it", job.id)
    return True
