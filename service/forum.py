"""Forum Markdown for the bot's replies (Discourse), from the same results as the HTML report.

One answer post per forum post: for each question it answers, a one-line quote of the asker's
words, the verdict and its supporting findings (result JSON v2) or the answer (v1), one or two
key figures as uploaded images, the measured table and the full write-up folded in
[details], the references as links and the command that reproduces the run. Discourse's math
is off by default, so no math markup goes out; no @mention goes out either (the bot never
notifies anyone), and a post stays under Discourse's 32,000 characters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .models import Ask, Question

MAX_CHARS = 32_000  # Discourse's max_post_length
# A post longer than this is rendered again in the compact form: well under the limit, and a
# forum post that long is already more than most readers open.
TARGET_CHARS = 24_000
# The parts of a write-up kept in the compact form: the mechanism and the caveats (the table
# and the findings already carry the numbers of "What was measured" and "Evidence").
COMPACT_SECTIONS = ("why", "limits", "caveats")
IMAGES_PER_QUESTION = 2
QUOTE_CHARS = 200
FINDINGS_SHOWN = 4
TABLE_METRICS = 3
PLACEHOLDER = ("Thanks for the question! I'm running experiments to measure the answer and "
               "will edit this post with the results, plots and numbers when they finish.")

_MENTION = re.compile(r"(?<![\w@`])@(?=[A-Za-z0-9_])")
_INLINE_MATH = re.compile(r"\$\$?([^$\n]+?)\$\$?")
_PAREN_MATH = re.compile(r"\\[(\[](.+?)\\[)\]]", re.DOTALL)


@dataclass(frozen=True)
class Image:
    caption: str
    short_url: str  # upload://...
    width: int
    height: int


@dataclass(frozen=True)
class Origin:
    """The forum post being answered, for the quotes' attribution."""

    username: str
    post_number: int
    topic_id: int


def render_answer(question: Question, origin: Origin,
                  images: Mapping[int, list[Image]]) -> str:
    """The final post for `question` (asks and jobs loaded); `images` by job id."""
    post = _compose(question, origin, images, compact=False)
    if len(post) > TARGET_CHARS:
        post = _compose(question, origin, images, compact=True)
    if len(post) < MAX_CHARS:
        return post
    return post[:MAX_CHARS - 100].rsplit("\n", 1)[0] + "\n\n(The rest did not fit in a post.)"


def render_apology(reason: str) -> str:
    return defuse("Sorry, I could not measure an answer to this post: the experiment did not "
                  "finish.\n\n" + details("What went wrong", reason.strip() or "unknown"))


def render_help(not_understood: list[dict], types: list) -> str:
    """The short reply for a post whose questions bnlab cannot place (once per topic)."""
    lines = ["I could not match this to a question I can answer with an experiment. "
             "These are the ones I can run:", ""]
    lines += [f"- {qt.title}" for qt in types if qt.status == "ready"]
    planned = [qt.title for qt in types if qt.status != "ready"]
    if planned:
        lines += ["", "Planned, not yet runnable: " + "; ".join(planned) + "."]
    closest = sorted({s for item in not_understood for s in item.get("suggestions") or []})
    if closest:
        lines += ["", "Closest to your post: " + ", ".join(f"`{s}`" for s in closest) + "."]
    lines += ["", "Reply to me with one of these in your own words and I'll run it."]
    return defuse("\n".join(lines))


def render_refusal(message: str, fields: Mapping[str, str]) -> str:
    """A follow-up whose settings cannot be run: say which, and what is valid."""
    items = []
    for field, why in fields.items():
        name = field.rsplit(".", 1)[-1]  # asks[0].params.seeds -> seeds
        items.append(f"- `{name}`: {why.removeprefix(name + ': ')}")
    items = "\n".join(dict.fromkeys(items))
    return defuse(f"I can't run that as asked: {message}.\n\n{items}".rstrip())


def details(title: str, body: str) -> str:
    return f'[details="{title}"]\n{body.strip()}\n[/details]'


def defuse(text: str) -> str:
    """No @mention and no math markup: a zero-width joiner after @ keeps it from notifying."""
    text = _MENTION.sub("@\u2060", text)
    text = _PAREN_MATH.sub(r"\1", text)
    return _INLINE_MATH.sub(r"\1", text)


def _compose(question: Question, origin: Origin, images: Mapping[int, list[Image]],
             compact: bool) -> str:
    parts = [_ask_block(ask, origin, images.get(ask.job_id, []) if ask.job_id else [], compact)
             for ask in question.asks]
    footer = [f"Measured by bnlab (preset `{question.preset}`); numbers are means over seeds "
              "with 95% confidence intervals. Reply to me with settings such as "
              "`batch_size=8 seeds=10` to rerun with them."]
    if question.not_understood:
        unplaced = "; ".join(f"“{_one_line(i.get('excerpt', ''))}”"
                             for i in question.not_understood)
        footer.insert(0, f"Not answered (I could not place it): {unplaced}")
    return defuse("\n\n---\n\n".join(parts) + "\n\n---\n\n" + "\n\n".join(footer) + "\n")


def _ask_block(ask: Ask, origin: Origin, images: list[Image], compact: bool) -> str:
    quote = (f'[quote="{origin.username}, post:{origin.post_number}, topic:{origin.topic_id}"]'
             f"\n{_one_line(ask.excerpt)}\n[/quote]")
    job = ask.job
    if job is None:
        return f"{quote}\n\n{ask.note or 'No experiment answers this question yet.'}"
    if job.result is None:
        reason = job.error or f"the job is {job.state}"
        return f"{quote}\n\nThe experiment for this question failed.\n\n" + details(
            "What went wrong", reason)
    result = job.result.data
    out = [quote, f"### {result.get('title', ask.type)}", _verdict(result)]
    out += [f"![{_caption(img.caption)}|{img.width}x{img.height}]({img.short_url})"
            for img in images[:IMAGES_PER_QUESTION]]
    preferred = [f.get("metric") for f in result.get("findings") or []]
    table = measured_table(result.get("rows") or [], max_rows=12 if compact else 60,
                           preferred=preferred)
    if table:
        out.append(details("Measured table", table))
    why = _without_heading(result.get("summary_markdown", ""), result)
    if why and compact:
        why = _sections(why, COMPACT_SECTIONS) or why[:3000] + " …"
    if why:
        out.append(details("Why", why))
    out += [line for line in (_references(result), _reproduce(ask, result)) if line]
    return "\n\n".join(out)


def _verdict(result: dict) -> str:
    """v2: the verdict in bold and the findings it rests on; v1: the answer."""
    verdict = result.get("verdict") or {}
    if not verdict.get("text"):
        return result.get("answer", "")
    by_key = {f.get("key"): f for f in result.get("findings") or []}
    keys = verdict.get("findings") or sorted(by_key, key=lambda k: -by_key[k].get(
        "importance", 0))
    lines = [f"**{verdict['text']}**", ""]
    for key in keys[:FINDINGS_SHOWN]:
        finding = by_key.get(key)
        if finding:
            lines.append(f"- {finding.get('text', '')}{_finding_numbers(finding)}")
    return "\n".join(lines).strip()


def _finding_numbers(f: dict) -> str:
    ci = f.get("diff_ci95") or []
    if f.get("diff") is None or len(ci) != 2:
        return ""
    return (f" ({f.get('metric', 'difference')}: {_num(f['diff'])}, 95% CI {_num(ci[0])} to "
            f"{_num(ci[1])}, n = {f.get('n', '?')})")


def measured_table(rows: list[dict], max_rows: int = 60, preferred: list | None = None) -> str:
    """The result's rows as a pipe table: arm and sweep axes, then metrics as mean [95% CI].

    The metrics shown are those the findings compare (`preferred`), then accuracies, then the
    rest in the rows' order, at most TABLE_METRICS of them.
    """
    if not rows:
        return ""
    measured = [k for k in rows[0] if f"{k}_ci95" in rows[0]]
    ranked = sorted(measured, key=lambda k: (k not in (preferred or []), "acc" not in k,
                                             measured.index(k)))
    metrics = [k for k in measured if k in ranked[:TABLE_METRICS]]
    skip = set(metrics) | {"n_seeds"} | {k for k in rows[0] if k.endswith("_ci95")}
    axes = [k for k in rows[0] if k not in skip and _is_axis(k, rows)]
    head = axes + metrics + (["seeds"] if "n_seeds" in rows[0] else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows[:max_rows]:
        cells = [_axis_value(row.get(k, "")) for k in axes]
        cells += [_with_ci(row.get(k), row.get(f"{k}_ci95")) for k in metrics]
        if "n_seeds" in rows[0]:
            cells.append(str(row.get("n_seeds", "")))
        lines.append("| " + " | ".join(cells) + " |")
    if len(rows) > max_rows:
        lines.append(f"\n({len(rows) - max_rows} more rows in the job's data.csv)")
    return "\n".join(lines)


def _is_axis(key: str, rows: list[dict]) -> bool:
    """A sweep axis (batch size, noise level, layer): a label or number without an interval
    that varies across the rows (a fractional one only if its values repeat); the arm always."""
    values = [r.get(key) for r in rows]
    if key == "arm":
        return True
    if any(isinstance(v, bool) or not isinstance(v, str | int | float) for v in values):
        return False
    distinct = len(set(values))
    if any(isinstance(v, float) for v in values):
        # A swept setting repeats across arms; a measurement without an interval does not.
        return 1 < distinct <= len(values) // 2
    return distinct > 1


def _axis_value(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _with_ci(mean, ci) -> str:
    if not isinstance(mean, int | float):
        return "" if mean is None else str(mean)
    if isinstance(ci, list | tuple) and len(ci) == 2 and None not in ci:
        return f"{_num(mean)} [{_num(ci[0])}, {_num(ci[1])}]"
    return _num(mean)


def _num(value) -> str:
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def _references(result: dict) -> str:
    links = []
    for ref in result.get("references") or []:
        label = f"{ref.get('title', '')} ({ref.get('year', '')})".replace("[", "(")
        url = str(ref.get("url", ""))
        links.append(f"[{label.replace(']', ')')}]({url})" if url.startswith("http")
                     else label)
    return ("References: " + " · ".join(links)) if links else ""


def _reproduce(ask: Ask, result: dict) -> str:
    command = result.get("reproduce")
    if not command:
        sets = " ".join(f"--set {k}={_param(v)}" for k, v in sorted((ask.params or {}).items()))
        command = f"bnlab run {ask.type} --preset {result.get('preset', 'quick')} {sets}"
    return f"Reproduce: `{command.strip()}`"


def _param(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def _without_heading(summary: str, result: dict) -> str:
    """The write-up less its title heading and the short answer the post already shows."""
    lines = summary.strip().split("\n")
    if lines and lines[0].startswith("#"):
        lines = lines[1:]
    text = "\n".join(lines).strip()
    answer = result.get("answer", "")
    paragraphs = [p for p in text.split("\n\n") if not (answer and answer in p)]
    return "\n\n".join(paragraphs).strip()


def _sections(markdown: str, wanted: tuple[str, ...]) -> str:
    """The sections of `markdown` whose heading starts with one of `wanted` (any case)."""
    keep, out = False, []
    for line in markdown.split("\n"):
        if line.startswith("#"):
            keep = line.lstrip("#").strip().lower().startswith(wanted)
        if keep:
            out.append(line)
    return "\n".join(out).strip()


def _one_line(text: str) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= QUOTE_CHARS else line[:QUOTE_CHARS - 1].rsplit(" ", 1)[0] + "…"


def _caption(caption: str) -> str:
    """Alt text of an image: one line without the characters of Markdown image syntax."""
    return " ".join(re.sub(r"[\[\]|]", " ", _one_line(caption)).split())[:120].strip()
