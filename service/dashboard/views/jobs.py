"""A job: its page (live progress while it runs), figures, result.json, data.csv, and the
cancel and rerun buttons."""

from __future__ import annotations

from flask import (
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select

from ...api.questions import DISPATCHER
from ...api.serialize import rows_csv
from ...db import get_session
from ...jobs import cancel_job as cancel_job_row
from ...jobs import find_or_create_job, queue_for
from ...models import Ask, Figure, Job
from ...questions import dispatch
from .. import bp
from ..present import result_view

OTHER_RUNS = 10  # recent jobs of the same type listed on a job page, to compare with


def load_job(job_id: int) -> Job:
    job = get_session().get(Job, job_id)
    if job is None:
        abort(404, f"there is no job {job_id}")
    return job


@bp.get("/jobs/<int:job_id>")
def job(job_id: int):
    job = load_job(job_id)
    asks = get_session().scalars(select(Ask).where(Ask.job_id == job_id)
                                 .order_by(Ask.question_id.desc()).limit(20)).all()
    others = get_session().scalars(select(Job).where(Job.type == job.type, Job.id != job.id)
                                   .order_by(Job.id.desc()).limit(OTHER_RUNS)).all()
    view = result_view(job.result.data) if job.result is not None else None
    return render_template("dashboard/job.html", job=job, result=view, asks=asks,
                           others=others)


@bp.get("/jobs/<int:job_id>/status.json")
def job_status(job_id: int):
    """What the job page polls while the job is queued or running."""
    job = load_job(job_id)
    return jsonify(state=job.state, progress=job.progress, message=job.message,
                   finished=job.finished, attempts=job.attempts)


@bp.get("/jobs/<int:job_id>/figures/<name>")
def job_figure(job_id: int, name: str):
    figure = get_session().scalar(
        select(Figure).where(Figure.job_id == job_id, Figure.name == name))
    if figure is None:
        abort(404, f"job {job_id} has no figure {name!r}")
    response = Response(figure.data, mimetype=figure.content_type)
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    response.set_etag(figure.sha256)
    return response.make_conditional(request)


@bp.get("/jobs/<int:job_id>/result.json")
def job_result(job_id: int):
    job = _finished_with_result(job_id)
    response = jsonify(job.result.data)
    response.headers["Content-Disposition"] = f'attachment; filename="job-{job_id}.json"'
    return response


@bp.get("/jobs/<int:job_id>/data.csv")
def job_data(job_id: int):
    job = _finished_with_result(job_id)
    response = Response(rows_csv(job.result.data.get("rows", [])), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="job-{job_id}.csv"'
    return response


def _finished_with_result(job_id: int) -> Job:
    job = load_job(job_id)
    if job.result is None:
        abort(409, f"job {job_id} has no result (it is {job.state})")
    return job


@bp.post("/jobs/<int:job_id>/cancel")
def cancel_job(job_id: int):
    session = get_session()
    job = load_job(job_id)
    if cancel_job_row(session, job_id):
        session.refresh(job)
        current_app.extensions[DISPATCHER].stop(job)
        flash(f"Job {job_id} cancelled.", "ok")
    else:
        session.refresh(job)
        flash(f"Job {job_id} had already finished ({job.state}); nothing to cancel.", "error")
    return redirect(url_for("dashboard.job", job_id=job_id))


@bp.post("/jobs/<int:job_id>/rerun")
def rerun_job(job_id: int):
    """The same type, params and preset, run again on the current code (a fresh job, not the
    stored result); an identical job already queued or running is shown instead."""
    session = get_session()
    job = load_job(job_id)
    settings = current_app.config["BNLAB"]
    new, created = find_or_create_job(session, job.type, dict(job.params), job.preset,
                                      fresh=True, queue=queue_for(job.preset, settings))
    session.commit()
    if created:
        dispatch(session, current_app.extensions[DISPATCHER], new)
        flash(f"Job {new.id} reruns job {job_id}.", "ok")
    else:
        flash(f"Job {new.id}, the same run, is already {new.state}.", "ok")
    return redirect(url_for("dashboard.job", job_id=new.id))
