"""The real-post evaluation set: well formed, split by source, and a floor on the dev split.

The figures the issue names are measured by `bnlab bench router` on the test split; that split
is never scored here. The dev floor only guards against a regression of the router.
"""

from __future__ import annotations

from collections import Counter
from urllib.parse import urlparse

import pytest

from experiments import catalog
from service.router import realset


@pytest.fixture(scope="module")
def posts() -> list[dict]:
    return realset.load()


def test_posts_are_well_formed(posts):
    ids = set(catalog.ids())
    seen = set()
    for post in posts:
        assert set(post) == {"id", "split", "source", "url", "kind", "labels", "text"}, post
        assert post["id"] not in seen
        seen.add(post["id"])
        assert post["split"] in ("tune", "dev", "test", "pool")
        assert urlparse(post["url"]).scheme == "https" and post["source"]
        assert set(post["labels"]) <= ids and len(set(post["labels"])) == len(post["labels"])
        want = "offtopic" if not post["labels"] else "single" if len(post["labels"]) == 1 \
            else "multi"
        assert post["kind"] == want, post["id"]
        assert post["text"].strip() and len(post["text"]) <= 4000


def test_set_is_large_varied_and_covers_every_type(posts):
    assert len(posts) >= 400
    assert len({p["source"] for p in posts}) >= 30
    per_type = Counter(t for p in posts for t in p["labels"])
    assert set(per_type) == set(catalog.ids())
    kinds = Counter(p["kind"] for p in posts)
    assert kinds["offtopic"] >= 50 and kinds["multi"] >= 10


def test_splits_share_no_source(posts):
    split_of: dict[str, str] = {}
    for post in posts:
        assert split_of.setdefault(post["source"], post["split"]) == post["split"], post["id"]
    sizes = Counter(p["split"] for p in posts)
    assert sizes["test"] >= 80 and sizes["dev"] >= 80


def test_dev_split_has_not_regressed(posts):
    report = realset.evaluate(posts, "dev")
    assert report.top1 >= 0.75, [o.post["id"] for o in report.outcomes if not o.correct]
    assert report.rejection >= 0.8
    assert report.not_understood <= 0.1
    assert report.multi_precision >= 0.8


def test_report_lists_the_hardest_posts_wrong_first():
    posts = [
        {"id": "a", "split": "x", "source": "s", "url": "https://s/a", "kind": "single",
         "labels": ["bias_redundancy"], "text": "Why remove the bias before BN?"},
        {"id": "b", "split": "x", "source": "s", "url": "https://s/b", "kind": "single",
         "labels": ["weight_decay"], "text": "BN before or after ReLU?"},
        {"id": "c", "split": "x", "source": "s", "url": "https://s/c", "kind": "offtopic",
         "labels": [], "text": "How do I install PyTorch with CUDA on Windows?"},
    ]
    report = realset.evaluate(posts, "x", repeats=1)
    assert report.top1 == 0.5 and report.rejection == 1.0
    assert [o.post["id"] for o in realset.hardest(report, 2)] == ["b", "a"]
    assert report.confusion["weight_decay"] == {"activation_order": 1}
    text = "\n".join(realset.format_report(report, hardest_n=2))
    assert "top-1            0.500" in text and "BAD b expected ['weight_decay']" in text
    assert report.latency_p99_ms >= report.latency_median_ms > 0
