"""Sign in and out. Failed sign-ins are limited per client address (settings.login_rate_limit);
while the limit holds, even the right password is refused, so guessing gains nothing."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for

from ...admins import authenticate
from ...db import get_session
from .. import bp
from ..security import login_limiter, safe_next, sign_in, sign_out


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("dashboard/login.html", next_url=next_url, error=None)
    client = request.remote_addr or "unknown"
    wait = login_limiter().wait(client)
    if wait is not None:
        return render_template("dashboard/login.html", next_url=next_url,
                               error=f"Too many failed sign-ins; try again in {wait:.0f} s."
                               ), 429, {"Retry-After": f"{wait:.0f}"}
    user = authenticate(get_session(), request.form.get("username", ""),
                        request.form.get("password", ""))
    if user is None:
        login_limiter().hit(client)
        return render_template("dashboard/login.html", next_url=next_url,
                               error="Wrong user name or password."), 401
    sign_in(user)
    return redirect(next_url)


@bp.post("/logout")
def logout():
    sign_out()
    return redirect(url_for("dashboard.login"))
