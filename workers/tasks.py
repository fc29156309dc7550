"""The Celery task: a job id in, `execute_job` does the rest.

A job the database would not let the worker claim or record (InfrastructureError) is handed back
to the broker (rejected and requeued), never acknowledged as done: the row still says what is
left to do, and no attempt was spent. `on_failure` covers the one end execute_job cannot see: at
the hard time limit the pool kills the process running the job, and Celery calls on_failure in
the worker's main process instead.
"""

from __future__ import annotations

import logging

from celery import Task, shared_task
from celery.exceptions import Reject, TimeLimitExceeded

from service import jobs
from service.config import get_settings

from .celery_app import TASK_NAME
from .dispatch import CeleryDispatcher
from .execute import InfrastructureError, database_for, execute_job, with_database, worker_name

log = logging.getLogger(__name__)


class JobTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        if not isinstance(exc, TimeLimitExceeded) or not args:
            return
        settings = get_settings()
        reason = (f"time limit: the job ran longer than {settings.hard_time_limit} s "
                  "and its process was killed")

        def fail_it():
            with database_for(settings).session() as session:
                jobs.fail_job(session, int(args[0]), reason)

        with_database(settings, f"job {args[0]}: fail", fail_it)
        log.warning("job %s: %s", args[0], reason)


@shared_task(bind=True, base=JobTask, name=TASK_NAME)
def execute_job_task(self, job_id: int) -> str:
    try:
        return execute_job(int(job_id), worker=worker_name(self.request.hostname or "celery"),
                           dispatcher=CeleryDispatcher(self.app))
    except InfrastructureError as exc:
        log.warning("job %s: %s; the message goes back to the queue", job_id, exc)
        raise Reject(str(exc), requeue=True) from exc
