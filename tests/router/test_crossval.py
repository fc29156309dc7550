"""The cross-validation's folds (service/router/crossval.py): by source, balanced, stable."""

from __future__ import annotations

from collections import Counter

from service.router import crossval, realset


def _posts() -> list[dict]:
    posts = []
    for i in range(60):
        source = f"github.com/o/r{i % 23}"
        kind = "multi" if i % 23 in (3, 7, 11, 15, 19) else "single"
        posts.append({"id": f"p{i}", "source": source, "kind": kind, "split": "tune"})
    return posts


def test_folds_keep_each_source_in_one_fold_and_are_balanced():
    posts = _posts()
    folds = crossval.assign_folds(posts, 5)
    fold_of: dict[str, int] = {}
    for post, fold in zip(posts, folds, strict=True):
        assert fold_of.setdefault(post["source"], fold) == fold
    sizes = Counter(folds)
    assert set(sizes) == set(range(5))
    assert max(sizes.values()) - min(sizes.values()) <= 3  # a source holds at most 3 posts
    multi = Counter(f for p, f in zip(posts, folds, strict=True) if p["kind"] == "multi")
    assert set(multi) == set(range(5))  # five multi-question sources: one in each fold


def test_folds_are_deterministic_and_ignore_post_order():
    posts = _posts()
    folds = crossval.assign_folds(posts, 5)
    assert crossval.assign_folds(posts, 5) == folds
    by_id = dict(zip((p["id"] for p in posts), folds, strict=True))
    reversed_posts = posts[::-1]
    again = crossval.assign_folds(reversed_posts, 5)
    assert [by_id[p["id"]] for p in reversed_posts] == again


def test_real_folds_never_hold_the_test_split():
    prep_posts = [p for p in realset.load() if p["split"] in crossval.SPLITS]
    assert prep_posts and all(p["split"] != "test" for p in prep_posts)
    assert "test" not in crossval.SPLITS
