"""Jinja filters and globals of the dashboard's templates."""

from __future__ import annotations

from datetime import UTC, datetime

from experiments import catalog
from experiments.errors import UnknownQuestionType

from ..models import ACTIVE_STATES
from . import bp
from .present import number


def _aware(moment: datetime) -> datetime:
    # SQLite keeps no time zone; bnlab stores UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@bp.app_template_filter("when")
def when(moment: datetime | None) -> str:
    return _aware(moment).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "–"


@bp.app_template_filter("age")
def age(moment: datetime | None, now: datetime | None = None) -> str:
    """How long ago, in the largest whole unit: "42 s", "5 min", "3 h", "2 d"."""
    if moment is None:
        return "–"
    seconds = max(0, int(((now or datetime.now(UTC)) - _aware(moment)).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


@bp.app_template_filter("duration")
def duration(job) -> str:
    if job.started_at is None or job.finished_at is None:
        return "–"
    return f"{(_aware(job.finished_at) - _aware(job.started_at)).total_seconds():.1f} s"


@bp.app_template_filter("num")
def num(value) -> str:
    return number(value)


@bp.app_template_global("is_active")
def is_active(job) -> bool:
    return job is not None and job.state in ACTIVE_STATES


@bp.app_template_global("type_title")
def type_title(type_id: str) -> str:
    try:
        return catalog.get(type_id).title
    except UnknownQuestionType:  # an old job of a type since removed keeps its id
        return type_id
