"""The time left of a running job, extrapolated from its progress (service.jobs)."""

from datetime import UTC, datetime, timedelta

import pytest

from service.cli.progress import format_eta
from service.jobs import eta_seconds, remaining_seconds
from service.models import Job, JobState

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def running(progress, elapsed_s, naive=False):
    started, updated = START, START + timedelta(seconds=elapsed_s)
    if naive:  # SQLite gives back naive UTC datetimes
        started, updated = started.replace(tzinfo=None), updated.replace(tzinfo=None)
    return Job(state=JobState.RUNNING, progress=progress, started_at=started, updated_at=updated)


def test_remaining_time_is_the_rest_of_the_work_at_the_rate_so_far():
    assert remaining_seconds(0.25, 10.0) == pytest.approx(30.0)
    assert remaining_seconds(0.5, 8.0) == pytest.approx(8.0)
    assert remaining_seconds(0.0, 10.0) is None  # nothing done: no rate yet
    assert remaining_seconds(0.01, 10.0) is None  # too early: start-up dominates
    assert remaining_seconds(1.0, 10.0) is None


@pytest.mark.parametrize("naive", [False, True])
def test_eta_counts_down_from_the_last_progress_write(naive):
    job = running(0.25, 10.0, naive)
    assert eta_seconds(job, now=START + timedelta(seconds=10)) == pytest.approx(30.0)
    assert eta_seconds(job, now=START + timedelta(seconds=25)) == pytest.approx(15.0)
    assert eta_seconds(job, now=START + timedelta(seconds=100)) == 0.0


def test_only_running_jobs_have_an_eta():
    job = running(0.5, 10.0)
    job.state = JobState.QUEUED
    assert eta_seconds(job) is None
    assert eta_seconds(Job(state=JobState.RUNNING, progress=0.5)) is None  # never started


def test_eta_format():
    assert format_eta(None) == "ETA --"
    assert format_eta(42.4) == "ETA 42s"
    assert format_eta(65) == "ETA 1m05s"
