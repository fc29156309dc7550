"""POST /bot/discourse/webhook: Discourse's post events in, answered within a second.

The signature is checked on the raw body before anything is parsed; a bad or missing one is
401 and nothing is stored. `ping` is 200. An event the bot does not act on is 200 with the
reason (logged). An accepted one is stored once per (post id, version) and handed to the
runner: 202, the reply follows in the background (Discourse waits 20 s at most and does not
retry by default).
"""

from __future__ import annotations

import json
import logging

from flask import current_app, request

from ..api.errors import error_response
from ..db import get_session
from . import RUNNER, bp, events, signature, store

log = logging.getLogger(__name__)


@bp.post("/webhook")
def webhook():
    settings = current_app.config["BNLAB"]
    body = request.get_data(cache=True)
    if not signature.verify(settings.discourse_webhook_secret, body,
                            request.headers.get(signature.HEADER)):
        log.warning("forum webhook: bad or missing signature from %s", request.remote_addr)
        return error_response(401, "bad or missing X-Discourse-Event-Signature")
    event = request.headers.get("X-Discourse-Event", "")
    if event == "ping" or request.headers.get("X-Discourse-Event-Type") == "ping":
        return {"ok": True, "event": "ping"}, 200
    try:
        payload = json.loads(body)
    except ValueError:
        return error_response(400, "the body is not JSON")
    post = payload.get("post") if isinstance(payload, dict) else None
    missing = events.missing_fields(post)
    if missing:
        return error_response(400, "not a post event", {name: "missing or not a number"
                                                         for name in missing})
    session = get_session()
    decision = events.decide(
        event, post, username=settings.discourse_username,
        categories=settings.discourse_category_ids,
        is_bot_post=lambda topic, number: store.is_bot_post(session, topic, number))
    if not decision.act:
        log.info("forum webhook: post %s ignored: %s", post["id"], decision.reason)
        return {"ignored": True, "reason": decision.reason}, 200
    row, created = store.record_post(session, post, decision.trigger)
    if created or store.needs_restart(row):
        current_app.extensions[RUNNER].kick(row.id)
    log.info("forum webhook: post %s (%s) %s as row %s", post["id"], decision.reason,
             "accepted" if created else "seen before", row.id)
    return {"accepted": True, "id": row.id, "state": row.state, "new": created}, 202
