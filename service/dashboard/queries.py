"""The database reads behind the dashboard's lists: questions with filters and pages, and the
per-type job counts and run times of the Types page."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from ..models import Ask, Job, JobState, Question, utcnow
from ..questions import SOURCES

PAGE_SIZE = 20
SEARCH_MAX = 200  # characters of a text search; longer is cut, not an error


@dataclass(frozen=True)
class QuestionFilter:
    source: str = ""
    status: str = ""
    type: str = ""
    text: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args) -> QuestionFilter:
        """From the query string; unknown values are dropped, so a hand-edited URL still
        shows a page."""
        source = args.get("source", "")
        status = args.get("status", "")
        try:
            page = max(1, int(args.get("page", 1)))
        except ValueError:
            page = 1
        return cls(source=source if source in SOURCES else "",
                   status=status if status in tuple(JobState) else "",
                   type=args.get("type", "").strip()[:64],
                   text=args.get("q", "").strip()[:SEARCH_MAX], page=page)

    def args(self, **changes) -> dict:
        """Query-string arguments for links (a page link keeps the filters)."""
        values = {"source": self.source, "status": self.status, "type": self.type,
                  "q": self.text, "page": self.page, **changes}
        return {k: v for k, v in values.items() if v not in ("", None, 1)}


@dataclass
class Page:
    items: list
    number: int
    total: int
    size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


def find_questions(session: Session, where: QuestionFilter) -> Page:
    """Questions newest first, with their asks and jobs loaded, filtered by `where`."""
    query = select(Question)
    if where.source:
        query = query.where(Question.source == where.source)
    if where.text:
        pattern = "%" + where.text.replace("\\", "\\\\").replace("%", "\\%") \
            .replace("_", "\\_") + "%"
        query = query.where(Question.text.ilike(pattern, escape="\\"))
    if where.type or where.status:
        asks = select(Ask.question_id)
        if where.type:
            asks = asks.where(Ask.type == where.type)
        if where.status:
            asks = asks.join(Job, Ask.job_id == Job.id).where(Job.state == where.status)
        query = query.where(Question.id.in_(asks))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.options(selectinload(Question.asks).selectinload(Ask.job))
        .order_by(Question.id.desc()).offset((where.page - 1) * PAGE_SIZE).limit(PAGE_SIZE))
    return Page(list(rows), where.page, total)


@dataclass
class TypeStats:
    jobs: int = 0
    failed: int = 0
    # preset -> median seconds from start to finish of its succeeded jobs
    median_s: dict[str, float] = field(default_factory=dict)


def type_stats(session: Session) -> dict[str, TypeStats]:
    stats: dict[str, TypeStats] = defaultdict(TypeStats)
    counts = session.execute(select(Job.type, Job.state, func.count()).group_by(Job.type,
                                                                                 Job.state))
    for type_id, state, count in counts:
        stats[type_id].jobs += count
        if state == JobState.FAILED:
            stats[type_id].failed += count
    durations: dict[tuple[str, str], list[float]] = defaultdict(list)
    finished = session.execute(
        select(Job.type, Job.preset, Job.started_at, Job.finished_at)
        .where(Job.state == JobState.SUCCEEDED, Job.started_at.is_not(None),
               Job.finished_at.is_not(None)))
    for type_id, preset, started, ended in finished:
        durations[type_id, preset].append((ended - started).total_seconds())
    for (type_id, preset), values in durations.items():
        stats[type_id].median_s[preset] = statistics.median(values)
    return dict(stats)


def oldest_queued(session: Session) -> Job | None:
    return session.scalar(select(Job).where(Job.state == JobState.QUEUED)
                          .order_by(Job.created_at, Job.id).limit(1))


def recent_failures(session: Session, hours: int = 24, limit: int = 50) -> list[Job]:
    since: datetime = utcnow() - timedelta(hours=hours)
    return list(session.scalars(
        select(Job).where(Job.state == JobState.FAILED, Job.finished_at >= since)
        .order_by(Job.finished_at.desc()).limit(limit)))


def running_jobs(session: Session) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.state == JobState.RUNNING)
                                .order_by(Job.started_at)))
