"""What the router returns: the asks it found in a post and the parts it could not place.

`Routing.to_json()` is the `bnlab classify --json` contract of architecture.md:
`{"asks": [{"type", "confidence", "excerpt", "params"}], "not_understood": [excerpt, ...]}`.
Extra keys (param problems, notes, suggestions, off-topic excerpts) ride along; consumers that
only know the contract ignore them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class RouterInputError(ValueError):
    """Input the router refuses to read (too long, binary data, not text)."""


@dataclass
class Ask:
    type: str  # a catalog id
    confidence: float  # 0..1
    excerpt: str  # the asker's words this ask came from
    params: dict[str, Any] = field(default_factory=dict)  # read from the text and validated
    param_errors: dict[str, str] = field(default_factory=dict)  # name -> why it was not used
    notes: list[str] = field(default_factory=list)  # values seen but deliberately not used
    # Placed only as the nearest type of a post about BN that no pattern placed: a guess that a
    # caller answering in public (the forum bot) may prefer to ask about instead.
    nearest: bool = False

    def to_json(self) -> dict:
        return {"type": self.type, "confidence": round(self.confidence, 3),
                "excerpt": self.excerpt, "params": dict(self.params),
                "param_errors": dict(self.param_errors), "notes": list(self.notes)}


@dataclass
class NotUnderstood:
    excerpt: str
    suggestions: list[str]  # the two closest question types, best first

    def to_json(self) -> dict:
        return {"excerpt": self.excerpt, "suggestions": list(self.suggestions)}


@dataclass
class Routing:
    asks: list[Ask] = field(default_factory=list)
    not_understood: list[NotUnderstood] = field(default_factory=list)
    # Questions about something other than BN behaviour (installing, shape errors, ...): the
    # service has no experiment for them, so they are neither asks nor "not understood".
    off_topic: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"asks": [a.to_json() for a in self.asks],
                "not_understood": [n.excerpt for n in self.not_understood],
                "not_understood_detail": [n.to_json() for n in self.not_understood],
                "off_topic": list(self.off_topic)}
