"""`bnlab bot replay FILE.json`: post a stored webhook payload to a running server, signed
with the webhook secret as Discourse signs it, to try the forum bot locally."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

from . import UsageError


def register(sub) -> None:
    p = sub.add_parser("bot", help="the Discourse forum bot")
    commands = p.add_subparsers(dest="bot_command", metavar="COMMAND", required=True)
    replay = commands.add_parser("replay", help="post a stored webhook payload, signed")
    replay.add_argument("file", metavar="FILE.json", help='a payload: {"post": {...}}')
    replay.add_argument("--url", default="http://127.0.0.1:5000",
                        help="the bnlab server (default http://127.0.0.1:5000)")
    replay.add_argument("--event", default="post_created",
                        help="X-Discourse-Event (default post_created)")
    replay.add_argument("--secret", default=None,
                        help="webhook secret (default BNLAB_DISCOURSE_WEBHOOK_SECRET)")
    replay.set_defaults(func=run_replay)


def run_replay(args) -> int:
    from service.bot.signature import delivery_headers
    from service.config import get_settings

    secret = args.secret or get_settings().discourse_webhook_secret
    if not secret:
        raise UsageError("no webhook secret: set BNLAB_DISCOURSE_WEBHOOK_SECRET or --secret")
    try:
        body = Path(args.file).read_bytes()
        json.loads(body)
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror}") from None
    except ValueError as exc:
        raise UsageError(f"{args.file} is not JSON: {exc}") from None
    # A fresh event id per replay, as Discourse gives a redelivery; the post id stays.
    headers = delivery_headers(secret, body, args.event, event_id=int(time.time()))
    request = urllib.request.Request(args.url.rstrip("/") + "/bot/discourse/webhook",
                                     data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            status, text = response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode(errors="replace")
    except urllib.error.URLError as exc:
        raise UsageError(f"cannot reach {args.url}: {exc.reason}") from None
    print(f"{status} {text.strip()}")
    return 0 if status < 400 else 1
