"""Schemathesis against the app's own OpenAPI document: cases that fit it and cases that do not.

`fuzz(app, headers, per_operation)` draws that many cases per operation and per mode (fitting
the schema, and negative: values outside it) for every operation of /api/v1/openapi.json,
sends each through the WSGI app, and counts responses by status. A server error (5xx other
than an outage's 503) is recorded with the case that caused it. The CI test
(tests/service/test_api_fuzz.py) and `bnlab bench fuzz` both call this.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class FuzzReport:
    cases: int = 0
    statuses: Counter = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)  # "METHOD path -> status: body"
    per_operation: Counter = field(default_factory=Counter)


def fuzz(app, headers: dict[str, str], per_operation: int, seed: int = 0) -> FuzzReport:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    report = FuzzReport()
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @hypothesis_seed(seed)
            @settings(max_examples=per_operation, database=None, deadline=None,
                      suppress_health_check=list(HealthCheck), derandomize=False)
            @given(case=operation.as_strategy(generation_mode=mode))
            def send(case):
                response = case.call(headers=headers)
                report.cases += 1
                report.per_operation[case.operation.label] += 1
                report.statuses[response.status_code] += 1
                if response.status_code >= 500 and response.status_code != 503:
                    report.server_errors.append(
                        f"{case.method} {case.formatted_path} -> {response.status_code}: "
                        f"{response.text[:300]} (body {str(case.body)[:200]!r})")

            try:
                send()
            except Unsatisfiable:
                pass  # nothing can break a schema without parameters (GET /healthz)
    return report
