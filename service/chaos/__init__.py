"""Fault injection for bnlab's distributed shape: private PostgreSQL and Redis instances, Celery
worker groups running a fast stand-in job, and the faults that `bnlab bench chaos` and the fault
tests (tests/workers/test_faults.py) run against them. Nothing here touches a shared service:
every instance is started on a private port and stopped at the end."""
