"""`bnlab bench fuzz`: schemathesis over the whole API on a private PostgreSQL, many cases.

Starts a PostgreSQL cluster of its own (service/chaos/instances.py), migrates it, makes an API
key and one finished job, and sends N cases per operation and mode (fitting the OpenAPI
document, and negative) through the app. Prints the case count, the statuses seen, and every
server error with the request that caused it; exits 1 if there was one. New jobs are kept
queued (nothing runs them): this measures the API, not the experiments.

    bnlab bench fuzz -- --per-operation 170     # 6 operations x 2 modes x 170 = 2,040 cases
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import fields
from pathlib import Path


class HoldingDispatcher:
    """Keeps new jobs queued: the fuzzer's questions are not worth running."""

    def enqueue(self, job) -> None:
        pass

    def stop(self, job) -> None:
        pass


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bnlab bench fuzz", description=__doc__.split("\n\n")[0])
    p.add_argument("--per-operation", type=int, default=170,
                   help="cases per operation and generation mode (170)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def finished_job(db) -> int:
    from . import jobs

    with db.session() as session:
        job, _ = jobs.find_or_create_job(session, "small_batch_statistics", {"seeds": 2},
                                         "smoke", fresh=True, queue="cpu")
        session.commit()
        claim = jobs.claim_job(session, job.id, worker="fuzz", device="cpu", max_attempts=1)
        jobs.finish_job(session, claim, {"schema": 1, "rows": [{"arm": "a", "acc": 0.5}],
                                         "figures": []}, [], device="cpu")
        return job.id


def main(argv: list[str] | None = None) -> int:
    from .api.questions import DISPATCHER
    from .app import create_app
    from .auth import create_key
    from .chaos.instances import PrivatePostgres
    from .config import Settings
    from .db import Database
    from .fuzz import fuzz

    args = parse(argv or [])
    postgres = PrivatePostgres().create()
    try:
        with tempfile.TemporaryDirectory(prefix="bnlab-fuzz-") as folder:
            settings = Settings.from_env(environ={}, overrides=dict(
                instance=Path(folder), database_url=postgres.url, executor="local",
                rate_limit="1000000/1"))
            db = Database(settings.database_url)
            db.upgrade()
            with db.session() as session:
                key = create_key(session, "fuzz")[1]
            finished_job(db)
            app = create_app({f.name: getattr(settings, f.name) for f in fields(settings)})
            app.extensions[DISPATCHER] = HoldingDispatcher()
            started = time.monotonic()
            report = fuzz(app, {"Authorization": f"Bearer {key}"}, args.per_operation,
                          seed=args.seed)
            elapsed = time.monotonic() - started
            app.extensions["bnlab.db"].dispose()
            db.dispose()
    finally:
        postgres.destroy()
    print(f"{report.cases} cases in {elapsed:.0f} s ({report.cases / elapsed:.0f}/s)")
    for label, count in sorted(report.per_operation.items()):
        print(f"  {count:>5}  {label}")
    print("statuses: " + ", ".join(f"{status}: {count}"
                                   for status, count in sorted(report.statuses.items())))
    print(f"server errors: {len(report.server_errors)}")
    for line in report.server_errors[:20]:
        print("  " + line)
    return 1 if report.server_errors else 0
