"""A Celery worker's start and stop: its reconciler, and SIGTERM handling in its pool.

Connected to Celery's signals when workers.celery_app is imported; in a process that only
enqueues (the web app) they never fire.
"""

from __future__ import annotations

import logging

from celery import signals

from service.config import get_settings

from . import shutdown

log = logging.getLogger(__name__)

_running: dict[str, object] = {}


@signals.task_prerun.connect
def _before_a_job(**_):
    # In the pool process, right before the task: billiard installs its own SIGTERM handler
    # after worker_process_init, so that signal would be too early.
    shutdown.install(get_settings().shutdown_grace)


@signals.worker_ready.connect
def _worker_ready(sender=None, **_):
    """Every worker runs a reconciler; the advisory lock lets one of them act per pass."""
    from .dispatch import CeleryDispatcher
    from .reconcile import Reconciler

    settings = get_settings()
    _running["reconciler"] = Reconciler(settings, CeleryDispatcher(sender.app)).start()
    log.info("reconciler started: every %.0f s, jobs stale after %.0f s",
             settings.reconcile_interval, settings.stale_after)


@signals.worker_shutting_down.connect
def _worker_shutting_down(sig=None, how=None, **_):
    reconciler = _running.pop("reconciler", None)
    if reconciler is not None:
        reconciler.stop()
    if how == "Warm":
        shutdown.forward_to_pool()
