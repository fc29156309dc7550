"""Rows to API JSON: questions, asks, jobs (with their result, figures as URLs) and CSV rows.

The shapes are the Question, Ask, JobRef and Job schemas of schemas.py.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from flask import current_app, url_for

from ..jobs import eta_seconds
from ..models import Ask, Job, Question


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite keeps no time zone; bnlab stores UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def job_url(job_id: int) -> str:
    return url_for("api.get_job", job_id=job_id)


def question_json(question: Question, created_jobs: set[int] | None = None) -> dict[str, Any]:
    """`created_jobs`: ids of the jobs this request made; the others are marked cached."""
    return {
        "id": question.id,
        "url": url_for("api.get_question", question_id=question.id),
        "text": question.text,
        "source": question.source,
        "asker": question.asker,
        "preset": question.preset,
        "created_at": iso(question.created_at),
        "asks": [ask_json(ask, created_jobs) for ask in question.asks],
        "not_understood": list(question.not_understood or []),
        **off_topic_json(question),
    }


def off_topic_json(question: Question) -> dict[str, Any]:
    """A post with nothing to run because it is about something else says so, and why."""
    excerpts = list(question.off_topic or [])
    off_topic = bool(excerpts) and not question.asks
    reason = None
    if off_topic:
        quoted = "; ".join(f'"{e[:120]}"' for e in excerpts[:3])
        reason = ("the text asks about something other than how Batch Normalization behaves, "
                  f"which no experiment here answers: {quoted}")
    return {"off_topic": off_topic, "off_topic_reason": reason}


def ask_json(ask: Ask, created_jobs: set[int] | None = None) -> dict[str, Any]:
    job = None
    if ask.job is not None:
        job = {"id": ask.job.id, "status": ask.job.state, "progress": ask.job.progress,
               "progress_eta_s": eta_json(ask.job), "url": job_url(ask.job.id)}
        if created_jobs is not None:
            job["cached"] = ask.job.id not in created_jobs
    return {"type": ask.type, "confidence": ask.confidence, "excerpt": ask.excerpt,
            "params": dict(ask.params or {}), "job": job, "note": ask.note}


def job_json(job: Job) -> dict[str, Any]:
    succeeded = job.result is not None
    return {
        "id": job.id,
        "url": job_url(job.id),
        "type": job.type,
        "preset": job.preset,
        "params": dict(job.params),
        "key": job.key,
        "code_version": job.code_version,
        "status": job.state,
        "progress": job.progress,
        "progress_eta_s": eta_json(job),
        "message": job.message,
        "attempts": job.attempts,
        "queue": job.queue,
        "worker": job.worker,
        "device": job.device,
        "error": job.error,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "result": result_json(job) if succeeded else None,
        "data_url": url_for("api.get_job_data", job_id=job.id) if succeeded else None,
        "cancel_url": url_for("api.cancel_job", job_id=job.id),
    }


def job_etag(job: Job) -> str:
    """A version of the job's JSON from its row alone (without loading the result): every
    change of state, progress or result writes the row's updated_at or attempts."""
    parts = (job.id, job.state, job.attempts, job.progress, job.message, iso(job.updated_at),
             iso(job.finished_at), job.error)
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


class BodyCache:
    """Serialised bodies by key, the least recently used dropped past `size` (thread-safe)."""

    def __init__(self, size: int):
        self.size, self._items = size, OrderedDict()
        self._lock = threading.Lock()

    def get_or_make(self, key, make) -> bytes:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        body = make()
        with self._lock:
            self._items[key] = body
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return body


_finished_bodies = BodyCache(size=128)


def cached_job_body(job: Job, etag: str, script_root: str) -> bytes:
    """The job's JSON as bytes. A finished job's never changes, so it is serialised once per
    process: a large result costs its loading and encoding only on the first request."""
    def make() -> bytes:
        return current_app.json.dumps(job_json(job)).encode() + b"\n"

    if not job.finished:
        return make()
    return _finished_bodies.get_or_make((job.id, etag, script_root), make)


def eta_json(job: Job) -> float | None:
    eta = eta_seconds(job)
    return None if eta is None else round(eta, 1)


def result_json(job: Job) -> dict[str, Any]:
    """The stored result with each figure's file name replaced by its URL."""
    data = dict(job.result.data)
    data["figures"] = [
        {"name": f["name"], "caption": f.get("caption", ""),
         "url": url_for("api.get_job_figure", job_id=job.id, name=f["name"])}
        for f in data.get("figures", [])]
    return data


def rows_csv(rows: list[dict[str, Any]]) -> str:
    """Rows as CSV: columns in order of first appearance; a 95% CI pair [lo, hi] under
    `m_ci95` becomes two columns m_ci95_lo and m_ci95_hi."""
    flat = [_flatten(row) for row in rows]
    columns: dict[str, None] = {}
    for row in flat:
        columns.update(dict.fromkeys(row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat)
    return out.getvalue()


def _flatten(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, list | tuple) and len(value) == 2 and key.endswith("_ci95"):
            out[f"{key}_lo"], out[f"{key}_hi"] = value
        elif isinstance(value, list | tuple | dict):
            out[key] = json.dumps(value)
        else:
            out[key] = "" if value is None else value
    return out
