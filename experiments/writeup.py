"""From findings to the words of a result: the short answer, the summary, the reproduce line.

The answer is the verdict first, then at most two supporting findings, then the arms that
diverged; it stays within ANSWER_WORDS words, dropping supporting findings rather than
cutting sentences. The summary opens with that answer and the key figure, then a compact
table of the measured cells, the findings as bullets, and the fixed prose of the question
type ("Why", "Limits") from text files beside its module, whose placeholders are filled from
the run. Every number in these texts comes from a finding or from the run's own settings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

from .findings import Finding, Verdict, fill, fmt_number
from .params import Schema
from .result import Figure, Reference, Result, RunContext, provenance

ANSWER_WORDS = 90
SENTENCE_WORDS = 35


def words(text: str) -> int:
    return len(text.split())


def sentences(text: str) -> list[str]:
    """Split prose into sentences; decimals ("0.41") and "e.g." do not end one."""
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z\"'(])", text.strip())
    return [p for p in parts if p]


def compose_answer(verdict: Verdict, findings: Sequence[Finding]) -> str:
    """Verdict, up to two supporting findings, and every divergence among the compared arms,
    within ANSWER_WORDS words."""
    by_key = {f.key: f for f in findings}
    diverged = [f for f in findings if f.metric == "diverged"]
    compared = {label for k in verdict.findings if k in by_key
                for label in (by_key[k].a, by_key[k].b) if label}
    named = [f for f in diverged if f.a in compared]
    tail = _divergence_sentence(named)
    support = [by_key[k] for k in verdict.findings if k in by_key and by_key[k] not in diverged]
    support += sorted((f for f in findings if f not in support and f not in diverged
                       and f.importance > 0), key=lambda f: -f.importance)
    parts = [verdict.text]
    # Two words are kept for spelling out the first "95% CI" (explain_ci below).
    budget = ANSWER_WORDS - words(verdict.text) - words(tail) - 2
    chosen = 0
    for f in support:
        if chosen < 2 and words(f.text) <= budget:
            parts.append(f.text)
            budget -= words(f.text)
            chosen += 1
    if tail:
        parts.append(tail)
    return explain_ci(" ".join(parts))


def explain_ci(text: str) -> str:
    """A learner may not know the abbreviation: its first use is written out."""
    return text.replace("95% CI", "95% confidence interval (CI)", 1)


def _divergence_sentence(found: Sequence[Finding]) -> str:
    if not found:
        return ""
    listed = ", ".join(f"{f.a} in {f.values['k']} of {f.values['n']} seeds" for f in found)
    return f"Diverged: {listed}, scored as chance accuracy."


def table(headers: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(out)


def mean_pm(values_row: Mapping[str, Any], metric: str, digits: int = 2) -> str:
    """'0.41 ± 0.03' (mean and half-width of the 95% CI) from a result row."""
    mean = values_row.get(metric)
    ci = values_row.get(f"{metric}_ci95") or [None, None]
    if mean is None:
        return "n/a"
    if ci[0] is None or ci[1] is None or ci[0] == ci[1]:
        return fmt_number(mean, digits)
    return f"{fmt_number(mean, digits)} ± {fmt_number((ci[1] - ci[0]) / 2, digits)}"


def load_text(package: str, name: str, values: Mapping[str, Any]) -> str:
    """A prose file of a question package, placeholders filled from `values` (words and
    numbers of the run; floats are shown as they were set, e.g. a learning rate)."""
    template = resources.files(package).joinpath(name).read_text(encoding="utf-8").strip()
    shown = {k: (f"{v:g}" if isinstance(v, float) else v) for k, v in values.items()}
    return fill(template, shown, {}, 2)


def reproduce_command(type_id: str, preset: str, params: Mapping[str, Any],
                      schema: Schema) -> str:
    """The `bnlab run` command that runs exactly these parameters."""
    base = schema.resolve(preset)
    parts = [f"bnlab run {type_id} --preset {preset}"]
    for name, value in params.items():
        if base.get(name) != value:
            parts.append(f"--set {name}={_cli_value(value)}")
    return " ".join(parts)


def _cli_value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(_cli_value(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def render_summary(title: str, answer: str, key_figure: Figure | None, setup: str,
                   cells_table: str, findings: Sequence[Finding], why: str, limits: str,
                   reproduce: str) -> str:
    lines = [f"## {title}", "", f"**Answer.** {answer}", ""]
    if key_figure is not None:
        lines += [f"![{key_figure.caption}]({key_figure.file})", ""]
    lines += ["### What was run", "", setup, "", "### Measured cells", "", cells_table, "",
              "### Findings", ""]
    lines += [f"- {f.text}" for f in sorted(findings, key=lambda f: -f.importance)]
    lines += ["", "### Why", "", why, "", "### Limits", "", limits, "",
              f"Reproduce: `{reproduce}`", ""]
    return "\n".join(lines)


def build_result(ctx: RunContext, *, type_id: str, title: str, schema: Schema,
                 verdict: Verdict, findings: Sequence[Finding], rows: list[dict],
                 figures: Sequence[Figure | None], references: list[Reference],
                 dataset: dict, setup: str, cells_table: str, why: str, limits: str
                 ) -> Result:
    """The Result of a question type, its answer and summary composed from its findings;
    the first figure is the key figure."""
    figs = [f for f in figures if f is not None]
    answer = compose_answer(verdict, findings)
    reproduce = reproduce_command(type_id, ctx.preset, ctx.params, schema)
    summary = render_summary(title, answer, figs[0] if figs else None, setup, cells_table,
                             findings, why, limits, reproduce)
    return Result(question_type=type_id, title=title, answer=answer, summary_markdown=summary,
                  params=ctx.params, preset=ctx.preset, rows=rows, figures=figs,
                  references=references, provenance=provenance(ctx, dataset),
                  verdict=verdict, findings=list(findings), reproduce=reproduce,
                  key_figure=figs[0].name if figs else None)
