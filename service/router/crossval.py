"""Cross-validated router figures on the real posts: `python -m service.router.crossval`.

The tune, dev and pool splits of tests/router/real/posts.jsonl (never the test split) are cut
into FOLDS folds by `source`, so that a repository or site never sits on both sides of a fold.
For each fold the learned scorer is retrained (train.py: the written set plus the posts of the
other folds whose split is in `--train`) and the full router -- the patterns' reading of each
post (route.read) and decide.choose with the fold's probabilities -- is scored on the fold's
posts. The figures are those of `bnlab bench router`, pooled over all folds: single-question
top-1, multi-question per-ask precision and recall, off-topic rejection and on-topic not
understood, overall and per split. Nothing is sampled: the same data and settings give the
same figures.

The folds: sources in a fixed pseudo-random order (SHA-1 of the name), those with a
multi-question post first so that each fold gets some, each given to the fold with the fewest
posts so far.
"""

from __future__ import annotations

import argparse
import hashlib
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np

from . import decide, realset, train
from .learned import NONE_BN
from .route import Reading, read

FOLDS = 5
SPLITS = ("tune", "dev", "pool")  # the test split is never read here


def assign_folds(posts: list[dict], k: int = FOLDS) -> list[int]:
    """The fold of each post; all posts of a source share one."""
    multi = {p["source"] for p in posts if p["kind"] == "multi"}
    size = Counter(p["source"] for p in posts)
    order = sorted(size, key=lambda s: (s not in multi,
                                        hashlib.sha1(s.encode("utf-8")).hexdigest()))
    fold_of: dict[str, int] = {}
    filled = [0] * k
    multi_filled = [0] * k
    for source in order:
        # Multi-question sources are spread by their own count first.
        key = (lambda f: (multi_filled[f], filled[f], f)) if source in multi else \
            (lambda f: (filled[f], f))
        fold = min(range(k), key=key)
        fold_of[source] = fold
        filled[fold] += size[source]
        multi_filled[fold] += source in multi
    return [fold_of[p["source"]] for p in posts]


@dataclass(frozen=True)
class Config:
    """What the learned scorer is trained on and how."""

    train_splits: tuple[str, ...] = ("tune",)
    l2: float = train.L2
    steps: int = train.STEPS
    none_weight: float = train.NONE_WEIGHT
    bn_none_l2: float = train.BN_NONE_L2


@dataclass
class Prepared:
    """Everything about the posts that does not depend on the learned scorer."""

    posts: list[dict]
    folds: list[int]
    readings: list[Reading | None]
    inputs: list[train.Post]  # what the learned scorer reads of each post
    written: list[tuple[train.Post, list[str]]]


def prepare(posts: list[dict] | None = None, k: int = FOLDS) -> Prepared:
    posts = [p for p in (posts or realset.load()) if p["split"] in SPLITS]
    written = [(train.read_post(text), types) for text, types in train.examples(())]
    return Prepared(posts, assign_folds(posts, k), [read(p["text"]) for p in posts],
                    [train.read_post(p["text"]) for p in posts], written)


def out_of_fold(prep: Prepared, config: Config) -> list[dict[str, float]]:
    """Each post's learned probabilities from the model of the folds it is not in."""
    out: list[dict[str, float]] = [{} for _ in prep.posts]
    for fold in sorted(set(prep.folds)):
        rows = [i for i, f in enumerate(prep.folds) if f != fold
                and prep.posts[i]["split"] in config.train_splits]
        inputs = [f for f, _ in prep.written] + [prep.inputs[i] for i in rows]
        labels = [t for _, t in prep.written] + [prep.posts[i]["labels"] for i in rows]
        model = train.fit_posts(inputs, labels, l2=config.l2, steps=config.steps,
                                none_weight=config.none_weight, bn_none_l2=config.bn_none_l2)
        held = [i for i, f in enumerate(prep.folds) if f == fold]
        for i, probs in zip(held, predict(model, [prep.inputs[i] for i in held]), strict=True):
            out[i] = probs
    return out


def predict(model: dict, posts: list[train.Post]) -> list[dict[str, float]]:
    """learned.Model.probabilities for each post, all at once."""
    col = {f: i for i, f in enumerate(model["vocab"])}
    x = train.design([p.feats for p in posts], col).astype(np.float64)
    types, bn = _softmax(x, model["weights"], model["bias"]), \
        _softmax(x, model["bn_weights"], model["bn_bias"])
    out = [dict(zip(model["classes"], row.tolist(), strict=True)) for row in types]
    for probs, row in zip(out, bn, strict=True):
        probs[NONE_BN] = float(row[1])
    return out


def _softmax(x: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    # Half precision as shipped (learned.save), so the figures are those of the model file.
    z = x @ weights.astype(np.float16).astype(np.float64) + bias
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def picks(prep: Prepared, probs: list[dict[str, float]],
          settings: decide.Settings | None = None) -> list[list[decide.Pick]]:
    """The asks the router gives each post, as route() would with these probabilities."""
    out = []
    for reading, p in zip(prep.readings, probs, strict=True):
        chosen = None if reading is None else decide.choose(
            reading.rule_conf, p, reading.in_bn, settings, reading.tooling, reading.questions)
        out.append(chosen or [])
    return out


def asks(prep: Prepared, probs: list[dict[str, float]],
         settings: decide.Settings | None = None) -> list[list[str]]:
    """The types the router gives each post, as route() would with these probabilities."""
    return [[pick.type for pick in row] for row in picks(prep, probs, settings)]


def wrong(prep: Prepared, chosen: list[list[decide.Pick]],
          probs: list[dict[str, float]]) -> list[str]:
    """One line per out-of-fold error: id, split, expected -> got, the first ask's confidence
    ("~": only the nearest type), the learned probability of "none" as decide.py
    weighs it, an excerpt."""
    lines = []
    for post, row, p, reading in zip(prep.posts, chosen, probs, prep.readings, strict=True):
        got = [pick.type for pick in row]
        want = post["labels"]
        ok = got[:1] == want if post["kind"] == "single" else set(got) == set(want)
        if ok:
            continue
        conf = f"{row[0].confidence:.2f}{'~' if row[0].nearest else ' '}" if row else "  -  "
        excerpt = " ".join(post["text"].split())[:110]
        none = decide.none_probability(p, reading is not None and reading.in_bn) if p else 0.0
        lines.append(f"{post['id']} {post['split']:4} {','.join(want) or 'none':>32} -> "
                     f"{','.join(got) or 'none':32} {conf} n={none:.2f} {excerpt}")
    return lines


def figures(posts: list[dict], got: list[list[str]]) -> dict[str, float]:
    """The bench's figures (realset.py) for these posts and outcomes."""
    rep = realset.SplitReport("cv", posts=len(posts))
    rep.outcomes = [realset.Outcome(p, g, 0.0, False) for p, g in zip(posts, got, strict=True)]
    realset.score_outcomes(rep)
    return {"top1": rep.top1, "multi_precision": rep.multi_precision,
            "multi_recall": rep.multi_recall, "rejection": rep.rejection,
            "not_understood": rep.not_understood, "single": rep.single, "multi": rep.multi,
            "offtopic": rep.offtopic}


def report(prep: Prepared, got: list[list[str]]) -> dict[str, dict[str, float]]:
    """Figures over all posts and per split."""
    out = {"all": figures(prep.posts, got)}
    for split in SPLITS:
        rows = [i for i, p in enumerate(prep.posts) if p["split"] == split]
        out[split] = figures([prep.posts[i] for i in rows], [got[i] for i in rows])
    return out


def _print(rep: dict[str, dict[str, float]]) -> None:
    print(f"{'':6} {'top-1':>6} {'m.prec':>6} {'m.rec':>6} {'reject':>6} {'not-u':>6}   n "
          "(single/multi/off)")
    for name, f in rep.items():
        print(f"{name:6} {f['top1']:6.3f} {f['multi_precision']:6.3f} {f['multi_recall']:6.3f} "
              f"{f['rejection']:6.3f} {f['not_understood']:6.3f}   "
              f"{f['single']}/{f['multi']}/{f['offtopic']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.router.crossval",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--train", default=",".join(train.TRAIN_SPLITS),
                        help="splits the scorer of each fold trains on (comma separated)")
    parser.add_argument("--l2", type=float, default=train.L2)
    parser.add_argument("--none-weight", type=float, default=train.NONE_WEIGHT)
    parser.add_argument("--bn-none-l2", type=float, default=train.BN_NONE_L2)
    parser.add_argument("--alpha", type=float, default=decide.SETTINGS.alpha)
    parser.add_argument("--none-min", type=float, default=decide.SETTINGS.none_min)
    parser.add_argument("--none-min-tooling", type=float,
                        default=decide.SETTINGS.none_min_tooling)
    parser.add_argument("--folds", type=int, default=FOLDS)
    parser.add_argument("--errors", action="store_true",
                        help="also list the out-of-fold errors, one line each")
    args = parser.parse_args(argv)
    splits = tuple(s for s in args.train.split(",") if s)
    if "test" in splits:
        parser.error("the test split is never trained on")
    config = Config(splits, l2=args.l2, none_weight=args.none_weight,
                    bn_none_l2=args.bn_none_l2)
    settings = replace(decide.SETTINGS, alpha=args.alpha, none_min=args.none_min,
                       none_min_tooling=args.none_min_tooling)
    prep = prepare(k=args.folds)
    probs = out_of_fold(prep, config)
    chosen = picks(prep, probs, settings)
    got = [[pick.type for pick in row] for row in chosen]
    print(f"{args.folds}-fold cross-validation by source over {', '.join(SPLITS)} "
          f"({len(prep.posts)} posts); scorer trained on the written set + {', '.join(splits)}")
    _print(report(prep, got))
    if args.errors:
        print("\nout-of-fold errors: id split expected -> got, confidence (~ nearest), text")
        print("\n".join(wrong(prep, chosen, probs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
