"""route(text): a post in, the questions it asks out (architecture.md, step 1 of the flow).

Pipeline: code and tracebacks out (evidence.py; kept as evidence for the learned scorer) ->
clean (quotes, greetings, sign-offs out) -> split into blocks and segments -> score each segment
against every type's patterns -> decide, with the learned scorer's view of the whole post
(decide.py):

- a paragraph is split into several questions only where each part is, on its own, a
  confident question; weaker parts stay with their neighbour as explanation;
- in a post that asks questions, statements are context: they are used to place a question
  that is too terse on its own ("Which one should I pick?" after a list of norms), and the
  settings stated before the first question ("I train a CNN with batch size 4") apply to
  every ask;
- a question about BN below THRESHOLD is reported as not understood with the two closest
  types; a post about BN that no part places gets its nearest type all the same, with such a
  note; only a post about something else entirely gets nothing (off topic);
- asks of the same type are merged, in order of first appearance;
- an exception message in the code ("Expected more than 1 value per channel ...") that the
  patterns place confidently counts for the decision like a confident part of the prose, but
  the ask's excerpt is always the asker's prose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache, cached_property

from . import clean, decide, evidence, learned, params, score, split
from .routing import Ask, NotUnderstood, RouterInputError, Routing

THRESHOLD = 0.4  # confidence needed for an ask
OFF_TOPIC_MIN = 2.0  # off-topic evidence that, if it also beats every type, rejects a segment
# Weak segments stop joining a neighbour past this length, so that a pathological paragraph
# (thousands of "Why?") costs linear time instead of rescoring an ever longer text.
MAX_JOINED_CHARS = 2000
# No forum post asks hundreds of questions; past this the text is refused, not ground through.
MAX_SEGMENTS = 200


@dataclass(frozen=True)
class _Unit:
    text: str
    question: bool
    scores: score.Scores
    type: str
    confidence: float

    @property
    def off_topic(self) -> bool:
        off = self.scores.off_topic
        return off >= OFF_TOPIC_MIN and off >= self.scores.top

    @property
    def joinable(self) -> bool:
        return self.confidence < THRESHOLD and not self.off_topic


@dataclass(frozen=True)
class Reading:
    """What the patterns make of a post before the learned scorer is consulted: everything the
    decision needs besides the learned probabilities (the cross-validation reuses it)."""

    prose: str
    code: str
    in_bn: bool
    units: list[_Unit]
    from_errors: dict[str, float]

    @cached_property
    def collected(self) -> _Collected:
        return _collect(self.units, self.in_bn)

    @property
    def tooling(self) -> bool:
        """Some part of the post is, by the patterns, about tooling rather than BN."""
        return bool(self.collected.off_topic)

    @property
    def questions(self) -> bool:
        """Some part of the post asks a question (else every part is a statement)."""
        return any(u.question for u in self.units)

    @property
    def rule_conf(self) -> dict[str, float]:
        """The types some part of the post asks confidently, in order of first appearance."""
        conf = {t: e.confidence for t, e in self.collected.found.items()}
        for type_id, c in self.from_errors.items():
            conf.setdefault(type_id, c)
        return conf


def read(text: str) -> Reading | None:
    """The patterns' reading of a post; None for a post with no prose. Raises RouterInputError
    for input it refuses."""
    # Code and tracebacks are evidence for the learned scorer, never prose or excerpts.
    prose_part, code = evidence.split(clean.check(text))
    prose = clean.clean(prose_part)
    if not prose:
        return None
    in_bn = score.post_mentions_normalization(prose, code)
    blocks = [split.segments(block) for block in split.blocks(prose)]
    count = sum(len(segs) for segs in blocks)
    if count > MAX_SEGMENTS:
        raise RouterInputError(
            f"the text holds {count} separate questions or paragraphs; the limit is "
            f"{MAX_SEGMENTS}")
    units = [u for segs in blocks for u in _block_units(segs, in_bn)]
    return Reading(prose, code, in_bn, units, _error_evidence(code, in_bn))


def route(text: str) -> Routing:
    """Raises RouterInputError for input it refuses; empty input gives an empty Routing."""
    reading = read(text)
    if reading is None:
        return Routing()
    model = learned.load()
    probs = model.probabilities(reading.prose, reading.code) if model else None
    return _assemble(reading, probs)


def _error_evidence(code: str, in_bn: bool) -> dict[str, float]:
    """Types that an exception message in the code places confidently: evidence for the
    decision, never an excerpt. Every message reads as an error report, which the off-topic
    patterns count against a text, so only the types' own evidence is weighed here."""
    found: dict[str, float] = {}
    for message in evidence.error_messages(code):
        scores = score.score(score.normalize(message))
        best, conf = score.confidence(score.Scores(scores.by_type, 0.0), in_bn)
        if conf >= THRESHOLD:
            found[best] = max(found.get(best, 0.0), conf)
    return found


def _unit(text: str, in_bn: bool, question: bool | None = None) -> _Unit:
    scores = score.score(score.normalize(text))
    best, conf = score.confidence(scores, in_bn)
    question = split.is_question(text) if question is None else question
    return _Unit(text, question, scores, best, conf)


def _block_units(segments: list[tuple[str, bool]], in_bn: bool) -> list[_Unit]:
    out: list[_Unit] = []
    for seg, question in segments:
        unit = _unit(seg, in_bn, question)
        prev = out[-1] if out else None
        if (prev and (unit.joinable or prev.joinable) and not (prev.off_topic or unit.off_topic)
                and len(prev.text) + len(seg) < MAX_JOINED_CHARS):
            out[-1] = _unit(f"{prev.text} {seg}", in_bn, prev.question or question)
        else:
            out.append(unit)
    return out


@dataclass
class _Found:
    """The parts of a post that ask one type: merged into one ask."""

    confidence: float = 0.0
    texts: list[str] = field(default_factory=list)


@dataclass
class _Collected:
    """The units of a post sorted by what the patterns make of them."""

    found: dict[str, _Found] = field(default_factory=dict)  # in order of first appearance
    unplaced: list[_Unit] = field(default_factory=list)  # questions about BN no type took
    preamble: list[str] = field(default_factory=list)  # statements before the first question
    off_topic: list[str] = field(default_factory=list)


def _collect(units: list[_Unit], in_bn: bool) -> _Collected:
    out = _Collected()
    asks_questions = any(u.question for u in units)
    context: list[_Unit] = []  # statements since the last question
    seen_question = False
    for unit in units:
        if unit.off_topic:
            out.off_topic.append(unit.text)
            continue
        if asks_questions and not unit.question:
            context.append(unit)
            if not seen_question:
                out.preamble.append(unit.text)
            continue
        seen_question = True
        if unit.confidence < THRESHOLD and context:
            with_context = _unit(" ".join(c.text for c in context) + " " + unit.text, in_bn,
                                 question=True)
            if with_context.confidence > unit.confidence and not with_context.off_topic:
                unit = with_context
        context = []
        if unit.confidence >= THRESHOLD:
            entry = out.found.setdefault(unit.type, _Found())
            entry.confidence = max(entry.confidence, unit.confidence)
            entry.texts.append(unit.text)
        elif in_bn and (unit.scores.top > 0 or _mentions_bn(unit.text)):
            out.unplaced.append(unit)
        elif unit.question and len(unit.text.split()) >= 4:
            out.off_topic.append(unit.text)
    return out


def _assemble(reading: Reading, probs: dict[str, float] | None) -> Routing:
    units, got = reading.units, reading.collected
    chosen = decide.choose(reading.rule_conf, probs, reading.in_bn, tooling=reading.tooling,
                           questions=reading.questions)
    if chosen is None:  # the learned scorer and the patterns agree: nothing BN is asked
        return Routing(off_topic=[u.text for u in units])
    routing = Routing(off_topic=list(got.off_topic))
    shared = params.extract(" ".join(got.preamble))
    for pick in chosen:
        texts = got.found[pick.type].texts if pick.type in got.found else [
            _best_text(units, pick.type)]
        ask = _ask(pick.type, pick.confidence, texts, shared)
        ask.nearest = pick.nearest
        routing.asks.append(ask)
    for unit in got.unplaced:
        routing.not_understood.append(NotUnderstood(_excerpt(unit.text), suggest(unit, probs)))
    nearest = [p for p in chosen if p.nearest]
    if nearest and not got.unplaced:
        # The post was placed only by the learned scorer: say which text that was.
        unit = _first_question(units)
        routing.not_understood.append(NotUnderstood(_excerpt(unit.text), suggest(unit, probs)))
    return routing


def _best_text(units: list[_Unit], type_id: str) -> str:
    """The part of the post that speaks most for a type placed by the learned scorer."""
    scored = [u for u in units if not u.off_topic]
    best = max(scored or units, key=lambda u: (u.scores.by_type[type_id], u.question))
    return best.text if best.scores.by_type[type_id] > 0 else _first_question(units).text


def _first_question(units: list[_Unit]) -> _Unit:
    return next((u for u in units if u.question and not u.off_topic), units[0])


def _ask(type_id: str, conf: float, texts: list[str], shared: params.Extracted) -> Ask:
    own = params.extract(" ".join(texts))
    values, errors, notes = params.validate(type_id, own)
    # Settings from the post's opening fill in what this question does not state itself. One
    # that does not fit this type becomes a note, not an error: it may be meant for another.
    stated = own.values.keys() | own.errors.keys()
    opening = params.Extracted()
    opening.values = {k: v for k, v in shared.values.items() if k not in stated}
    opening.errors = {k: v for k, v in shared.errors.items() if k not in stated}
    more_values, more_errors, more_notes = params.validate(type_id, opening)
    values.update({k: v for k, v in more_values.items() if k not in values})
    for note in more_notes + shared.notes:
        if note not in notes:
            notes.append(note)
    notes.extend(f"{name}: {why} (stated before the questions; not used)"
                 for name, why in more_errors.items())
    excerpt = _excerpt(" \u2026 ".join(texts))
    return Ask(type_id, round(conf, 3), excerpt, values, errors, notes)


_MAX_EXCERPT = 600


def _excerpt(text: str) -> str:
    return text if len(text) <= _MAX_EXCERPT else text[:_MAX_EXCERPT - 1].rstrip() + "\u2026"


def _mentions_bn(text: str) -> bool:
    return score.mentions_normalization(score.normalize(text))


def suggest(unit: _Unit, probs: dict[str, float] | None = None) -> list[str]:
    """The two closest types: by pattern score plus the learned scorer's probability, then by
    words shared with the catalog entry."""
    words = set(re.findall(r"[a-z]{3,}", score.normalize(unit.text))) - _STOPWORDS
    by_type = unit.scores.by_type
    prob = probs or {}
    ranked = sorted(by_type, key=lambda t: (-(by_type[t] + 5 * prob.get(t, 0.0)),
                                            -len(words & _catalog_words(t))))
    return ranked[:2]


_STOPWORDS = frozenset("""the and for why does not would with that this what when can how are
    you use using into than then its it's their they them there have has was were but also just
    about more less much very any all""".split())


@cache
def _catalog_words(type_id: str) -> frozenset[str]:
    from experiments import catalog

    entry = catalog.get(type_id)
    text = score.normalize(f"{entry.title} {entry.question} {type_id.replace('_', ' ')}")
    return frozenset(re.findall(r"[a-z]{3,}", text)) - _STOPWORDS
