"""Repair one-letter typos in the words the patterns key on ("dorpout", "learing", "gradiants").

Only words of six letters or more (and "gamma") from a short domain vocabulary are repaired,
and only at edit distance 1 (a letter dropped, added, changed, or two swapped), found by
comparing single-deletion variants. Short words are left alone because at that length a typo is
too often another real word ("order"/"older").
"""

from __future__ import annotations

import re
from functools import lru_cache

VOCABULARY = frozenset("""
    normalization normalisation normalize normalise normalized normalizing batchnorm
    gradient gradients vanishing exploding explode covariate generalization generalisation
    generalize generalise dropout activation activations nonlinearity learning weight weights
    variance statistics running average averages moving exponential exponentially regularizer
    regularization regularize layernorm groupnorm instance initialization initialisation
    evaluation inference training performs terrible necessary useless before distribution
    parameters parameter backprop backpropagation redundant shift shifting gamma decay
    momentum convolutional difference samples transformer transformers minibatch minibatches
""".split())

# Real words one edit away from a vocabulary word, which must not be "repaired".
_KEEP = frozenset("""
    eight height heights eighty earning leaning yearning raining draining weighed
    performer informs reforms
""".split())

_WORD = re.compile(r"[a-z]{4,}")


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


def _build_index() -> dict[str, set[str]]:
    index: dict[str, set[str]] = {}
    for word in VOCABULARY:
        for key in _deletes(word) | {word}:
            index.setdefault(key, set()).add(word)
    return index


_INDEX = _build_index()


@lru_cache(maxsize=4096)
def repair(token: str) -> str:
    """The vocabulary word `token` is one edit away from, or `token` itself."""
    if not 4 <= len(token) <= 20 or token in VOCABULARY or token in _KEEP:
        return token
    stem = re.sub(r"(?:es|s|ed|ing|ly)$", "", token)
    if stem in VOCABULARY:  # an inflection, not a typo
        return token
    candidates: set[str] = set(_INDEX.get(token, ()))
    for key in _deletes(token):
        candidates |= _INDEX.get(key, set())
    candidates = {c for c in candidates if len(c) >= 6 or c == "gamma"}
    return candidates.pop() if len(candidates) == 1 else token


def repair_text(text: str) -> str:
    """Lower-case text with each known-word typo repaired."""
    return _WORD.sub(lambda m: repair(m.group(0)), text)
