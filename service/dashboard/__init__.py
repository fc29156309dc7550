"""The admin dashboard under /admin: server-rendered pages for the people who look after the
answers (what was asked, what ran, what came out, what failed, whether the queue is healthy).

One blueprint; its views live in views/ (one module per page), the queries behind them in
queries.py, result presentation in present.py, the health checks in health.py, and sign-in,
CSRF and the Content-Security-Policy in security.py. Scripts are static files only: the CSP
forbids inline script, so user text that slips into a page could never run.
"""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("dashboard", __name__, url_prefix="/admin", template_folder="templates",
               static_folder="static", static_url_path="/static")


def init_app(app: Flask) -> None:
    from . import security

    security.init_app(app)
    app.register_blueprint(bp)


from . import filters  # noqa: E402,F401  (template filters)
from .views import auth, bot, compare, errors, health, jobs, questions, types  # noqa: E402,F401
