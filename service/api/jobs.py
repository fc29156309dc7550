"""A job, its figures, its rows as CSV, and cancelling it."""

from __future__ import annotations

from flask import Response, current_app, request
from sqlalchemy import select

from ..db import get_session
from ..jobs import cancel_job as cancel_job_row
from ..models import Figure, Job
from . import bp
from .endpoints import endpoint
from .errors import ApiError
from .questions import DISPATCHER
from .schemas import JOB
from .serialize import cached_job_body, job_etag, job_json, rows_csv


def load_job(job_id: int) -> Job:
    job = get_session().get(Job, job_id)
    if job is None:
        raise ApiError(404, f"no job {job_id}")
    return job


@endpoint(bp, "GET", "/jobs/<id:job_id>", summary="A job: status, progress, params, result "
          "(figures as URLs), error. Sends an ETag; with If-None-Match a job that has not "
          "changed is 304", response=JOB, errors=(404,), conditional=True)
def get_job(job_id: int):
    job = load_job(job_id)
    etag = job_etag(job)
    response = Response(status=200, mimetype="application/json")
    response.set_etag(etag)
    # Clients poll this while a job runs: they may keep it, but must ask again each time.
    response.headers["Cache-Control"] = "private, no-cache"
    if request.if_none_match.contains(etag):
        return response.make_conditional(request)
    response.set_data(cached_job_body(job, etag, request.script_root))
    return response


@endpoint(bp, "GET", "/jobs/<id:job_id>/figures/<name>", summary="A figure of a succeeded job",
          media_type="image/png", errors=(404,), conditional=True)
def get_job_figure(job_id: int, name: str):
    load_job(job_id)
    figure = get_session().scalar(
        select(Figure).where(Figure.job_id == job_id, Figure.name == name))
    if figure is None:
        raise ApiError(404, f"job {job_id} has no figure {name!r}")
    response = Response(figure.data, mimetype=figure.content_type)
    # A stored figure never changes, so clients may keep it; it is behind a key, so only
    # their own cache may.
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    response.headers["Content-Disposition"] = f'inline; filename="job-{job_id}-{name}.png"'
    response.set_etag(figure.sha256)
    return response.make_conditional(request)


@endpoint(bp, "GET", "/jobs/<id:job_id>/data.csv", summary="The rows of a succeeded job's "
          "result as CSV", media_type="text/csv", errors=(404, 409))
def get_job_data(job_id: int):
    job = load_job(job_id)
    if job.result is None:
        raise ApiError(409, f"job {job_id} has no result yet (it is {job.state})")
    response = Response(rows_csv(job.result.data.get("rows", [])), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="job-{job_id}.csv"'
    return response


@endpoint(bp, "POST", "/jobs/<id:job_id>/cancel", summary="Cancel a queued or running job",
          response=JOB, errors=(404, 409))
def cancel_job(job_id: int):
    session = get_session()
    job = load_job(job_id)
    if not cancel_job_row(session, job_id):
        session.refresh(job)
        raise ApiError(409, f"job {job_id} has already finished (it is {job.state})")
    session.refresh(job)
    current_app.extensions[DISPATCHER].stop(job)
    return job_json(job)
