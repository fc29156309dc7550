"""SIGTERM in a worker: stop taking jobs, give the running one a grace period, then hand it back.

Celery's main process answers SIGTERM with a warm shutdown (no new messages, wait for running
tasks). Its pool processes, though, die at once on SIGTERM by default, and systemd or a container
runtime sends SIGTERM to the whole process group: the running job would restart from zero and
spend an attempt. So each pool process installs `on_sigterm`: idle, it exits as before; running
a job, it lets the job go on for `shutdown_grace` seconds, then raises ShutdownRequested in the
experiment, and execute_job hands the job back to the queue without spending an attempt. When
only the main process is signalled (`docker stop` to PID 1), `forward_to_pool` passes SIGTERM on.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from pathlib import Path

from billiard.pool import SIG_SOFT_TIMEOUT, soft_timeout_sighandler
from celery.exceptions import SoftTimeLimitExceeded

log = logging.getLogger(__name__)


class ShutdownRequested(BaseException):  # noqa: N818 - like SystemExit, not an error
    """The worker is shutting down and the job's grace period is over. A BaseException, so an
    experiment's own `except Exception` cannot swallow it."""


class CancelRequested(BaseException):  # noqa: N818
    """The job was cancelled and its worker told to stop it now (CANCEL_SIGNAL)."""


# What `POST /jobs/<id>/cancel` sends the pool process running the job (revoke, terminate):
# not SIGTERM, which here means "shut down gracefully".
CANCEL_SIGNAL = signal.SIGUSR2


_state: dict = {"grace": 0.0, "busy": False, "requested": False, "previous": None,
                "soft_limit": False}
_lock = threading.Lock()


def install(grace: float) -> None:
    """In a pool process, before each job: handle SIGTERM as described above, and latch the
    soft time limit (`_on_soft_limit`) for this job."""
    _state["grace"] = grace
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not on_sigterm:
        _state["previous"] = previous  # billiard's: an idle pool process exits its own way
    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGALRM, _on_grace_over)
    signal.signal(CANCEL_SIGNAL, _on_cancel)
    _state["soft_limit"] = False
    if SIG_SOFT_TIMEOUT is not None and \
            signal.getsignal(SIG_SOFT_TIMEOUT) in (soft_timeout_sighandler, _on_soft_limit):
        # Only where billiard's pool set it: elsewhere (a solo worker's main process) the
        # signal means something else.
        signal.signal(SIG_SOFT_TIMEOUT, _on_soft_limit)


def on_sigterm(signum, frame) -> None:
    with _lock:
        if _state["requested"]:
            return
        _state["requested"] = True
        busy = _state["busy"]
    if not busy:
        previous = _state.get("previous")
        if callable(previous):
            signal.signal(signal.SIGTERM, previous)
            previous(signum, frame)
            return
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    log.warning("SIGTERM: the running job has %.0f s to finish before it is handed back",
                _state["grace"])
    signal.setitimer(signal.ITIMER_REAL, max(_state["grace"], 0.01))


def _on_grace_over(signum, frame) -> None:
    if _state["busy"]:
        raise ShutdownRequested()


def _on_cancel(signum, frame) -> None:
    if _state["busy"]:
        raise CancelRequested()


# The soft time limit: billiard signals the pool process, and the exception is raised wherever
# the job happens to be. Clean-up code that catches every Exception loses it -- SQLAlchemy's
# pool, handing back a connection, logs and drops whatever its rollback raised -- and the job
# would then run on to the hard limit. So the handler also latches it for the rest of the job,
# and `raise_if_past_soft_limit`, called at each progress report, raises it again.

def _on_soft_limit(signum, frame) -> None:
    _state["soft_limit"] = True
    raise SoftTimeLimitExceeded()


def raise_if_past_soft_limit() -> None:
    if _state["soft_limit"]:
        raise SoftTimeLimitExceeded()


@contextlib.contextmanager
def running_job():
    """Marks the process busy while the experiment runs; the grace alarm is disarmed when it
    ends, so a finished result is always stored."""
    with _lock:
        _state["busy"] = True
        requested = _state["requested"]
    if requested:  # SIGTERM came between the claim and the start
        raise ShutdownRequested()
    try:
        yield
    finally:
        with _lock:
            _state["busy"] = False
            requested, _state["requested"] = _state["requested"], False
        if requested:
            # The job ended within its grace. The main process takes no new messages once it
            # is shutting down, so the next job here (if any) starts with a clean slate.
            signal.setitimer(signal.ITIMER_REAL, 0)


def shutdown_requested() -> bool:
    return bool(_state["requested"])


def pool_children() -> list[int]:
    """Pids of this process's children (the pool processes of a Celery worker)."""
    me, children = os.getpid(), []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:
            children.append(int(stat.parent.name))
    return children


def forward_to_pool() -> None:
    """In the main process at warm shutdown: SIGTERM each pool process, so a running job gets
    its grace period whether the group or only the main process was signalled."""
    for pid in pool_children():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
