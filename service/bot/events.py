"""Which webhook events the bot acts on, and why it ignores the rest.

Discourse sends every post event of the hook; the bot answers only a regular post by a real
person (user_id > 0: system and other bots have ids <= 0) in an allowed category, that is the
first post of a topic, mentions the bot outside quotes, or replies to one of the bot's posts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

REGULAR_POST = 1  # Discourse's post_type: 1 regular, 2 moderator action, 3 small action, 4 whisper

# [quote="..."]...[/quote] blocks (nested ones too, innermost first) and Markdown "> " lines.
_BBCODE_QUOTE = re.compile(r"\[quote(?:=[^\]]*)?\](?:(?!\[quote).)*?\[/quote\]",
                           re.IGNORECASE | re.DOTALL)
_MD_QUOTE = re.compile(r"^\s{0,3}>.*$", re.MULTILINE)
_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)


@dataclass(frozen=True)
class Decision:
    trigger: str | None  # topic, mention or reply; None: ignore
    reason: str

    @property
    def act(self) -> bool:
        return self.trigger is not None


def strip_quotes(raw: str) -> str:
    """The post's own words: quoted posts and code removed (a mention there is not a call)."""
    text = _CODE.sub(" ", raw)
    while True:
        stripped = _BBCODE_QUOTE.sub(" ", text)
        if stripped == text:
            break
        text = stripped
    return _MD_QUOTE.sub(" ", text)


def mentions(raw: str, username: str) -> bool:
    pattern = rf"(?<![\w@/.]){re.escape('@' + username)}(?![\w-])"
    return re.search(pattern, strip_quotes(raw), re.IGNORECASE) is not None


def decide(event: str, post: dict, *, username: str, categories: frozenset[int],
           is_bot_post: Callable[[int, int], bool]) -> Decision:
    """Whether to act on `post` (WebHookPostSerializer output) sent as `event`.

    `is_bot_post(topic_id, post_number)` says whether a post is one the bot wrote; it is asked
    only for replies, so most events need no database.
    """
    if event != "post_created":
        return Decision(None, f"event {event!r} is not post_created")
    author = str(post.get("username") or "")
    if author.lower() == username.lower():
        return Decision(None, "the bot's own post")
    if not isinstance(post.get("user_id"), int) or post["user_id"] <= 0:
        return Decision(None, f"author {author!r} is a system user or bot")
    if post.get("post_type") != REGULAR_POST:
        return Decision(None, f"post_type {post.get('post_type')!r} is not a regular post")
    if post.get("topic_archetype", "regular") != "regular":
        return Decision(None, f"topic archetype {post.get('topic_archetype')!r}")
    if post.get("category_id") not in categories:
        return Decision(None, f"category {post.get('category_id')!r} is not answered here")
    if post.get("deleted_at") or post.get("hidden"):
        return Decision(None, "the post is deleted or hidden")
    if post.get("post_number") == 1:
        return Decision("topic", "first post of a topic")
    if mentions(str(post.get("raw") or ""), username):
        return Decision("mention", "mentions the bot")
    reply_to = post.get("reply_to_post_number")
    reply_user = (post.get("reply_to_user") or {}).get("username", "")
    if reply_to and (str(reply_user).lower() == username.lower()
                     or is_bot_post(int(post["topic_id"]), int(reply_to))):
        return Decision("reply", "replies to the bot")
    return Decision(None, "neither a new topic, a mention nor a reply to the bot")


REQUIRED = ("id", "topic_id", "post_number", "user_id", "username")


def missing_fields(post: object) -> list[str]:
    """The fields the bot needs that a payload lacks (or has with the wrong type)."""
    if not isinstance(post, dict):
        return ["post"]
    out = [name for name in REQUIRED if name not in post]
    out += [name for name in ("id", "topic_id", "post_number")
            if name in post and not isinstance(post[name], int)]
    return out
