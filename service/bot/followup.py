"""What text a forum post asks the router, and which settings it gives outright.

A post's own words are its question: quotes and code are not (service/bot/events.py), nor is
the @mention of the bot. Settings written as name=value ("@bnlab batch_size=8 seeds=10") are
taken out and passed to submit_question as given parameters. A follow-up whose own words
place no question (only settings, or "try it with Adam") reruns the questions of the bot
answer it replies to: their excerpts are routed again, together with the new words.
"""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from ..models import ForumPost
from ..router import route
from . import store
from .events import strip_quotes

# name=value; the value is a number, a word, or a comma-separated list of them.
_SETTING = re.compile(r"(?<![\w.=])([a-z][a-z0-9_]*)\s*=\s*([\w.+-]+(?:,[\w.+-]+)*)",
                      re.IGNORECASE)


def own_words(raw: str, bot_username: str) -> str:
    text = strip_quotes(raw)
    return re.sub(rf"(?<![\w@]){re.escape('@' + bot_username)}\b", " ", text,
                  flags=re.IGNORECASE)


def split_settings(text: str) -> tuple[str, dict[str, str]]:
    """(the text without its name=value settings, {name: value})."""
    given = {m[1].lower(): m[2] for m in _SETTING.finditer(text)}
    return _SETTING.sub(" ", text), given


def compose(session: Session, row: ForumPost, bot_username: str) -> tuple[str, dict[str, str]]:
    """(text to route, settings given outright) for a post the bot acts on."""
    text, given = split_settings(own_words(row.raw, bot_username))
    if row.reply_to_post_number is None or route(text).asks:
        return text.strip(), given
    previous = store.answer_at(session, row.topic_id, row.reply_to_post_number)
    if previous is None or previous.question is None:
        return text.strip(), given
    excerpts = [ask.excerpt for ask in previous.question.asks]
    return "\n\n".join(excerpts + [text.strip()]).strip(), given
