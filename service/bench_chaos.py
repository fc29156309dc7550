"""`bnlab bench chaos`: runs each fault many times and counts what every job came to.

Everything runs privately: a PostgreSQL cluster of its own (initdb on a free port), a
redis-server of its own, and two Celery worker groups serving the probe job (service/chaos).
Each round of a fault submits a few jobs, strikes while one runs and others wait, repairs,
and waits for all of them. Printed per fault and in total: jobs submitted, finished (exactly
one result), lost, run twice (the experiment completed more than once), attempts spent beyond
the fault's cost, and recovery times (repair, or kill, to every job of the round ended).

    bnlab bench chaos -- --kills 20 --sigterms 5 --db 5 --redis-kills 5 --redis-pauses 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bnlab bench chaos", description=__doc__.split("\n\n")[0])
    p.add_argument("--kills", type=int, default=20, help="worker group SIGKILLs (20)")
    p.add_argument("--sigterms", type=int, default=5,
                   help="SIGTERMs to a worker's group, and as many to its main process (5)")
    p.add_argument("--db", type=int, default=5, help="PostgreSQL outages of 8 s (5)")
    p.add_argument("--redis-kills", type=int, default=5, help="Redis kills, restarted empty (5)")
    p.add_argument("--redis-pauses", type=int, default=5, help="Redis hangs of 6 s (5)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON too")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from .chaos import faults
    from .chaos.lab import Lab, Tally

    args = parse(argv or [])
    plan = {"worker_kill": args.kills, "worker_sigterm": args.sigterms,
            "worker_sigterm_main": args.sigterms,
            "database_outage": args.db, "redis_kill": args.redis_kills,
            "redis_pause": args.redis_pauses}
    report: dict[str, dict] = {}
    total = Tally()
    with tempfile.TemporaryDirectory(prefix="bnlab-chaos-") as folder:
        print("starting private PostgreSQL, Redis and two workers ...", flush=True)
        lab = Lab(Path(folder), workers=2)
        try:
            for fault, rounds in plan.items():
                tally, recoveries = Tally(), []
                for i in range(rounds):
                    started = time.monotonic()
                    result, recovery = faults.FAULTS[fault](lab)
                    tally.add(result)
                    recoveries.append(recovery)
                    print(f"  {fault} {i + 1}/{rounds}: {_line(result)}, recovered in "
                          f"{_seconds(recovery)} (round {time.monotonic() - started:.1f} s)",
                          flush=True)
                total.add(tally)
                report[fault] = {"rounds": rounds, **vars(tally),
                                 "recovery_s": _spread(recoveries)}
        finally:
            lab.close()
    print()
    print(f"{'fault':<19} {'rounds':>6} {'submitted':>9} {'finished':>8} {'lost':>5} "
          f"{'twice':>5} {'extra':>5}  recovery s (median / max)")
    for fault, row in report.items():
        spread = row["recovery_s"]
        print(f"{fault:<19} {row['rounds']:>6} {row['submitted']:>9} {row['finished']:>8} "
              f"{row['lost']:>5} {row['run_twice']:>5} {row['extra_attempts']:>5}  "
              f"{spread['median']} / {spread['max']}")
    print(f"{'total':<19} {'':>6} {total.submitted:>9} {total.finished:>8} {total.lost:>5} "
          f"{total.run_twice:>5} {total.extra_attempts:>5}")
    if args.json:
        print(json.dumps({"faults": report, "total": vars(total)}, indent=2))
    return 0 if total.lost == total.run_twice == total.extra_attempts == 0 else 1


def _line(tally) -> str:
    return (f"{tally.finished}/{tally.submitted} finished, {tally.lost} lost, "
            f"{tally.run_twice} run twice, {tally.extra_attempts} extra attempts")


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


def _spread(values: list[float | None]) -> dict:
    done = [v for v in values if v is not None]
    if not done:
        return {"median": None, "max": None, "unrecovered": len(values)}
    return {"median": round(statistics.median(done), 1), "max": round(max(done), 1),
            "unrecovered": len(values) - len(done)}
