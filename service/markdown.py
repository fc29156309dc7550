"""A tiny, safe Markdown-to-HTML for the summaries bnlab writes.

The subset: paragraphs, headings, bullet and numbered lists, pipe tables, fenced code, block
quotes; inline bold, italic, code and links. Everything else is text: all input is HTML-escaped,
and a link is kept only when its URL is http(s), mailto or relative, so a summary can never
inject markup or script into a page that shows it.
"""

from __future__ import annotations

import re
from html import escape

_INLINE = re.compile(
    r"`(?P<code>[^`]+)`"
    r"|\[(?P<label>[^\]]+)\]\((?P<href>[^)\s]+)\)"
    r"|\*\*(?P<strong>.+?)\*\*|__(?P<strong2>.+?)__"
    r"|\*(?!\s)(?P<em>.+?)(?<!\s)\*|(?<![\w])_(?!\s)(?P<em2>.+?)(?<!\s)_(?![\w])"
)
_SAFE_URL = re.compile(r"^(https?://|mailto:|/|#|\./)", re.IGNORECASE)
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s{0,3}[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s{0,3}\d{1,9}[.)]\s+(.*)$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")


def safe_url(url: str) -> str | None:
    url = url.strip()
    if _SAFE_URL.match(url) and not url.lower().startswith("//"):
        return url
    return None


def inline(text: str) -> str:
    out, pos = [], 0
    for m in _INLINE.finditer(text):
        out.append(escape(text[pos:m.start()]))
        if m["code"] is not None:
            out.append(f"<code>{escape(m['code'])}</code>")
        elif m["label"] is not None:
            href, label = safe_url(m["href"]), inline(m["label"])
            out.append(f'<a href="{escape(href)}">{label}</a>' if href else label)
        elif m["strong"] is not None or m["strong2"] is not None:
            out.append(f"<strong>{inline(m['strong'] or m['strong2'])}</strong>")
        else:
            out.append(f"<em>{inline(m['em'] or m['em2'])}</em>")
        pos = m.end()
    out.append(escape(text[pos:]))
    return "".join(out)


def to_html(markdown: str, heading_offset: int = 0) -> str:
    """HTML for `markdown`; `heading_offset` demotes headings (# becomes h{1+offset}) so a
    summary nests under the page's own headings."""
    lines = markdown.replace("\r\n", "\n").split("\n")
    blocks: list[str] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            blocks.append(f"<p>{inline(' '.join(s.strip() for s in paragraph))}</p>")
            paragraph.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            flush()
            i += 1
        elif _FENCE.match(line):
            flush()
            fence = _FENCE.match(line).group(1)
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence):
                body.append(lines[i])
                i += 1
            blocks.append(f"<pre><code>{escape(chr(10).join(body))}</code></pre>")
            i += 1
        elif m := _HEADING.match(line):
            flush()
            level = min(len(m[1]) + heading_offset, 6)
            blocks.append(f"<h{level}>{inline(m[2])}</h{level}>")
            i += 1
        elif _BULLET.match(line) or _NUMBERED.match(line):
            flush()
            pattern, tag = (_BULLET, "ul") if _BULLET.match(line) else (_NUMBERED, "ol")
            items: list[str] = []
            while i < len(lines) and lines[i].strip():
                if m := pattern.match(lines[i]):
                    items.append(m[1])
                elif items and lines[i].startswith((" ", "\t")):
                    items[-1] += " " + lines[i].strip()  # a wrapped item
                else:
                    break
                i += 1
            blocks.append(f"<{tag}>" + "".join(f"<li>{inline(item)}</li>" for item in items)
                          + f"</{tag}>")
        elif "|" in line and i + 1 < len(lines) and _TABLE_RULE.match(lines[i + 1]):
            flush()
            header = _cells(line)
            i += 2
            rows = []
            while i < len(lines) and "|" in lines[i] and lines[i].strip():
                rows.append(_cells(lines[i]))
                i += 1
            head = "".join(f"<th>{inline(c)}</th>" for c in header)
            body = "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in row) + "</tr>"
                           for row in rows)
            blocks.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif line.lstrip().startswith(">"):
            flush()
            quoted = []
            while i < len(lines) and lines[i].lstrip().startswith(">"):
                quoted.append(lines[i].lstrip()[1:].strip())
                i += 1
            blocks.append(f"<blockquote><p>{inline(' '.join(quoted))}</p></blockquote>")
        else:
            paragraph.append(line)
            i += 1
    flush()
    return "\n".join(blocks)


def _cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|"):
        line = line[:-1]
    return [cell.strip() for cell in line.split("|")]
