"""Train the learned scorer and write data/model.npz: `python -m service.router.train`.

Training data: the written evaluation set (tests/router/eval_set.jsonl) and the tune, dev and
pool splits of the real posts (tests/router/real/posts.jsonl); the test split is never read
here. The settings below (which splits, L2, the weight of "none") were chosen by the
cross-validation over those splits (`python -m service.router.crossval`, folds by source). The
model is multinomial logistic regression over the features of learned.py, with L2
regularization, fitted by full-batch Adam; a post that asks several types has its target
spread evenly over them, an off-topic post has the target "none". A second, two-class model
over the same features is fitted on the posts that mention normalization only: does such a
post ask how normalization behaves, or nothing the service answers (a bug report, a pull
request, a question about software)? Among those posts the two are hard to tell apart, and
the first model, which mostly learns "none" from posts about other things, is too sure they
are on topic (decide.py averages the two). Training is deterministic (fixed order, no
sampling), so the same data gives the same file.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experiments import catalog

from . import clean, evidence, learned, score

_TESTS = Path(__file__).resolve().parents[2] / "tests" / "router"
WRITTEN_SET = _TESTS / "eval_set.jsonl"
REAL_SET = _TESTS / "real" / "posts.jsonl"

L2 = 3e-4  # chosen by cross-validation (crossval.py; see README next to the real posts)
STEPS = 400
MIN_COUNT = 2  # a feature seen in fewer training posts carries no weight
TRAIN_SPLITS = ("tune", "dev", "pool")  # the real-post splits the shipped scorer learns from
NONE_WEIGHT = 1.0  # extra weight of an off-topic post against the class balance
BN_NONE_L2 = 1e-3  # L2 of the second model (posts that mention normalization: asked or not)


def examples(splits: tuple[str, ...] = TRAIN_SPLITS) -> list[tuple[str, list[str]]]:
    """(text, types) pairs: the written set plus the real posts of the given splits."""
    out: list[tuple[str, list[str]]] = []
    for line in WRITTEN_SET.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            out.append((item["text"], item["expected"]))
    for line in REAL_SET.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            if item["split"] in splits:
                out.append((item["text"], item["labels"]))
    return out


@dataclass(frozen=True)
class Post:
    """What training reads of a post: its features and whether it names normalization."""

    feats: set[str]
    in_bn: bool


def read_post(text: str) -> Post:
    prose, code = evidence.split(text)
    prose = clean.clean(prose)
    return Post(learned.features(prose, code), score.post_mentions_normalization(prose, code))


def fit(data: list[tuple[str, list[str]]], l2: float = L2, steps: int = STEPS) -> dict:
    return fit_posts([read_post(text) for text, _ in data], [t for _, t in data], l2=l2,
                     steps=steps)


def fit_posts(posts: list[Post], labels: list[list[str]], l2: float = L2, steps: int = STEPS,
              none_weight: float = NONE_WEIGHT, bn_none_l2: float = BN_NONE_L2) -> dict:
    """Both models for these posts and their types (an empty list: off topic)."""
    feats = [p.feats for p in posts]
    counts = Counter(f for fs in feats for f in fs)
    vocab = sorted(f for f, c in counts.items() if c >= MIN_COUNT)
    col = {f: i for i, f in enumerate(vocab)}
    classes = list(catalog.ids()) + [learned.NONE]
    weights, bias = _fit_types(_Sparse(feats, col), labels, classes, l2, steps, none_weight)
    bn = [i for i, p in enumerate(posts) if p.in_bn]
    bn_weights, bn_bias = _fit_bn_none(_Sparse([feats[i] for i in bn], col),
                                       [not labels[i] for i in bn], bn_none_l2, steps)
    return {"classes": classes, "vocab": vocab, "weights": weights, "bias": bias,
            "bn_weights": bn_weights, "bn_bias": bn_bias}


def _fit_types(x: _Sparse, labels: list[list[str]], classes: list[str], l2: float,
               steps: int, none_weight: float):
    """The first model: a probability for each type and for "none"."""
    y = np.zeros((len(labels), len(classes)), dtype=np.float32)
    for i, types in enumerate(labels):
        for t in types or [learned.NONE]:
            y[i, classes.index(t)] += 1.0 / max(1, len(types))
    # Real posts ask about train/eval far more often than about, say, weight decay; weighting
    # each post by 1/sqrt(its class's share) keeps the rare types from being drowned out.
    share = y.sum(axis=0) / len(labels)
    weight = 1.0 / np.sqrt((y * share).sum(axis=1) / y.sum(axis=1))
    weight[y[:, -1] > 0] *= none_weight
    y *= (weight / weight.mean())[:, None]
    return _adam(x, y, l2, steps)


def _fit_bn_none(x: _Sparse, off_topic: list[bool], l2: float, steps: int):
    """The second model, columns (asks about normalization, asks nothing): off-topic posts
    are rare among these, so each class weighs as much as the other in total."""
    off = np.array(off_topic, dtype=bool)
    y = np.zeros((len(off), 2), dtype=np.float32)
    y[~off, 0] = len(off) / (2 * max(1, (~off).sum()))
    y[off, 1] = len(off) / (2 * max(1, off.sum()))
    return _adam(x, y, l2, steps)


def design(feats: list[set[str]], col: dict[str, int]) -> np.ndarray:
    """Binary features scaled to unit length per post, as learned.Model reads them."""
    x = np.zeros((len(feats), len(col)), dtype=np.float32)
    for i, fs in enumerate(feats):
        cols = [col[f] for f in fs if f in col]
        if cols:
            x[i, cols] = 1.0 / np.sqrt(len(cols))
    return x


class _Sparse:
    """The design matrix of design() held by its non-zero entries: training multiplies by it
    and by its transpose hundreds of times, and a post has a few hundred of ~20,000 features."""

    def __init__(self, feats: list[set[str]], col: dict[str, int]):
        rows, cols, vals = [], [], []
        for i, fs in enumerate(feats):
            # Sorted, so the order of a set's iteration never reaches the arithmetic.
            present = sorted(col[f] for f in fs if f in col)
            rows += [i] * len(present)
            cols += present
            vals += [1.0 / np.sqrt(len(present))] * len(present)
        self.shape = (len(feats), len(col))
        self.rows = np.array(rows, dtype=np.int64)
        self.cols = np.array(cols, dtype=np.int64)
        self.vals = np.array(vals, dtype=np.float32)[:, None]
        by_col = np.argsort(self.cols, kind="stable")
        self.rows_by_col, self.vals_by_col = self.rows[by_col], self.vals[by_col]
        self.row_start = np.searchsorted(self.rows, np.arange(self.shape[0]))
        self.col_start = np.searchsorted(self.cols[by_col], np.arange(self.shape[1]))

    def __matmul__(self, w: np.ndarray) -> np.ndarray:
        terms = np.take(w, self.cols, axis=0)
        terms *= self.vals
        return self._segment_sum(terms, self.row_start, self.shape[0])

    def rmatmul_t(self, g: np.ndarray) -> np.ndarray:
        """x.T @ g."""
        terms = np.take(g, self.rows_by_col, axis=0)
        terms *= self.vals_by_col
        return self._segment_sum(terms, self.col_start, self.shape[1])

    @staticmethod
    def _segment_sum(terms: np.ndarray, starts: np.ndarray, count: int) -> np.ndarray:
        out = np.zeros((count, terms.shape[1]), dtype=np.float32)
        ends = np.append(starts[1:], len(terms))
        nonempty = ends > starts
        if nonempty.any():
            out[nonempty] = np.add.reduceat(terms, starts[nonempty], axis=0)
        return out


def _adam(x: _Sparse, y: np.ndarray, l2: float, steps: int, lr: float = 0.05):
    n, c = x.shape[0], y.shape[1]
    w = np.zeros((x.shape[1], c), dtype=np.float32)
    b = np.zeros(c, dtype=np.float32)
    moments = [np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b)]
    for step in range(1, steps + 1):
        z = x @ w + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        g = (p * y.sum(axis=1, keepdims=True) - y) / n
        grads = (x.rmatmul_t(g) + 2 * l2 * w, g.sum(axis=0))
        for k, (param, grad) in enumerate(zip((w, b), grads, strict=True)):
            m, v = moments[2 * k], moments[2 * k + 1]
            m *= 0.9
            m += 0.1 * grad
            v *= 0.999
            v += 0.001 * grad * grad
            param -= lr * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
    return w, b


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.router.train",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=learned.MODEL_FILE)
    parser.add_argument("--l2", type=float, default=L2)
    args = parser.parse_args(argv)
    data = examples()
    model = fit(data, l2=args.l2)
    learned.save(args.out, model)
    print(f"trained on {len(data)} posts, {len(model['vocab'])} features -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
