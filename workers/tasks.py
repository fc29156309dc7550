"""The Celery task: a job id in, `execute_job` does the rest.

`on_failure` covers the one end execute_job cannot see: at the hard time limit the pool kills
the process running the job, and Celery calls on_failure in the worker's main process instead.
"""

from __future__ import annotations

import logging

from celery import Task, shared_task
from celery.exceptions import TimeLimitExceeded

from service import jobs
from service.config import get_settings

from .celery_app import TASK_NAME
from .execute import database_for, execute_job, worker_name

log = logging.getLogger(__name__)


class JobTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        if not isinstance(exc, TimeLimitExceeded) or not args:
            return
        settings = get_settings()
        reason = (f"time limit: the job ran longer than {settings.hard_time_limit} s "
                  "and its process was killed")
        with database_for(settings).session() as session:
            jobs.fail_job(session, int(args[0]), reason)
        log.warning("job %s: %s", args[0], reason)


@shared_task(bind=True, base=JobTask, name=TASK_NAME)
def execute_job_task(self, job_id: int) -> str:
    return execute_job(int(job_id), worker=worker_name(self.request.hostname or "celery"))
