"""Schemathesis over the whole OpenAPI document on PostgreSQL: no input makes a server error.

Cases that fit the schema and negative ones (values outside it: ids past the integer range,
wrong types, missing fields) for every operation, with a valid API key, against a database
that holds a finished job, so that the job routes answer with real rows too.
"""

from __future__ import annotations

import pytest

from service.fuzz import fuzz

pytestmark = [pytest.mark.services, pytest.mark.slow]

PER_OPERATION = 45  # per operation and mode: 6 with parameters x 2 modes x 45 = 540 cases


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_no_generated_request_is_a_server_error(app, api_key, finished_job):
    from service.ratelimit import EXTENSION, MemoryRateLimiter

    finished_job()
    app.extensions[EXTENSION] = MemoryRateLimiter(10**6, 1)  # one key sending fast
    report = fuzz(app, {"Authorization": f"Bearer {api_key}"}, PER_OPERATION)
    assert report.cases >= 500, report.per_operation
    assert report.server_errors == [], report.server_errors[:10]
    assert report.statuses[202] > 0 and report.statuses[200] > 0  # real work, not only 4xx
