"""Cut the asker's prose into candidate questions.

Two levels:
- blocks: paragraphs (blank-line separated) and list items ("1.", "2)", "(3)", "- ", "Q1:");
- segments inside a block: each runs up to and including a sentence that ends in "?", and a
  question sentence is cut again where ", and why/how/what/does ..." starts a second question.
  Sentences after the last "?" stay with the last question (they usually explain it).

Whether a segment is kept alone is decided later by its score (route.py): a paragraph is only
split where every part is, on its own, a confident question.
"""

from __future__ import annotations

import re

_ITEM = re.compile(
    r"^\s*(?:\(?\d{1,2}[.):]|\d{1,2}/|[-*\u2022+]|q\d{1,2}[:.)]?|question\s+[a-z0-9]{1,2}\s*[:.)])"
    r"\s+", re.I)
_QUESTION_END = re.compile(r"(?<=\?)[\"'\u201d)\]]*\s+")
# ", and does ...", " also, why ..." inside one sentence: a second question starts here.
_CLAUSE = re.compile(
    r"(?:[,;]\s*(?:and|also|plus)|\s+and(?:\s+also)?)\s+(?:,\s*)?"
    r"(?=(?:why|how|what|does|do|is|are|should|can|could|would|will|when|where|which)\b)",
    re.I)
_INTERROGATIVE = re.compile(
    r"^\W*(?:(?:first(?:ly)?|second(?:ly)?|third(?:ly)?|finally|lastly|also|and|so|but|ok(?:ay)?|"
    r"quick (?:one|question)|question|\w+ question)\W+)*"
    r"(?:why|how|what|when|where|which|who|should|shall|does|do|did|is|are|was|were|can|could|"
    r"would|will|has|have|isn'?t|doesn'?t|don'?t|wouldn'?t|couldn'?t|shouldn'?t|can'?t|"
    r"is it true)\b", re.I)
_PUZZLED = re.compile(
    r"\b(?:(?:i (?:(?:also|still|really|just) )?(?:don'?t|do not|can'?t|cannot) "
    r"(?:get|understand|see|figure out|decide|tell)|"
    r"(?:not|isn'?t) clear to me|i(?:'m| am) (?:confused|wondering|curious|not sure)(?: about)?|"
    r"i wonder|wondering|(?:can|could) (?:someone|anyone|you) explain|please explain|"
    r"help me understand) (?:why|how|what|whether|if|when|where|which)\b|"
    # A statement offered for checking asks whether it holds.
    r"\bif (?:my understanding is|i understand(?: this| it)?) (?:correct(?:ly)?|right)\b|"
    r"\bcorrect me if\b|\bam i (?:right|correct|wrong|missing something)\b)", re.I)


def blocks(text: str) -> list[str]:
    """Paragraphs and list items, each with its lines joined and its list marker removed."""
    out: list[str] = []
    current: list[str] = []

    def flush():
        if current:
            joined = " ".join(" ".join(current).split())
            if joined:
                out.append(joined)
            current.clear()

    for line in text.split("\n"):
        if not line.strip():
            flush()
            continue
        marker = _ITEM.match(line)
        if marker:
            flush()
            line = line[marker.end():]
        current.append(line.strip())
    flush()
    return out


def segments(block: str) -> list[tuple[str, bool]]:
    """(text, is_question) for the questions of one block, each with the statements that lead
    up to it; a block without a question is one statement segment."""
    pieces = [p for p in _QUESTION_END.split(block) if p.strip()]
    segs: list[str] = []
    pending: list[str] = []
    for piece in pieces:
        pending.append(piece.strip())
        if piece.rstrip(" \"')]\u201d").endswith("?"):
            segs.append(" ".join(pending))
            pending = []
    if pending:
        if segs:
            segs[-1] = f"{segs[-1]} {' '.join(pending)}"
        else:
            segs.append(" ".join(pending))
    out = []
    for seg in segs:
        question = is_question(seg)
        # Parts cut from one question sentence are all questions, even without their own "?".
        out.extend((part, question) for part in _split_clauses(seg))
    return out


def _split_clauses(segment: str) -> list[str]:
    parts = [p.strip(" ,;") for p in _CLAUSE.split(segment)]
    return [p for p in parts if p]


def is_question(segment: str) -> bool:
    """Asks something: a question mark, an opening question word, or "I don't get why"."""
    return "?" in segment or bool(_INTERROGATIVE.match(segment) or _PUZZLED.search(segment))
