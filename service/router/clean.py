"""Turn a post (plain text, Markdown or Discourse "cooked" HTML) into the asker's own prose.

Removed, because none of it is the asker's question:
- quotes of other posts (<blockquote>, <aside class="quote">, "> " lines, [quote]...[/quote]);
- code blocks (<pre>, ``` or ~~~ fences): identifiers such as `model.eval()` would otherwise
  outvote the sentence around them. Inline code stays: "`bias=False` before BN" is prose;
- link previews, images and bare URLs;
- a leading greeting, and a sign-off with whatever follows it when that is a signature or a
  reply pasted below the post (a forum thread copied whole, like the seed file).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from itertools import islice

from .routing import RouterInputError

MAX_CHARS = 200_000

# C0/C1 control characters (tab and newlines excepted), replacement characters and lone
# surrogates: what decoding bytes that are not text produces.
_GARBAGE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd\ud800-\udfff]")

_HTML_TAG = re.compile(
    r"</?(?:p|div|br|aside|blockquote|pre|code|ol|ul|li|h[1-6]|span|a|strong|em|img|table|"
    r"tr|td|hr)\b[^>]*>", re.I)


def check(text: object) -> str:
    """Return the text if the router will read it, else raise RouterInputError."""
    if not isinstance(text, str):
        raise RouterInputError(f"expected text (str), got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise RouterInputError(
            f"text is {len(text):,} characters long; the limit is {MAX_CHARS:,}")
    bad = len(_GARBAGE.findall(text))
    if "\x00" in text or bad > max(3, len(text) // 50):
        raise RouterInputError(
            f"text looks like binary data ({bad} control or undecodable characters)")
    return text


def clean(text: str) -> str:
    """The asker's prose, with paragraphs kept as blank-line-separated blocks."""
    text = check(text).replace("\r\n", "\n").replace("\r", "\n")
    if _HTML_TAG.search(text):
        text = html_to_text(text)
    text = strip_markdown(text)
    lines = strip_signoff(strip_greeting(text.split("\n")))
    return "\n".join(lines).strip()


class _TextExtractor(HTMLParser):
    # Elements whose content is never the asker's prose. <aside> covers Discourse quotes
    # (aside.quote) and link previews (aside.onebox).
    SKIP = frozenset({"blockquote", "aside", "pre", "script", "style", "svg"})
    BLOCK = frozenset({"p", "div", "li", "ol", "ul", "h1", "h2", "h3", "h4", "h5", "h6",
                       "table", "tr", "hr"})

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0  # depth inside SKIP elements; unbalanced closing tags are ignored

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skip += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in self.BLOCK:
            # A list item becomes a Markdown bullet so that split.py sees an item boundary.
            self.parts.append("\n\n- " if tag == "li" else "\n\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(re.sub(r"\s+", " ", data))  # HTML whitespace is one space


def html_to_text(html: str) -> str:
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


_BBCODE_QUOTE = re.compile(r"\[quote[^\]]*\].*?(?:\[/quote\]|\Z)", re.I | re.S)
_FENCE = re.compile(r"^[ \t]*(```|~~~).*?(?:^[ \t]*\1[ \t]*$|\Z)", re.M | re.S)
_QUOTE_LINE = re.compile(r"^[ \t]*>.*$", re.M)
_WROTE_LINE = re.compile(r"^.{0,60}\b(?:wrote|said):[ \t]*$", re.M | re.I)
_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
_LINK = re.compile(r"\[([^\]\n]+)\]\([^)\n]*\)")
_URL = re.compile(r"https?://\S+")
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")
_HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]+", re.M)


def strip_markdown(text: str) -> str:
    text = _BBCODE_QUOTE.sub("\n", text)
    text = _FENCE.sub("\n", text)
    text = _QUOTE_LINE.sub("", text)
    text = _WROTE_LINE.sub("", text)
    text = _IMAGE.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _URL.sub("", text)
    text = _EMPHASIS.sub(r"\2", text)
    text = _HEADING.sub("", text)
    return text.replace("`", "")


_GREETING = (r"(?:hi|hello|hey|hiya|howdy|greetings|dear|good (?:morning|afternoon|evening|day))"
             r"(?:\s+(?:all|everyone|everybody|folks|guys|there|team|people|friends|community|"
             r"experts|mentors?)){0,2}")
# A line that is only a greeting: the greeting plus at most two words (a name, "and welcome").
_GREETING_LINE = re.compile(rf"^\W*{_GREETING}\b(?:[ \t,]+[\w'.-]+){{0,2}}[ \t]*[,.!:]*[ \t]*$",
                            re.I)
_GREETING_PREFIX = re.compile(rf"^(\W*){_GREETING}\s*[,!.:;-]+\s*", re.I)
_SIGNOFF = re.compile(
    r"^\s*(?:best(?: regards| wishes)?|kind regards|warm regards|regards|cheers|many thanks|"
    r"thanks?(?: you)?(?: (?:a lot|so much|in advance|all|everyone))?|thx|sincerely|"
    r"all the best|greetings)\s*[,.!]*\s*$", re.I)
_SIG_DELIMITER = re.compile(r"^\s*--(?:[ \t]+\S+){0,3}[ \t]*$")  # "-- Kenji"


def strip_greeting(lines: list[str]) -> list[str]:
    """Drop a greeting on the first non-empty line, or the greeting words that open it."""
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        if _GREETING_LINE.match(line):
            return lines[:i] + lines[i + 1:]
        return lines[:i] + [_GREETING_PREFIX.sub(r"\1", line, count=1)] + lines[i + 1:]
    return lines


def strip_signoff(lines: list[str]) -> list[str]:
    """Cut at a sign-off line when what follows is a signature or someone else's reply.

    A "Thanks!" line followed by more of the asker's text (an edit, a P.S.) only loses the
    line itself.
    """
    out: list[str] = []
    seen_content = False
    for i, line in enumerate(lines):
        if seen_content:
            if _SIG_DELIMITER.match(line):
                break
            if _SIGNOFF.match(line):
                # Three following lines are enough to tell a signature (at most two short
                # lines) from more text.
                following = (lines[j] for j in range(i + 1, len(lines)))
                rest = list(islice((r for r in following if r.strip()), 3))
                signature = len(rest) <= 2 and all(len(r.split()) <= 4 for r in rest)
                reply = bool(rest) and bool(_GREETING_LINE.match(rest[0])
                                            or _GREETING_PREFIX.match(rest[0]))
                if signature or reply:
                    break
                continue
        seen_content = seen_content or bool(line.strip())
        out.append(line)
    return out
