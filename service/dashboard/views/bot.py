"""The forum bot's recent posts: what arrived, what state its reply is in, and links."""

from __future__ import annotations

from flask import current_app, render_template, request
from sqlalchemy import select

from ...db import get_session
from ...models import ForumPost
from .. import bp

PAGE = 50


@bp.get("/bot")
def bot():
    state = request.args.get("state") or None
    query = select(ForumPost).order_by(ForumPost.id.desc()).limit(PAGE)
    if state:
        query = query.where(ForumPost.state == state)
    posts = get_session().scalars(query).all()
    forum = current_app.config["BNLAB"].discourse_url.rstrip("/")
    return render_template("dashboard/bot.html", posts=posts, forum=forum, state=state,
                           enabled=bool(forum))
