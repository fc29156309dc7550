"""`bnlab bench params`: every ready type at `smoke`, one parameter at a time at an edge.

For each parameter: its minimum and maximum (only the minimum for those that scale the cost:
seeds, epochs, steps, samples, widths), every choice, the other boolean. Each value is resolved
as the API would (a refusal there is a clear error, counted as refused) and, if accepted, run.
A run that raises is a failure: the API accepted a question its experiment cannot answer.
Prints one line per case, then the counts and each failure's traceback; exits 1 if any failed.
"""

from __future__ import annotations

import argparse
import signal
import tempfile
import time
import traceback
from collections.abc import Iterator
from typing import Any

# Parameters whose maximum only makes a run longer; their minimum is the edge worth trying.
COST = ("seeds", "epochs", "steps", "samples", "width", "depth", "n_evals")


def edge_values(param) -> Iterator[Any]:
    """The edge values of one schema parameter, in the form `resolve` takes."""
    listed = param.kind.endswith("_list")
    if param.choices:
        yield from ([[c] for c in param.choices] if listed else param.choices)
    elif param.kind == "bool":
        yield not param.default
    elif param.kind.removesuffix("_list") in ("int", "float"):
        costly = any(word in param.name for word in COST)
        for bound in (param.min,) if costly else (param.min, param.max):
            if bound is not None:
                value = int(bound) if param.kind.startswith("int") else float(bound)
                yield [value] if listed else value


class Slow(Exception):
    pass


def run_case(qt, overrides: dict, timeout_s: int) -> tuple[str, str]:
    """("ok" | "refused" | "slow" | "failed", detail)."""
    from .errors import ParamError

    try:
        params = qt.resolve("smoke", overrides)
    except ParamError as exc:
        return "refused", str(exc)

    def alarm(*_):
        raise Slow(f"over {timeout_s} s")

    signal.signal(signal.SIGALRM, alarm)
    signal.alarm(timeout_s)
    try:
        with tempfile.TemporaryDirectory() as out:
            qt.run(params, "smoke", out, device="cpu")
        return "ok", ""
    except Slow as exc:
        return "slow", str(exc)
    except Exception:  # noqa: BLE001 - every failure is what this benchmark reports
        return "failed", traceback.format_exc(limit=-6)
    finally:
        signal.alarm(0)


def main(argv: list[str] | None = None) -> int:
    from . import catalog

    parser = argparse.ArgumentParser(prog="bnlab bench params", description=__doc__)
    parser.add_argument("--types", default="", help="comma-separated type ids (default: all)")
    parser.add_argument("--timeout", type=int, default=60, help="seconds per run (60)")
    args = parser.parse_args(argv)
    wanted = {t for t in args.types.split(",") if t}
    counts: dict[str, int] = {}
    failures: list[tuple[str, str]] = []
    for type_id in catalog.ids():
        qt = catalog.get(type_id)
        if qt.status != "ready" or (wanted and type_id not in wanted):
            continue
        smoke = qt.resolve("smoke")
        for param in qt.schema.params:
            for value in edge_values(param):
                if smoke.get(param.name) == value:
                    continue
                t0 = time.perf_counter()
                status, detail = run_case(qt, {param.name: value}, args.timeout)
                case = f"{type_id} {param.name}={value}"
                counts[status] = counts.get(status, 0) + 1
                note = f": {detail}" if status == "refused" else ""
                print(f"{status:>7}  {case} ({time.perf_counter() - t0:.1f} s){note}",
                      flush=True)
                if status == "failed":
                    failures.append((case, detail))
    print("cases: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for case, detail in failures:
        print(f"\n== {case}\n{detail}")
    return 1 if failures else 0
