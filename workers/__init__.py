"""Job execution: the one `execute_job(job_id)` every path uses, the Celery app and tasks that
call it on workers, and the embedded local worker used when no Redis is configured."""
