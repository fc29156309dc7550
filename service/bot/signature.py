"""Discourse webhook signatures: `X-Discourse-Event-Signature: sha256=<hex>`, the HMAC-SHA256
of the raw request body keyed with the webhook's secret."""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Discourse-Event-Signature"
PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The header value Discourse sends for `body`."""
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` signs `body`; compared in constant time, so a forger learns nothing
    from how long a wrong guess takes."""
    if not secret or not header:
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())


def delivery_headers(secret: str, body: bytes, event: str = "post_created",
                     event_id: int = 1, instance: str = "http://127.0.0.1") -> dict[str, str]:
    """The headers of a Discourse webhook delivery of `body` (replays and tests send these)."""
    kind = "ping" if event == "ping" else event.split("_", 1)[0]
    return {"Content-Type": "application/json", "X-Discourse-Instance": instance,
            "X-Discourse-Event-Id": str(event_id), "X-Discourse-Event-Type": kind,
            "X-Discourse-Event": event, HEADER: sign(secret, body)}
