"""The probe: a stand-in question type for fault runs, and the Celery app that serves it.

`chaos_probe` takes `steps` steps of `step_ms` milliseconds, reporting progress at each, and
when it completes appends its `tag` to the ledger file (CHAOS_LEDGER_FILE): a tag written twice
is a job whose experiment ran to the end twice. It goes through the real execute_job, claim,
heartbeat and store; only the experiment is cheap. `celery -A service.chaos.probe worker` is
bnlab's worker with this type added to the catalog.
"""

from __future__ import annotations

import os
import time

from experiments import catalog
from experiments.params import Param, Schema
from experiments.result import Result

TYPE = "chaos_probe"
# Not BNLAB_*: bnlab refuses settings it does not know.
LEDGER_ENV = "CHAOS_LEDGER_FILE"

SCHEMA = Schema((
    Param("tag", "int", 0, "unique per job, written to the ledger when the run completes",
          0, 10**9),
    Param("steps", "int", 8, "steps of the run", 1, 10_000),
    Param("step_ms", "int", 500, "milliseconds per step", 1, 60_000),
))


def experiment(ctx) -> Result:
    steps, step_s = int(ctx.params["steps"]), int(ctx.params["step_ms"]) / 1000
    for i in range(steps):
        ctx.progress(i / steps, f"step {i + 1} of {steps}")
        time.sleep(step_s)
    ledger = os.environ.get(LEDGER_ENV)
    if ledger:
        # One short O_APPEND write per completed run: whole lines even from many processes.
        fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{ctx.params['tag']}\n".encode())
        finally:
            os.close(fd)
    return Result(TYPE, "Probe", "It ran.", "## Probe", dict(ctx.params), ctx.preset,
                  [{"arm": "probe", "steps": steps}], [], [], {"device": str(ctx.device)})


QUESTION = catalog.QuestionType(TYPE, "Probe", "Does the job survive faults?", SCHEMA,
                                experiment)


def install() -> None:
    """Add the probe to this process's catalog lookups."""
    real_get = catalog.get
    if getattr(real_get, "probe_installed", False):
        return

    def get(type_id: str):
        return QUESTION if type_id == TYPE else real_get(type_id)

    get.probe_installed = True
    catalog.get = get


install()

from workers.celery_app import app  # noqa: E402  (the worker's app, with the probe installed)

__all__ = ["QUESTION", "TYPE", "app", "install"]
