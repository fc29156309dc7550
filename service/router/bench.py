"""`bnlab bench router`: accuracy and speed of the router on its evaluation sets.

For the written sets (the tuning set and the held-out set in tests/router/) it prints top-1
accuracy on single-question items, precision and recall of the question split on multi-question
items (types found vs types expected, summed over items), the rejection rate on off-topic
items, how many expected parameters were read, and latency per post (median, p99) after a
warm-up pass. For the real posts (tests/router/real/posts.jsonl, see realset.py) it prints the
same per split (tune, dev, test), the on-topic not-understood rate, a confusion matrix by type
and the hardest test posts. The test split is scored only here: nothing tunes on it.
Targets on the real test split: top-1 >= 0.9, multi-question recall >= 0.8 at precision >=
0.85, off-topic rejection >= 0.9, on-topic not understood <= 0.05, p99 < 20 ms.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import realset, route
from .params import ALIASES

_SETS = Path(__file__).resolve().parents[2] / "tests" / "router"
EVAL_SET = _SETS / "eval_set.jsonl"  # the set the patterns were tuned on
HOLDOUT = _SETS / "holdout.jsonl"  # written after tuning and never tuned on


@dataclass
class Report:
    single_items: int = 0
    single_top1: float = 0.0
    single_exact: float = 0.0  # exactly the one expected ask, nothing more
    multi_items: int = 0
    split_precision: float = 0.0
    split_recall: float = 0.0
    split_in_order: float = 0.0  # found exactly the expected types in the expected order
    offtopic_items: int = 0
    offtopic_rejection: float = 0.0
    params_expected: int = 0
    params_read: float = 0.0
    latency_median_ms: float = 0.0
    latency_p99_ms: float = 0.0
    cpu_median_ms: float = 0.0  # process CPU time: less disturbed by other loads on the machine
    cpu_p99_ms: float = 0.0
    misses: list[str] = field(default_factory=list)


def load(path: Path = EVAL_SET) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def evaluate(items: list[dict], repeats: int = 0) -> Report:
    """Accuracy over `items`; with repeats > 0 also time `repeats` passes after one warm-up."""
    rep = Report()
    top1 = exact = hits = found = expected = in_order = rejected = 0
    params_ok = 0
    for item in items:
        got = [a.type for a in route(item["text"]).asks]
        want = item["expected"]
        kind = item["kind"]
        if kind == "single":
            rep.single_items += 1
            top1 += bool(got) and got[0] == want[0]
            exact += got == want
        elif kind == "multi":
            rep.multi_items += 1
            hits += len(set(got) & set(want))
            found += len(got)
            expected += len(want)
            in_order += got == want
        else:
            rep.offtopic_items += 1
            rejected += not got
        if got != want:
            rep.misses.append(f"{kind}: expected {want}, got {got}: {item['text'][:90]!r}")
        params_ok += _count_params(item)
        rep.params_expected += len(item.get("params", {}))
    rep.single_top1 = top1 / max(1, rep.single_items)
    rep.single_exact = exact / max(1, rep.single_items)
    rep.split_precision = hits / max(1, found)
    rep.split_recall = hits / max(1, expected)
    rep.split_in_order = in_order / max(1, rep.multi_items)
    rep.offtopic_rejection = rejected / max(1, rep.offtopic_items)
    rep.params_read = params_ok / max(1, rep.params_expected)
    if repeats:
        wall, cpu = realset.time_routes([item["text"] for item in items], repeats)
        rep.latency_median_ms, rep.latency_p99_ms = realset.median_p99(wall)
        rep.cpu_median_ms, rep.cpu_p99_ms = realset.median_p99(cpu)
    return rep


def _count_params(item: dict) -> int:
    """Expected parameters that some ask of the item carries with the expected value."""
    want = item.get("params", {})
    if not want:
        return 0
    asks = route(item["text"]).asks
    # Read counts too where the type has no such parameter and the ask says so in a note.
    return sum(any(_has_param(a.params, k, v) or _noted_unused(a, k) for a in asks)
               for k, v in want.items())


def _noted_unused(ask, canonical: str) -> bool:
    return any(n.startswith(f"{canonical}: ") and "has no such parameter" in n
               for n in ask.notes)


def _has_param(params: dict, canonical: str, value) -> bool:
    """The ask carries `value` under the canonical name or the schema's name for it."""
    for name in (f"asked_{canonical}s", *ALIASES.get(canonical, (canonical,))):
        if name in params and params[name] in (value, [value]):
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bnlab bench router", description=__doc__.split("\n")[0])
    parser.add_argument("--file", type=Path, action="append", default=None,
                        help="written evaluation set (JSONL, repeatable; default: the tuning set "
                             "and the held-out set in tests/router/)")
    parser.add_argument("--splits", default="tune,dev,test",
                        help="real-post splits to score (comma separated; '' for none)")
    parser.add_argument("--hardest", type=int, default=10,
                        help="list this many hardest posts of the test split")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes over each set")
    parser.add_argument("--misses", action="store_true", help="list the items it got wrong")
    parser.add_argument("--json", action="store_true", help="print the reports as JSON")
    args = parser.parse_args(argv)
    files = args.file or [f for f in (EVAL_SET, HOLDOUT) if f.is_file()]
    missing = [str(f) for f in files if not f.is_file()]
    if not files or missing:
        print(f"evaluation set not found: {', '.join(missing) or EVAL_SET}")
        return 2
    splits = [s for s in args.splits.split(",") if s]
    if splits and not realset.REAL_SET.is_file():
        print(f"evaluation set not found: {realset.REAL_SET}")
        return 2
    repeats = max(1, args.repeats)
    reports = {f.name: evaluate(load(f), repeats=repeats) for f in files}
    real_posts = realset.load() if splits else []
    real = {s: realset.evaluate(real_posts, s, repeats=repeats) for s in splits}
    if args.json:
        out = {name: asdict(rep) for name, rep in reports.items()}
        for split, rep in real.items():
            data = asdict(rep)
            data.pop("outcomes")
            out[f"real:{split}"] = data
        print(json.dumps(out, indent=2))
        return 0
    for name, rep in reports.items():
        _print(name, rep, args.repeats, args.misses)
    for split, rep in real.items():
        hardest = args.hardest if split == "test" else 0
        print("\n".join(realset.format_report(rep, hardest)))
    return 0


def _print(name: str, rep: Report, repeats: int, misses: bool) -> None:
    total = rep.single_items + rep.multi_items + rep.offtopic_items
    print(f"router on {name}: {total} posts")
    print(f"  single-question  top-1 accuracy   {rep.single_top1:.3f}  "
          f"(exactly one right ask {rep.single_exact:.3f}, n={rep.single_items})")
    print(f"  multi-question   split precision  {rep.split_precision:.3f}  "
          f"recall {rep.split_recall:.3f}  (all in order {rep.split_in_order:.3f}, "
          f"n={rep.multi_items})")
    print(f"  off-topic        rejection rate   {rep.offtopic_rejection:.3f}  "
          f"(n={rep.offtopic_items})")
    print(f"  parameters       read as expected {rep.params_read:.3f}  "
          f"(n={rep.params_expected})")
    print(f"  latency per post median {rep.latency_median_ms:.2f} ms  "
          f"p99 {rep.latency_p99_ms:.2f} ms  (CPU time median {rep.cpu_median_ms:.2f} ms  "
          f"p99 {rep.cpu_p99_ms:.2f} ms; {repeats} passes after a warm-up)")
    if misses:
        for miss in rep.misses:
            print("  miss", miss)
