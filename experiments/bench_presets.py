"""`bnlab bench presets`: wall time of each ready question type at a preset, and whether its
headline comparison resolved.

The headline is the first finding the verdict rests on; it is resolved when its 95% CI
excludes "no difference" (direction +1 or -1) or is at most 0.03 wide on each side. Every type
runs in this process, one after another, on one intra-op thread as `bnlab run` does; the
process's own start-up (imports, the first dataset generation) is timed separately.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

RESOLVED_HALF_WIDTH = 0.03


def resolved(finding: dict) -> bool:
    if finding.get("direction"):
        return True
    lo, hi = finding.get("diff_ci95") or (None, None)
    if lo is None or hi is None:
        return False
    if finding.get("scale") == "ratio":  # half-width of the log ratio
        return math.log(hi / lo) / 2 <= RESOLVED_HALF_WIDTH if lo > 0 else False
    return (hi - lo) / 2 <= RESOLVED_HALF_WIDTH


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bnlab bench presets")
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--types", default="", help="comma-separated ids (default: all ready)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--answers", action="store_true", help="print each type's answer too")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    from . import catalog, datasets

    datasets.load("mnist1d")
    print(f"start-up (imports, dataset) {time.perf_counter() - t0:.1f} s")
    ids = [t for t in args.types.split(",") if t] or [
        t.id for t in catalog.types().values() if t.status == "ready"]
    total = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for type_id in ids:
            qt = catalog.get(type_id)
            start = time.perf_counter()
            result = qt.run_preset(args.preset, out_dir=Path(tmp) / type_id,
                                   device=args.device).to_json()
            wall = time.perf_counter() - start
            total += wall
            keys = result["verdict"]["findings"] if result.get("verdict") else []
            head = next((f for f in result["findings"] if keys and f["key"] == keys[0]), None)
            state = ("no headline" if head is None else
                     f"headline {head['key']}: {'resolved' if resolved(head) else 'NOT resolved'}"
                     f" (CI {_ci(head)})")
            print(f"{type_id:32s} {wall:6.1f} s  {state}", flush=True)
            if args.answers:
                print(f"  {result['answer']}\n  reproduce: {result['reproduce']}", flush=True)
    print(f"total {total:.1f} s for {len(ids)} types at {args.preset}")
    return 0


def _ci(f: dict) -> str:
    lo, hi = f.get("diff_ci95") or (None, None)
    return "n/a" if lo is None else f"{lo:.3f} to {hi:.3f}"
