"""Faults on the real distributed shape, started privately by the tests: a PostgreSQL cluster of
its own (initdb, private port), a redis-server of its own, and two Celery worker groups running
the probe job (service/chaos/probe.py: real claim, heartbeat, store; a 2-second experiment).

Each fault round ends with every job finished exactly once: one result row, the experiment
completed once (the probe's ledger), and attempts counted right (only a lost worker spends one).
`bnlab bench chaos` runs the same rounds many times and reports recovery times.
"""

from __future__ import annotations

import pytest

from service.chaos import faults
from service.chaos.lab import Lab

pytestmark = [pytest.mark.services, pytest.mark.slow]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = Lab(tmp_path_factory.mktemp("chaos"), workers=2)
    yield lab
    lab.close()


@pytest.mark.parametrize("fault", list(faults.FAULTS))
def test_every_job_finishes_exactly_once(lab, fault):
    tally, recovery = faults.FAULTS[fault](lab)
    assert recovery is not None, f"{fault}: jobs still unfinished after {faults.WAIT_S} s"
    assert (tally.finished, tally.lost, tally.run_twice, tally.extra_attempts) == (
        tally.submitted, 0, 0, 0), (fault, tally, [w.log()[-4000:] for w in lab.workers])
