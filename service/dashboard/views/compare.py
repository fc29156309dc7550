"""Compare two or more jobs of one type: /admin/compare?jobs=a,b[&metric=m]."""

from __future__ import annotations

from flask import abort, render_template, request
from sqlalchemy import select

from ...db import get_session
from ...models import Job
from .. import bp
from ..comparison import CompareError, compare, parse_ids


@bp.get("/compare")
def compare_jobs():
    try:
        ids = parse_ids(request.args.get("jobs", ""))
    except CompareError as exc:
        abort(400, str(exc))
    found = {job.id: job for job in get_session().scalars(select(Job).where(Job.id.in_(ids)))}
    missing = [str(i) for i in ids if i not in found]
    if missing:
        abort(404, f"no job {', '.join(missing)}")
    try:
        comparison = compare([found[i] for i in ids], request.args.get("metric"))
    except CompareError as exc:
        abort(400, str(exc))
    return render_template("dashboard/compare.html", c=comparison,
                           ids=",".join(str(i) for i in ids))
