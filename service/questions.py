"""Submitting a question: text → router → asks → jobs (shared by key) → dispatched.

The one entry point for every way a question arrives (API, CLI, forum bot, dashboard), so they
all deduplicate, validate and queue the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from experiments import catalog
from experiments.errors import ParamError
from experiments.params import PRESETS

from .config import get_settings
from .jobs import find_or_create_job, queue_for
from .models import Ask, Job, Question
from .router import route
from .router.params import ALIASES

SOURCES = ("api", "cli", "bot", "dashboard")


class InvalidQuestion(ValueError):
    """The question cannot be run as asked; `fields` maps each bad field to what is wrong."""

    def __init__(self, message: str, fields: dict[str, str]):
        super().__init__(message)
        self.fields = fields


@dataclass
class Submission:
    question: Question
    # (ask, its job or None for a planned type, whether this submission created the job)
    asks: list[tuple[Ask, Job | None, bool]] = field(default_factory=list)

    @property
    def new_jobs(self) -> list[Job]:
        return [job for _, job, created in self.asks if job is not None and created]


def submit_question(session: Session, text: str, *, preset: str = "quick", fresh: bool = False,
                    source: str = "api", asker: str | None = None, dispatcher=None,
                    settings=None, params: dict[str, Any] | None = None) -> Submission:
    """Route `text`, store the question with its asks and their jobs, then queue new jobs.

    Every parameter is validated before anything is written: a bad preset or a parameter out
    of range raises InvalidQuestion (RouterInputError for text the router refuses) and the
    database is untouched. Jobs that already exist with the same key are reused (a succeeded one
    only without `fresh`). `dispatcher` (workers.dispatch) queues the new jobs after the commit,
    so a worker always finds the row; with None they stay queued. `params` are settings given
    outright (a forum follow-up's "batch_size=8 seeds=10"), by parameter name or the router's
    name for it; they apply to every ask and win over what the router read.
    """
    settings = settings or get_settings()
    if preset not in PRESETS:
        raise InvalidQuestion(f"unknown preset {preset!r}",
                              {"preset": f"must be one of {', '.join(PRESETS)}"})
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}")
    routing = route(text)
    plans = _plan(routing.asks, preset, params or {})

    question = Question(text=text, source=source, asker=asker, preset=preset,
                        not_understood=[_not_understood_json(n) for n in routing.not_understood],
                        off_topic=[str(excerpt) for excerpt in routing.off_topic])
    session.add(question)
    submission = Submission(question)
    for position, (ask, params, note) in enumerate(plans):
        job, created = None, False
        if params is not None:
            job, created = find_or_create_job(session, ask.type, params, preset, fresh=fresh,
                                              queue=queue_for(preset, settings),
                                              stale_after=settings.stale_after)
        row = Ask(position=position, type=ask.type, excerpt=ask.excerpt,
                  confidence=float(ask.confidence), params=dict(ask.params or {}), job=job,
                  note=note)
        question.asks.append(row)
        submission.asks.append((row, job, created))
    session.commit()

    if dispatcher is not None:
        for job in submission.new_jobs:
            dispatch(session, dispatcher, job)
    return submission


def dispatch(session: Session, dispatcher, job: Job) -> None:
    """Queue one job. If the broker cannot take it now, the job stays queued and unsent, and
    the reconciler sends it once the broker is back (workers.dispatch.send_job)."""
    from workers.dispatch import send_job

    send_job(session, dispatcher, job)
    session.refresh(job)


def _plan(asks, preset: str, given: dict[str, Any]) -> list[tuple[Any, dict | None, str | None]]:
    """(ask, resolved params or None, note) per ask; raises InvalidQuestion on any bad value."""
    plans, errors = [], {}
    for i, ask in enumerate(asks):
        qt = catalog.get(ask.type)
        if given and qt.status == "ready":
            ask.params = {**(ask.params or {}), **_given_params(qt, given)}
        for name, message in _param_errors(ask.param_errors).items():
            errors[f"asks[{i}].params.{name}"] = message
        if qt.status != "ready":
            plans.append((ask, None, f"{qt.id} is planned: no experiment answers it yet"))
            continue
        try:
            params = qt.resolve(preset, dict(ask.params or {}))
        except ParamError as exc:
            errors[f"asks[{i}].params.{exc.field}"] = str(exc)
            continue
        plans.append((ask, params, _unusable_note(ask)))
    if errors:
        raise InvalidQuestion("a parameter in the question is out of range or unknown", errors)
    return plans


def _given_params(qt, given: dict[str, Any]) -> dict[str, Any]:
    """`given` under the type's own parameter names ("batch_size" is "batch_sizes" for a type
    that sweeps it); a name the type lacks stays as it is, so resolve() reports it."""
    names = {p.name: p for p in qt.schema.params}
    out = {}
    for name, value in given.items():
        target = next((a for a in ALIASES.get(name, (name,)) if a in names), name)
        if target in names and names[target].kind.endswith("_list") and not isinstance(
                value, list | str):
            value = [value]
        out[target] = value
    return out


def _unusable_note(ask) -> str | None:
    """Values stated in the text that no run can use (router notes), shown on the ask."""
    found = [n for n in getattr(ask, "notes", []) if "is not usable" in n]
    return "; ".join(found)[:200] or None


def _param_errors(errors) -> dict[str, str]:
    """The router's param_errors as {param: message}, whichever shape it gave them in."""
    if not errors:
        return {}
    if isinstance(errors, dict):
        return {str(k): str(v) for k, v in errors.items()}
    out = {}
    for item in errors:
        name = getattr(item, "field", None) or getattr(item, "name", None)
        if isinstance(item, dict):
            name = item.get("field") or item.get("name") or item.get("param")
            item = item.get("message", item)
        out[str(name or "params")] = str(item)
    return out


def _not_understood_json(item) -> dict[str, Any]:
    if hasattr(item, "to_json"):
        return item.to_json()
    return {"excerpt": getattr(item, "excerpt", str(item)),
            "suggestions": list(getattr(item, "suggestions", []))}
