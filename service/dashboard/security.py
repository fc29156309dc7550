"""Sign-in sessions, CSRF tokens, the sign-in rate limit and the security headers.

Sessions are Flask's signed cookie (HttpOnly, SameSite=Lax, Secure when the request came over
HTTPS) holding the admin's id. Every POST carries the session's CSRF token in the form field
`csrf_token`; one without it, or with another, is refused with 400 before the view runs.
"""

from __future__ import annotations

import hmac
import os
import secrets
import time
from datetime import timedelta
from pathlib import Path

from flask import Flask, abort, current_app, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from ..config import ConfigError
from ..db import get_session
from ..models import AdminUser
from ..ratelimit import make_limiter
from . import bp

LOGIN_LIMITER = "bnlab.login_limiter"
SESSION_HOURS = 12
# No inline script or style anywhere: scripts and CSS are the blueprint's static files, and
# figures are served from /admin. frame-ancestors keeps the pages out of other sites' frames.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
# Endpoints reachable without signing in.
PUBLIC_ENDPOINTS = {"dashboard.login", "dashboard.static"}


class SessionInterface(SecureCookieSessionInterface):
    """Secure cookies whenever the request came over HTTPS (behind a proxy, with
    BNLAB_PROXY_HOPS set, that is the scheme the proxy's X-Forwarded-Proto reports)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)


def init_app(app: Flask) -> None:
    settings = app.config["BNLAB"]
    app.secret_key = settings.secret_key or instance_secret(settings.instance)
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS))
    app.session_interface = SessionInterface()
    app.after_request(security_headers)
    limit, period = settings.login_rate_limit_pair
    app.extensions[LOGIN_LIMITER] = make_limiter(settings, limit, period, prefix="bnlab:login")


def instance_secret(instance: Path) -> str:
    """The embedded shape's secret key: made once, readable only by this user. Exclusive
    creation, so web processes starting together all end up with the one key."""
    path = instance / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    for _ in range(50):  # another process may have created the file and not yet written it
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.1)
    raise ConfigError(f"{path} is empty: delete it, or set BNLAB_SECRET_KEY")


def login_limiter():
    return current_app.extensions[LOGIN_LIMITER]


def sign_in(user: AdminUser) -> None:
    session.clear()  # a new session id for a new sign-in: no fixation
    session.permanent = True
    session["admin_id"] = user.id


def sign_out() -> None:
    session.clear()


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


@bp.app_template_global("csrf_token")
def _csrf_token_global() -> str:
    return csrf_token()


@bp.before_request
def require_csrf_and_sign_in():
    if request.method == "POST":
        sent, expected = request.form.get("csrf_token", ""), session.get("csrf", "")
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            abort(400, "the form's CSRF token is missing or out of date; reload the page")
    g.admin = None
    admin_id = session.get("admin_id")
    if admin_id is not None:
        g.admin = get_session().get(AdminUser, admin_id)
        # End the read's transaction now: on SQLite every transaction holds the write lock
        # (service/db.py), and a page must not keep the workers' progress writes waiting.
        get_session().commit()
    if g.admin is None and request.endpoint not in PUBLIC_ENDPOINTS:
        return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))
    return None


def security_headers(response):
    """On every response under /admin, also the 404 of a path no dashboard route matches."""
    if not request.path.startswith(bp.url_prefix):
        return response
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint != "dashboard.static":
        # Pages show private data: never keep them in a shared cache.
        response.headers.setdefault("Cache-Control", "private, no-store")
    return response


def safe_next(target: str | None) -> str:
    """Where to go after signing in: only a path inside the dashboard (no open redirect)."""
    if target and target.startswith("/admin") and not target.startswith("//") \
            and "\\" not in target:
        return target
    return url_for("dashboard.questions")
