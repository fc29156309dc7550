"""Errors inside /admin as dashboard pages (the API keeps its JSON error shape)."""

from __future__ import annotations

from flask import render_template
from werkzeug.exceptions import HTTPException

from .. import bp


@bp.errorhandler(HTTPException)
def page_error(exc: HTTPException):
    return render_template("dashboard/error.html", code=exc.code, name=exc.name,
                           message=exc.description), exc.code
