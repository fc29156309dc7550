"""Code and tracebacks in a post: taken out of the prose, kept as evidence.

Real posts paste model definitions and stack traces between their sentences. Read as prose,
`nn.BatchNorm2d(64)` or `File "train.py", line 12` would either outvote the asker's question or
end up quoted as an ask's excerpt. So they are split off here: `split(text)` returns the text
with code removed (what clean.py and the excerpts see) and the code itself, whose identifiers
the learned scorer reads as evidence ("model.eval()" says train/eval, "SyncBatchNorm" says
small per-GPU batches).

Code is recognised as: Markdown fences, HTML <pre>/<code> blocks, and in plain text the lines
that look like code or a traceback. A line that asks something ("?") is never taken as code.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n(.*?)(?:^[ \t]*\1[ \t]*$|\Z)", re.M | re.S)
_HTML_CODE = re.compile(r"<(pre|code)\b[^>]*>(.*?)(?:</\1>|\Z)", re.I | re.S)
_TAG = re.compile(r"<[^>]+>")

_TRACEBACK = re.compile(
    r"^\s*(?:Traceback \(most recent call last\)|File \"[^\"]*\", line \d+|"
    r"[A-Za-z_][\w.]*(?:Error|Exception|Warning)\b.*:|raise \w|\^+\s*$)")
_STATEMENT = re.compile(
    r"^\s*(?:>>>|\.\.\.\s|def |class |import |from [\w.]+ import |return\b|print\(|@\w|"
    r"(?:if|for|while|with|elif|else|try|except)\b[^.]*:\s*$|self\.|"
    r"[\w.\[\]'\"]+\s*(?:=|\+=|-=|\*=)\s*\S)")
_CALLISH = re.compile(r"[\w.]+\([^()]*(?:\([^()]*\)[^()]*)*\)?[,)]*\s*$")
_SENTENCE = re.compile(r"\b(?:I|we|my|the|is|are|why|how|what|does|do|should|can)\b", re.I)


def split(text: str) -> tuple[str, str]:
    """(the text without its code, the code)."""
    code: list[str] = []

    def keep(match: re.Match) -> str:
        code.append(match.group(2))
        return "\n"

    text = _FENCE.sub(keep, text)
    if "<" in text:
        text = _HTML_CODE.sub(lambda m: keep(m) if _is_block(m) else m.group(0), text)
    lines = text.split("\n")
    prose: list[str] = []
    for i, line in enumerate(lines):
        if _is_code_line(line, lines[i - 1] if i else ""):
            code.append(line)
            prose.append("")  # keeps paragraph breaks where the code was
        else:
            prose.append(line)
    return "\n".join(prose), _TAG.sub(" ", "\n".join(code))


def _is_block(match: re.Match) -> bool:
    # <pre> is always a block; an inline <code> is prose ("set `bias=False` before BN").
    return match.group(1).lower() == "pre" or "\n" in match.group(2)


def _is_code_line(line: str, previous: str) -> bool:
    stripped = line.strip()
    if not stripped or "?" in stripped:
        return False
    if _TRACEBACK.match(line):
        return True
    # Four plain words make a sentence ("If so, here is my model:", "lr=0.01 and batch size=4
    # gives bad results"), whatever its punctuation.
    if len(_PLAIN_WORD.findall(stripped)) >= 4:
        return False
    if _STATEMENT.match(line):
        return True
    indented = line.startswith(("    ", "\t")) or previous.startswith(("    ", "\t"))
    if indented and (_CALLISH.search(stripped) or stripped[-1] in ",(){}[]:"):
        return True
    # A bare call on its own line ("model.eval()", "nn.BatchNorm2d(64),") outside a sentence.
    return bool(_CALLISH.fullmatch(stripped)) and not _SENTENCE.search(stripped)


# "ValueError: Expected more than 1 value per channel when training, ...": the message of an
# exception, which names the behaviour behind it as plainly as the asker's prose would.
_ERROR_MESSAGE = re.compile(
    r"^\s*[\w.]*(?:Error|Exception)\b[^:\n]{0,40}:\s*[\"'(]*([^\n]{10,300})$", re.M)


def error_messages(code: str) -> list[str]:
    """The messages of the exceptions in a post's code and tracebacks, in order."""
    return [m.group(1).strip() for m in _ERROR_MESSAGE.finditer(code)]


_PLAIN_WORD = re.compile(r"(?<![\w.=(\[])[A-Za-z]{2,}(?![\w.=(\[])")
_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_CAMEL = re.compile(r"[A-Z]+[a-z0-9]*|[a-z0-9]+")


def tokens(code: str) -> list[str]:
    """Lower-case identifier parts: "nn.BatchNorm2d(64, momentum=0.1)" -> nn, batchnorm2d,
    batch, norm2d, momentum."""
    out: list[str] = []
    for ident in _IDENT.findall(code):
        low = ident.lower()
        out.append(low)
        parts = _CAMEL.findall(ident)
        if len(parts) > 1:
            out.extend(p.lower() for p in parts)
    return out
