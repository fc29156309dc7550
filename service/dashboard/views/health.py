"""The Health page: is the service able to run jobs, and what is waiting or failing."""

from __future__ import annotations

from flask import current_app, render_template

from ...db import get_db, get_session
from ...models import utcnow
from .. import bp
from ..health import check
from ..queries import oldest_queued, recent_failures, running_jobs


@bp.get("/health")
def health():
    state = check(current_app, get_db())  # first: its own connections, no open transaction
    session = get_session()
    return render_template("dashboard/health.html", health=state, now=utcnow(),
                           oldest=oldest_queued(session), failures=recent_failures(session),
                           running=running_jobs(session))
