"""The questions list (the dashboard's home): newest first, filtered, paginated."""

from __future__ import annotations

from flask import render_template, request

from experiments import catalog

from ...db import get_session
from ...models import JobState
from ...questions import SOURCES
from .. import bp
from ..queries import QuestionFilter, find_questions


@bp.get("/")
def questions():
    where = QuestionFilter.from_args(request.args)
    page = find_questions(get_session(), where)
    return render_template("dashboard/questions.html", page=page, where=where,
                           sources=SOURCES, states=list(JobState), type_ids=catalog.ids())
