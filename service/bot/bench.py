"""`bnlab bench bot`: the time from a forum webhook to the bot's final edit, for the seed post.

Starts the Discourse stand-in (service/bot/standin.py) and the web app, embedded, on a
throwaway SQLite database (so no job is cached), both on loopback; delivers the seed post
(examples/forum-post.txt) as Discourse would, signed; and waits for the placeholder to be
edited into the answer. Prints the webhook's response time, the time to the placeholder and
to the final edit, and the final forum Markdown (--markdown FILE writes it there instead).

    bnlab bench bot -- --preset quick
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

SECRET = "bench-webhook-secret"
SEED = Path(__file__).resolve().parents[2] / "examples" / "forum-post.txt"


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bnlab bench bot", description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="quick", help="smoke | quick | full (quick)")
    p.add_argument("--file", type=Path, default=SEED, help="the post (the seed post)")
    p.add_argument("--timeout", type=float, default=1800, help="give up after S seconds")
    p.add_argument("--markdown", type=Path, default=None, help="write the final post here")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    from werkzeug.serving import make_server

    from service.app import create_app
    from service.db import Database

    from .signature import delivery_headers
    from .standin import DiscourseStandIn

    args = parse(argv)
    standin = DiscourseStandIn(api_key="bench-key", username="bnlab").start()
    with tempfile.TemporaryDirectory(prefix="bnlab-bench-bot-") as tmp:
        Database(f"sqlite:///{tmp}/bnlab.sqlite3").upgrade()
        app = create_app(dict(
            instance=Path(tmp), database_url=f"sqlite:///{tmp}/bnlab.sqlite3", redis_url="",
            executor="local", discourse_url=standin.url, discourse_api_key="bench-key",
            discourse_username="bnlab", discourse_webhook_secret=SECRET,
            discourse_categories="1", discourse_preset=args.preset))
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            return _measure(args, standin, f"http://127.0.0.1:{server.server_port}",
                            delivery_headers)
        finally:
            server.shutdown()
            standin.stop()


def _measure(args, standin, url: str, delivery_headers) -> int:
    post = {"id": 1, "username": "dana", "user_id": 15, "post_number": 1, "post_type": 1,
            "topic_id": 1, "category_id": 1, "topic_archetype": "regular", "version": 1,
            "raw": args.file.read_text(encoding="utf-8")}
    body = json.dumps({"post": post}).encode()
    request = urllib.request.Request(url + "/bot/discourse/webhook", data=body, method="POST",
                                     headers=delivery_headers(SECRET, body))
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=20) as response:
        status = response.status
    answered_webhook = time.perf_counter() - start
    placeholder = None
    while not standin.edits:
        if placeholder is None and standin.created():
            placeholder = time.perf_counter() - start
        if time.perf_counter() - start > args.timeout:
            print(f"no final edit after {args.timeout:.0f} s")
            return 1
        time.sleep(0.05)
    final = time.perf_counter() - start
    raw = standin.edits[-1]["raw"]
    print(f"preset {args.preset}: webhook answered {status} in {answered_webhook * 1000:.0f} ms;"
          f" placeholder after {placeholder or 0:.1f} s; final edit after {final:.1f} s; "
          f"{len(standin.uploads)} uploads; final post {len(raw)} characters")
    if args.markdown is not None:
        args.markdown.write_text(raw, encoding="utf-8")
        print(f"final post: {args.markdown}")
    else:
        print("\n" + raw)
    return 0
