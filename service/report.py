"""One self-contained HTML report for a question: every answer, its summary, its figures.

No external files or requests: CSS is inline and figures are embedded as base64 PNG, so the
report can be mailed or attached as it is. All text from the question and the results is
escaped, summaries go through the safe Markdown subset of service/markdown.py.
"""

from __future__ import annotations

import base64
from html import escape

from .markdown import inline, safe_url, to_html
from .models import Ask, Question

CSS = """
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1b1b;
       max-width: 52rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.3rem; margin-top: 2.5rem;
  border-top: 1px solid #ddd; padding-top: 1rem; }
h3, h4, h5, h6 { font-size: 1.05rem; }
blockquote { margin: 0.5rem 0; padding: 0.25rem 1rem; border-left: 4px solid #ccc;
  color: #444; white-space: pre-wrap; }
details { margin: 1rem 0; } summary { cursor: pointer; color: #0b5394; }
.reproduce code { font-size: 0.85rem; }
.answer { font-size: 1.05rem; background: #f4f8fb; padding: 0.75rem 1rem;
  border-radius: 6px; }
.meta, figcaption, .provenance { color: #555; font-size: 0.9rem; }
.failed { color: #a00; }
figure { margin: 1.5rem 0; } figure img { max-width: 100%; height: auto; }
table { border-collapse: collapse; font-size: 0.9rem; margin: 0.5rem 0; }
th, td { border: 1px solid #ddd; padding: 0.2rem 0.5rem; text-align: left; }
code, pre { background: #f3f3f3; border-radius: 3px; } pre { padding: 0.5rem; overflow-x: auto; }
"""


def render_report(question: Question) -> str:
    """The report for a question whose jobs are loaded (finished or not)."""
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>bnlab: question {question.id}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>bnlab answers question {question.id}</h1>",
        f'<p class="meta">Asked {escape(_when(question))} via {escape(question.source)}; '
        f"preset <code>{escape(question.preset)}</code>; "
        f"{len(question.asks)} question(s) found in the text.</p>",
        "<details><summary>The question as asked</summary>",
        f"<blockquote>{escape(question.text)}</blockquote></details>",
    ]
    for number, ask in enumerate(question.asks, 1):
        parts.append(_ask_section(number, ask))
    if question.not_understood:
        parts.append("<h2>Not understood</h2><ul>")
        for item in question.not_understood:
            suggestions = ", ".join(item.get("suggestions") or [])
            hint = f" (closest: {escape(suggestions)})" if suggestions else ""
            parts.append(f"<li>{escape(item.get('excerpt', ''))}{hint}</li>")
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _ask_section(number: int, ask: Ask) -> str:
    job = ask.job
    result = job.result.data if job is not None and job.result is not None else None
    title = result["title"] if result else ask.type
    out = [f"<h2>{number}. {escape(title)}</h2>",
           f"<blockquote>{escape(ask.excerpt)}</blockquote>",
           f'<p class="meta">Question type <code>{escape(ask.type)}</code>, '
           f"confidence {ask.confidence:.2f}.</p>"]
    if job is None:
        out.append(f"<p>{escape(ask.note or 'No experiment answers this question yet.')}</p>")
        return "\n".join(out)
    if result is None:
        reason = f": {job.error}" if job.error else ""
        out.append(f'<p class="failed">Job {job.id} is {escape(job.state)}{escape(reason)}</p>')
        return "\n".join(out)
    images = {figure.name: figure for figure in job.figures}
    entries = [e for e in result.get("figures", []) if e["name"] in images]
    if result.get("schema", 1) >= 2:
        return "\n".join(out + _findings_section(result, entries, images, job))
    summary = result.get("summary_markdown", "")
    if result["answer"] not in summary:  # summaries usually open with the answer already
        out.append(f'<p class="answer">{inline(result["answer"])}</p>')
    out.append(to_html(_without_title(summary, title), heading_offset=1))
    out += [_figure(entry, images) for entry in entries]
    out += _references(result)
    out.append(_provenance(job, result))
    return "\n".join(out)


def _findings_section(result: dict, entries: list[dict], images: dict, job) -> list[str]:
    """Schema 2: the answer (verdict first) and the key figure, then everything else folded."""
    verdict = (result.get("verdict") or {}).get("text", "")
    answer = result["answer"]
    rest = answer[len(verdict):].strip() if verdict and answer.startswith(verdict) else answer
    out = [f'<p class="answer"><strong>{inline(verdict)}</strong> {inline(rest)}</p>'
           if verdict else f'<p class="answer">{inline(answer)}</p>']
    key = result.get("key_figure")
    out += [_figure(e, images) for e in entries if e["name"] == key]
    out.append("<details><summary>How this was measured: the cells, every finding, why, "
               "and the limits</summary>")
    out.append(to_html(_summary_body(result.get("summary_markdown", "")), heading_offset=1))
    out += [_figure(e, images) for e in entries if e["name"] != key]
    out += _references(result)
    out.append("</details>")
    if result.get("reproduce"):
        out.append(f'<p class="reproduce">Reproduce: <code>{escape(result["reproduce"])}'
                   "</code></p>")
    out.append(_provenance(job, result))
    return out


def _summary_body(summary: str) -> str:
    """The summary less what the section already shows: its title, the answer, the key
    figure and the reproduce line."""
    lines = summary.split("\n")
    if lines and lines[0].startswith("#"):
        lines = lines[1:]
    skip = ("**Answer.**", "![", "Reproduce: `")
    return "\n".join(line for line in lines if not line.startswith(skip))


def _figure(entry: dict, images: dict) -> str:
    figure = images[entry["name"]]
    data = base64.b64encode(figure.data).decode("ascii")
    caption = entry.get("caption", "")
    return (f'<figure><img src="data:{escape(figure.content_type)};base64,{data}" '
            f'alt="{escape(caption)}"><figcaption>{inline(caption)}</figcaption></figure>')


def _references(result: dict) -> list[str]:
    references = result.get("references") or []
    if not references:
        return []
    out = ["<h3>References</h3><ul>"]
    for ref in references:
        text = escape(f"{ref.get('title', '')} ({ref.get('year', '')})")
        url = safe_url(str(ref.get("url", "")))
        out.append(f'<li><a href="{escape(url)}">{text}</a></li>' if url
                   else f"<li>{text}</li>")
    out.append("</ul>")
    return out


def _without_title(summary: str, title: str) -> str:
    """The summary less a first heading that repeats the title the section already shows."""
    first, _, rest = summary.lstrip().partition("\n")
    if first.startswith("#") and first.lstrip("#").strip() == title.strip():
        return rest
    return summary


def _provenance(job, result: dict) -> str:
    prov = result.get("provenance", {})
    items = [("job", job.id), ("preset", result.get("preset")),
             ("code", prov.get("code_version")), ("torch", prov.get("torch")),
             ("device", prov.get("gpu") or prov.get("device")),
             ("seeds", len(prov.get("seeds", []) or [])),
             ("duration", f"{prov['duration_s']:.1f} s" if "duration_s" in prov else None)]
    shown = "; ".join(f"{k} {escape(str(v))}" for k, v in items if v not in (None, ""))
    return f'<p class="provenance">{shown}</p>'


def _when(question: Question) -> str:
    return question.created_at.strftime("%Y-%m-%d %H:%M UTC") if question.created_at else ""
