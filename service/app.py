"""The Flask app factory: `create_app(test_config=None)`.

Each subsystem exposes `init_app(app)`. Settings come from service/config.py (environment)
with `test_config` on top; the app keeps them in app.config["BNLAB"].
"""

from __future__ import annotations

import logging

from flask import Flask

from .config import Settings

# A question's text is at most 20,000 characters; even escaped as \\uXXXX that is well under
# this, so a body past it is not a question (413 before it is parsed).
MAX_BODY_BYTES = 256 * 1024


def create_app(test_config: dict | None = None) -> Flask:
    settings = Settings.from_env(overrides=test_config)
    settings.instance.mkdir(parents=True, exist_ok=True)
    app = Flask(__name__, instance_path=str(settings.instance), static_folder=None)
    app.config.update(BNLAB=settings, MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
                      TESTING=bool(test_config))
    app.json.sort_keys = False  # keep the contract's field order
    if settings.proxy_hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)

    from . import bot, db, ratelimit
    from .api import bp as api_bp
    from .api import errors
    from .api.health import bp as health_bp
    from .dashboard import init_app as init_dashboard

    db.init_app(app)
    ratelimit.init_app(app)
    init_dispatcher(app)
    errors.init_app(app)
    app.register_blueprint(health_bp)
    app.register_blueprint(api_bp)
    init_dashboard(app)
    bot.init_app(app)  # only with BNLAB_DISCOURSE_URL set
    warm_up()
    if not app.debug and not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        # /readyz reads the schema revision on every probe; Alembic would log each time.
        logging.getLogger("alembic").setLevel(logging.WARNING)
    return app


def warm_up() -> None:
    """Load the catalog's question modules (and with them torch) now, not on the first
    request: otherwise each web worker's first POST /questions pays over a second for it."""
    from experiments import catalog

    catalog.types()


def init_dispatcher(app: Flask) -> None:
    """Celery when Redis is configured (celery_init_app puts it in app.extensions), else the
    embedded local worker, started on the first job."""
    from workers.dispatch import make_dispatcher

    from .api.questions import DISPATCHER

    settings = app.config["BNLAB"]
    celery = None
    if settings.uses_celery:
        from workers.celery_app import celery_init_app

        celery = celery_init_app(app)
    app.extensions[DISPATCHER] = make_dispatcher(settings, celery)
