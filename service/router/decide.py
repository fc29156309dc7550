"""Which types a post asks: the patterns' per-part confidences combined with the learned scorer.

The patterns (score.py) see each question of a post on its own and are precise when they fire;
the learned scorer (learned.py) sees the whole post, code included, and knows phrasings the
patterns do not. The rules here:

- off topic: the learned scorer says "none" (probability >= none_min) and no part of the post
  is a sure pattern match (confidence >= rule_sure). For a post that mentions normalization
  the probability is the mean of the two learned models' (learned.py): the first, which
  learns "none" mostly from posts about other things, and the second, fitted on such posts
  only. A post that never mentions normalization
  needs less of the one and more of the other (none_min_no_bn, rule_sure_no_bn), and so
  does a post whose only parts the patterns read are about software or tooling (exporting,
  fusing BN into a conv, installing: none_min_tooling). Such a post gets no ask; nor does a
  post that the patterns place nowhere, read in part as tooling, and that asks no question
  at all (a pull request or bug report about BN's software: "Add fused BN for the ONNX
  exporter", "Fix fp16 issue in batch normalization");
- otherwise the primary type is the one with the highest pattern confidence + alpha x learned
  probability, even when no pattern was confident: a post about BN always gets its nearest
  type ("nearest" is set so the caller can say which part was not placed);
- every other type a part of the post asks confidently (pattern confidence >= THRESHOLD) is
  kept if the learned scorer does not rule it out (probability >= agree_min), so a post with
  several questions gets several asks. They come in the order the post asks them, except in
  a post of statements only, where the order of first appearance says nothing about what
  is asked: there the primary type comes first when its pattern confidence is also the
  higher.

The settings were chosen by the cross-validation over the tune, dev and pool splits of
tests/router/real/posts.jsonl (`python -m service.router.crossval`; see the README there).
"""

from __future__ import annotations

from dataclasses import dataclass

from experiments import catalog

from .learned import NONE, NONE_BN

THRESHOLD = 0.4  # a part of a post placed by the patterns alone (route.THRESHOLD)


@dataclass(frozen=True)
class Settings:
    alpha: float = 2.5  # weight of the learned probability against the pattern confidence
    agree_min: float = 0.05  # learned probability below which a second pattern ask is dropped
    none_min: float = 0.45  # learned "none" probability that makes a post off topic
    none_min_no_bn: float = 0.2  # the same for a post that never mentions normalization
    # The same for a post in which the patterns placed nothing and read a part as tooling.
    none_min_tooling: float = 0.2
    rule_sure: float = 0.6  # pattern confidence that keeps a post on topic regardless
    rule_sure_no_bn: float = 0.75  # the same for a post that never mentions normalization


SETTINGS = Settings()


@dataclass(frozen=True)
class Pick:
    type: str
    confidence: float
    nearest: bool  # placed although no part of the post was a confident pattern match


def choose(rule_conf: dict[str, float], probs: dict[str, float] | None, in_bn: bool,
           settings: Settings | None = None, tooling: bool = False,
           questions: bool = True) -> list[Pick] | None:
    """The asks in order (the patterns' order of first appearance, a nearest type first), or
    None when the post is off topic. `rule_conf` holds the types some part asked confidently;
    `tooling` says that the patterns read some part of the post as off topic; `questions`
    that some part of it asks a question."""
    settings = settings or SETTINGS
    if probs is None:  # no model shipped: the patterns decide alone
        return [Pick(t, c, False) for t, c in rule_conf.items()]
    top_rule = max(rule_conf.values(), default=0.0)
    none_min = settings.none_min if in_bn else settings.none_min_no_bn
    if tooling and not rule_conf:
        if not questions:
            return None
        none_min = min(none_min, settings.none_min_tooling)
    rule_sure = settings.rule_sure if in_bn else settings.rule_sure_no_bn
    if top_rule < rule_sure and none_probability(probs, in_bn) >= none_min:
        return None
    if not rule_conf and not in_bn:
        return None  # nothing BN is named and no pattern fired: not a question for us
    combined = {t: rule_conf.get(t, 0.0) + settings.alpha * probs[t] for t in catalog.ids()}
    primary = max(combined, key=combined.get)
    picks: list[Pick] = []
    if primary not in rule_conf:
        conf = combined[primary] / (1 + settings.alpha)
        picks.append(Pick(primary, round(min(conf, THRESHOLD - 0.01), 3), True))
    for type_id, conf in rule_conf.items():
        if type_id == primary or probs[type_id] >= settings.agree_min:
            picks.append(Pick(type_id, conf, False))
    if not questions and rule_conf.get(primary, 0.0) > picks[0].confidence:
        picks.sort(key=lambda p: p.type != primary)
    return picks


def none_probability(probs: dict[str, float], in_bn: bool) -> float:
    """The learned probability that a post asks nothing the service answers: for a post that
    mentions normalization, the mean of the two models' (the second model's alone sends too
    many short on-topic posts away, the first's keeps too many reports about software)."""
    if in_bn and NONE_BN in probs:
        return (probs[NONE] + probs[NONE_BN]) / 2
    return probs[NONE]
