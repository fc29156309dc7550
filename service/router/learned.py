"""The learned scorer: a linear model over word and character n-grams of a whole post.

The hand-written patterns (patterns.py) are precise but only know the phrasings they were
written for; real posts ask the same questions in many other words. This model reads the
whole post (prose plus code identifiers, see evidence.py) and gives a probability for each
question type and for "none" (not a question the service answers). route.py combines it with
the pattern scores.

Features: lower-case words and word pairs of the normalized prose, character 3- to 5-grams
of each word (so "batchnorm2d", "normalisation" and typos share features), and the
identifiers of the code, marked "c:". A post's features are binary and scaled to unit length.
The weights are trained by `python -m service.router.train` (train.py) and shipped as
data/model.npz, loaded on first use; nothing is downloaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from . import evidence
from .score import normalize

MODEL_FILE = Path(__file__).with_name("data") / "model.npz"
NONE = "none"  # the class of posts that ask nothing the service answers

_WORD = re.compile(r"[a-z][a-z0-9']*")


def features(prose: str, code: str = "") -> set[str]:
    words = _WORD.findall(normalize(prose))
    feats = set(words)
    feats.update(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))
    for word in set(words):
        padded = f"<{word}>"
        for n in (3, 4, 5):
            feats.update("#" + padded[i:i + n] for i in range(len(padded) - n + 1))
    feats.update("c:" + tok for tok in evidence.tokens(code))
    return feats


@dataclass(frozen=True)
class Model:
    classes: tuple[str, ...]
    index: dict[str, int]  # feature -> row of weights
    weights: np.ndarray  # (features, classes)
    bias: np.ndarray  # (classes,)

    def probabilities(self, prose: str, code: str = "") -> dict[str, float]:
        rows = [self.index[f] for f in features(prose, code) if f in self.index]
        logits = self.bias.astype(np.float64)
        if rows:
            # Unit-length binary features: every present feature weighs 1/sqrt(count).
            logits = logits + self.weights[rows].sum(axis=0, dtype=np.float64) / np.sqrt(
                len(rows))
        logits -= logits.max()
        p = np.exp(logits)
        p /= p.sum()
        return dict(zip(self.classes, p.tolist(), strict=True))


@cache
def load(path: Path = MODEL_FILE) -> Model | None:
    """The shipped model, or None if the file is missing (the patterns then decide alone)."""
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        vocab = [str(v) for v in data["vocab"]]
        return Model(tuple(str(c) for c in data["classes"]),
                     {f: i for i, f in enumerate(vocab)},
                     data["weights"].astype(np.float32), data["bias"].astype(np.float32))


def save(path: Path, classes: list[str], vocab: list[str], weights: np.ndarray,
         bias: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, classes=np.array(classes), vocab=np.array(vocab),
                        weights=weights.astype(np.float16), bias=bias.astype(np.float32))
