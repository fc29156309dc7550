"""The Discourse forum bot: a webhook in, a measured answer with plots posted back.

Registered only when BNLAB_DISCOURSE_URL is set (service/config.py). The webhook
(webhook.py) verifies and filters events (signature.py, events.py) and records each post once
(store.py); the reply (reply.py) runs in steps on a runner (runner.py): a thread of this
process when embedded, the `bnlab.forum_reply` Celery task otherwise. Answers are rendered by
service/forum.py and posted with the Discourse client (discourse.py).
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("bot", __name__, url_prefix="/bot/discourse")
RUNNER = "bnlab.forum_runner"

from . import webhook  # noqa: E402,F401 - registers the route on bp


def init_app(app) -> None:
    settings = app.config["BNLAB"]
    if not settings.discourse_url:
        return
    app.register_blueprint(bp)
    app.extensions[RUNNER] = make_runner(app)


def make_runner(app):
    from .runner import CeleryRunner, ThreadRunner

    settings = app.config["BNLAB"]
    if settings.uses_celery:
        return CeleryRunner(app.extensions["celery"], settings.cpu_queue)
    return ThreadRunner(lambda: embedded_context(app))


def embedded_context(app):
    from ..api.questions import DISPATCHER
    from ..db import EXTENSION
    from .discourse import Discourse
    from .reply import BotContext

    settings = app.config["BNLAB"]
    return BotContext(settings, app.extensions[EXTENSION], Discourse.from_settings(settings),
                      app.extensions[DISPATCHER])
