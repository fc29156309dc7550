"""The real-post evaluation: tests/router/real/posts.jsonl, scored per split for the benchmark.

Each post carries every question type it asks (an empty list: off topic) and a split (tune,
dev or test, assigned by source). Figures per split:

- top-1: single-question posts whose first ask is the expected type;
- per-ask precision and recall on multi-question posts (types found vs types expected);
- off-topic rejection: off-topic posts that get no ask;
- not understood: on-topic posts that get no ask at all (and, shown beside it, on-topic posts
  that carry a not-understood note, e.g. because they were placed at their nearest type);
- latency per post (median, p99), after a warm-up pass;
- a confusion matrix: expected type of single and off-topic posts against the first ask.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from experiments import catalog

from . import route

REAL_SET = Path(__file__).resolve().parents[2] / "tests" / "router" / "real" / "posts.jsonl"
NONE = "none"


@dataclass
class Outcome:
    post: dict
    got: list[str]
    confidence: float  # of the first ask (0 when none)
    noted: bool  # the routing carries a not-understood note

    @property
    def correct(self) -> bool:
        want = self.post["labels"]
        if self.post["kind"] == "single":
            return self.got[:1] == want
        return set(self.got) == set(want)


@dataclass
class SplitReport:
    split: str
    posts: int = 0
    single: int = 0
    top1: float = 0.0
    multi: int = 0
    multi_precision: float = 0.0
    multi_recall: float = 0.0
    offtopic: int = 0
    rejection: float = 0.0
    on_topic: int = 0
    not_understood: float = 0.0  # on-topic posts with no ask
    noted: float = 0.0  # on-topic posts with a not-understood note
    latency_median_ms: float = 0.0
    latency_p99_ms: float = 0.0
    cpu_median_ms: float = 0.0  # process CPU time: less disturbed by other loads on the machine
    cpu_p99_ms: float = 0.0
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)


def load(path: Path = REAL_SET) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def evaluate(posts: list[dict], split: str, repeats: int = 0) -> SplitReport:
    rep = SplitReport(split)
    chosen = [p for p in posts if p["split"] == split]
    rep.posts = len(chosen)
    for post in chosen:
        routing = route(post["text"])
        got = [a.type for a in routing.asks]
        conf = routing.asks[0].confidence if routing.asks else 0.0
        rep.outcomes.append(Outcome(post, got, conf, bool(routing.not_understood)))
    score_outcomes(rep)
    if repeats:
        wall, cpu = time_routes([p["text"] for p in chosen], repeats)
        rep.latency_median_ms, rep.latency_p99_ms = median_p99(wall)
        rep.cpu_median_ms, rep.cpu_p99_ms = median_p99(cpu)
    return rep


def score_outcomes(rep: SplitReport) -> None:
    top1 = hits = found = expected = rejected = silent = noted = 0
    confusion: dict[str, Counter] = {t: Counter() for t in [*catalog.ids(), NONE]}
    for o in rep.outcomes:
        kind, want = o.post["kind"], o.post["labels"]
        if kind == "single":
            rep.single += 1
            top1 += o.got[:1] == want
        elif kind == "multi":
            rep.multi += 1
            hits += len(set(o.got) & set(want))
            found += len(o.got)
            expected += len(want)
        else:
            rep.offtopic += 1
            rejected += not o.got
        if kind != "multi":
            confusion[want[0] if want else NONE][o.got[0] if o.got else NONE] += 1
        if want:
            rep.on_topic += 1
            silent += not o.got
            noted += o.noted
    rep.top1 = top1 / max(1, rep.single)
    rep.multi_precision = hits / max(1, found)
    rep.multi_recall = hits / max(1, expected)
    rep.rejection = rejected / max(1, rep.offtopic)
    rep.not_understood = silent / max(1, rep.on_topic)
    rep.noted = noted / max(1, rep.on_topic)
    rep.confusion = {k: dict(v) for k, v in confusion.items()}


def hardest(rep: SplitReport, n: int = 10) -> list[Outcome]:
    """The wrong outcomes, most confidently wrong first, then the least confident right ones."""
    wrong = sorted((o for o in rep.outcomes if not o.correct), key=lambda o: -o.confidence)
    right = sorted((o for o in rep.outcomes if o.correct and o.post["labels"]),
                   key=lambda o: o.confidence)
    return (wrong + right)[:n]


def time_routes(texts: list[str], repeats: int) -> tuple[list[float], list[float]]:
    for text in texts:  # warm-up: regexes, the model file, caches
        route(text)
    wall, cpu = [], []
    for _ in range(repeats):
        for text in texts:
            start, start_cpu = time.perf_counter(), time.process_time()
            route(text)
            wall.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
    return wall, cpu


def median_p99(times: list[float]) -> tuple[float, float]:
    if not times:
        return 0.0, 0.0
    ordered = sorted(times)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


_SHORT = {"gamma_beta_undo": "gamma", "covariate_shift_generalization": "covar",
          "small_batch_statistics": "smallb", "activation_order": "order",
          "learning_rate": "lr", "deep_gradients": "deep", "train_eval_gap": "traev",
          "dropout_interaction": "drop", "weight_decay": "wd", "bias_redundancy": "bias",
          "norm_comparison": "norms", NONE: "none"}


def format_report(rep: SplitReport, hardest_n: int = 0) -> list[str]:
    lines = [
        f"real posts, {rep.split} split: {rep.posts} posts",
        f"  single-question  top-1            {rep.top1:.3f}  (n={rep.single})",
        f"  multi-question   per-ask precision {rep.multi_precision:.3f}  recall "
        f"{rep.multi_recall:.3f}  (n={rep.multi})",
        f"  off-topic        rejection        {rep.rejection:.3f}  (n={rep.offtopic})",
        f"  on-topic         not understood   {rep.not_understood:.3f}  (no ask; with a "
        f"not-understood note {rep.noted:.3f}, n={rep.on_topic})",
        f"  latency per post median {rep.latency_median_ms:.2f} ms  p99 "
        f"{rep.latency_p99_ms:.2f} ms  (CPU time median {rep.cpu_median_ms:.2f} ms  p99 "
        f"{rep.cpu_p99_ms:.2f} ms)",
        "  confusion (rows: expected, columns: first ask; single and off-topic posts)",
    ]
    cols = [*catalog.ids(), NONE]
    lines.append("    " + " " * 7 + "".join(f"{_SHORT[c]:>7}" for c in cols))
    for row in cols:
        counts = rep.confusion.get(row, {})
        if counts:
            lines.append(f"    {_SHORT[row]:>7}" + "".join(f"{counts.get(c, 0) or '.':>7}"
                                                      for c in cols))
    if hardest_n:
        lines.append(f"  hardest {hardest_n} posts (wrong first, most confident first):")
        for o in hardest(rep, hardest_n):
            mark = "ok " if o.correct else "BAD"
            note = " +note" if o.noted else ""
            lines.append(f"    {mark} {o.post['id']} expected {o.post['labels']} got {o.got} "
                         f"conf {o.confidence:.2f}{note}  {o.post['url']}")
    return lines
