"""`bnlab serve`: the HTTP API, on Flask's development server or on gunicorn.

With no Redis configured, jobs run on the embedded local worker inside this process (SQLite in
the instance folder): nothing else needs to be started.
"""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("serve", help="serve the HTTP API")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--port", type=int, default=5000, help="port (5000)")
    p.add_argument("--gunicorn", action="store_true",
                   help="serve with gunicorn instead of the development server")
    p.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (2)")
    p.set_defaults(func=run)


def run(args) -> int:
    from service.config import get_settings
    from service.db import Database

    database = Database(get_settings().database_url)
    database.ensure_schema()
    database.dispose()
    if args.gunicorn:
        serve_gunicorn(f"{args.host}:{args.port}", args.workers)
    else:
        app = load_app()
        app.run(host=args.host, port=args.port, threaded=True)
    return 0


def load_app():
    from service.api.questions import DISPATCHER
    from service.app import create_app

    app = create_app()
    local_worker = getattr(app.extensions[DISPATCHER], "worker", None)
    if local_worker is not None:
        local_worker.resume()  # jobs an earlier run left queued
    resume_bot = getattr(app.extensions.get("bnlab.forum_runner"), "resume", None)
    if resume_bot is not None:
        resume_bot(app.extensions["bnlab.db"])  # forum replies an earlier run left open
    return app


def serve_gunicorn(bind: str, workers: int) -> None:
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", bind)
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", "-")

        def load(self):
            return load_app()

    Server().run()
