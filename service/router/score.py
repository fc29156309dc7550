"""Score a piece of text against every question type and turn the scores into a confidence.

confidence = strength x (0.6 + 0.4 x margin), where strength = 1 - exp(-top / 2.5) grows with the
evidence for the best type (2 points of evidence give 0.55, 5 give 0.86) and margin =
(top - second) / top says how clearly it beats the runner-up. Both parts are visible in
`Scores`, so a surprising routing can be explained by listing the patterns that matched.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from . import context_patterns, patterns
from .typos import repair_text

_SPELLED_OUT = {"\u03b2": " beta ", "\u03b3": " gamma ", "\u03bc": " mu ", "\u03c3": " sigma ",
          "\u03b5": " eps ", "\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"',
          "\u2212": "-", "\u00d7": "x"}
_ARROW = re.compile(r"\s*(?:->|=>|\u2192|\u27f6)\s*")
_WORD_HYPHEN = re.compile(r"(?<=[a-z])[-_/](?=[a-z])")


def normalize(text: str) -> str:
    """The form patterns match: see patterns.py."""
    text = text.lower()
    for src, dst in _SPELLED_OUT.items():
        text = text.replace(src, dst)
    text = _ARROW.sub(" then ", text)
    text = _WORD_HYPHEN.sub(" ", text.replace("&", " and "))
    return " ".join(repair_text(text).split())


@dataclass(frozen=True)
class Scores:
    by_type: dict[str, float]  # type id -> summed pattern weights (>= 0)
    off_topic: float  # summed OFF_TOPIC weights

    def ranked(self) -> list[tuple[str, float]]:
        # Stable sort: ties keep catalog order, so results do not depend on hashing.
        return sorted(self.by_type.items(), key=lambda kv: -kv[1])

    @property
    def top(self) -> float:
        return self.ranked()[0][1]


def score(normalized: str) -> Scores:
    by_type = {}
    for type_id, compiled in patterns.COMPILED.items():
        total = sum(w for w, rx in compiled if rx.search(normalized))
        by_type[type_id] = max(0.0, total)
    off = sum(w for w, rx in context_patterns.COMPILED_OFF_TOPIC if rx.search(normalized))
    return Scores(by_type, off)


def confidence(scores: Scores, in_bn_context: bool = True) -> tuple[str, float]:
    """The best type and a confidence in 0..1.

    Off-topic evidence is subtracted from the best type's; a post that never mentions
    normalization keeps 75% of the confidence, since "learning rate" alone is not a BN question.
    """
    (best, top), (_, second) = scores.ranked()[:2]
    top_eff = top - scores.off_topic
    if top_eff <= 0:
        return best, 0.0
    strength = 1.0 - math.exp(-top_eff / 2.5)
    margin = (top - second) / top
    conf = strength * (0.6 + 0.4 * margin)
    return best, conf if in_bn_context else 0.75 * conf


def mentions_normalization(normalized: str) -> bool:
    if context_patterns.COMPILED_BN_CONTEXT.search(normalized):
        return True
    return bool(context_patterns.COMPILED_EVAL_CONTEXT.search(normalized)) and not \
        context_patterns.COMPILED_DROPOUT_CONTEXT.search(normalized)


def post_mentions_normalization(prose: str, code: str) -> bool:
    """Whether a post (its cleaned prose and its code) names normalization anywhere."""
    return mentions_normalization(normalize(prose)) or mentions_normalization(code.lower())
