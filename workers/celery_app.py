"""The Celery application: `celery -A workers.celery_app worker -Q gpu -c 1`.

All Celery settings live in `celery_config()`, built from bnlab's settings (service/config.py),
so a worker, the web process that enqueues, and the tests agree on queues and limits. Tasks carry
only a job id; the job row in the database is the truth about the job, not the broker.
"""

from __future__ import annotations

from celery import Celery

from service.config import Settings, get_settings

TASK_NAME = "bnlab.execute_job"


def celery_config(settings: Settings) -> dict:
    return {
        "broker_url": settings.redis_url,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {
            # Redis hands an unacknowledged message to another worker after this many seconds;
            # it exceeds the hard time limit, so a job still running is never started twice.
            "visibility_timeout": settings.visibility_timeout,
            # Look for such messages (those of a worker that died whole) every few seconds, a
            # cheap query, so they are delivered again soon after the timeout, not minutes late.
            "unacked_restore_interval": max(1, min(10, settings.visibility_timeout // 10)),
            "unacked_restore_throttle": 1,
            # A send to a Redis that is down or paused fails within this time instead of
            # hanging the web request; the job row stays queued for the reconciler.
            "socket_timeout": max(settings.broker_timeout, 5.0),
            "socket_connect_timeout": settings.broker_timeout,
        },
        "broker_connection_timeout": settings.broker_timeout,
        # Results go to the database, not to a Celery result backend.
        "task_ignore_result": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_default_queue": settings.cpu_queue,
        # Acknowledge after the job ran, and put the message back when the worker process died
        # (SIGKILL, out of memory), so a lost worker never loses its job. execute_job's atomic
        # claim and attempt count make the rerun safe and bounded.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # A job that hit its hard time limit is failed by the task's on_failure, not rerun.
        "task_acks_on_failure_or_timeout": True,
        # One message at a time per process: a long GPU job never holds others hostage.
        "worker_prefetch_multiplier": 1,
        "task_soft_time_limit": settings.soft_time_limit,
        "task_time_limit": settings.hard_time_limit,
        # If the broker connection drops, let running jobs finish: their result goes to the
        # database, and the message delivered again later finds the job done. Cancelling them
        # would throw the work away and leave the row running until the reconciler came.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "worker_hijack_root_logger": False,
    }


def make_celery(settings: Settings) -> Celery:
    celery = Celery("bnlab", include=["workers.tasks", "workers.forum_reply"])
    celery.config_from_object(celery_config(settings))
    return celery


def celery_init_app(flask_app) -> Celery:
    """Give a Flask app its Celery instance in app.extensions["celery"], used to enqueue.

    The tasks need no Flask app context: they work on the data layer directly, so a worker
    never builds the web app (workers sit below service in architecture.md's layers).
    """
    celery = make_celery(flask_app.config["BNLAB"])
    flask_app.extensions["celery"] = celery
    return celery


# The worker's app, from the environment (BNLAB_REDIS_URL, queue names, time limits).
app = make_celery(get_settings())

from . import lifecycle  # noqa: E402,F401  (the worker's signal handlers)
