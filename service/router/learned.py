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

The file holds two models over the same features: the first gives a probability for each
type and for "none"; the second, fitted on the posts that mention normalization only, the
probability that such a post asks nothing the service answers (NONE_BN), for the many
reports and pull requests about BN's software that name BN throughout.
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
NONE_BN = "none_bn"  # the second model's "none", for posts that mention normalization

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
    bn_weights: np.ndarray  # (features, 2): the second model, columns (asked, NONE_BN)
    bn_bias: np.ndarray  # (2,)

    def probabilities(self, prose: str, code: str = "") -> dict[str, float]:
        """The first model's probability of each class, and the second's of NONE_BN."""
        rows = [self.index[f] for f in features(prose, code) if f in self.index]
        probs = dict(zip(self.classes, _softmax(self.weights, self.bias, rows), strict=True))
        probs[NONE_BN] = _softmax(self.bn_weights, self.bn_bias, rows)[1]
        return probs


def _softmax(weights: np.ndarray, bias: np.ndarray, rows: list[int]) -> list[float]:
    logits = bias.astype(np.float64)
    if rows:
        # Unit-length binary features: every present feature weighs 1/sqrt(count).
        logits = logits + weights[rows].sum(axis=0, dtype=np.float64) / np.sqrt(len(rows))
    logits -= logits.max()
    p = np.exp(logits)
    return (p / p.sum()).tolist()


@cache
def load(path: Path = MODEL_FILE) -> Model | None:
    """The shipped model, or None if the file is missing (the patterns then decide alone)."""
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        vocab = [str(v) for v in data["vocab"]]
        return Model(tuple(str(c) for c in data["classes"]),
                     {f: i for i, f in enumerate(vocab)},
                     data["weights"].astype(np.float32), data["bias"].astype(np.float32),
                     data["bn_weights"].astype(np.float32),
                     data["bn_bias"].astype(np.float32))


def save(path: Path, model: dict) -> None:
    """Write a model as train.fit gives it; weights in half precision (the file ships)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, classes=np.array(model["classes"]),
                        vocab=np.array(model["vocab"]),
                        weights=model["weights"].astype(np.float16),
                        bias=model["bias"].astype(np.float32),
                        bn_weights=model["bn_weights"].astype(np.float16),
                        bn_bias=model["bn_bias"].astype(np.float32))
