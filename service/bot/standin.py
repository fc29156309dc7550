"""A Discourse stand-in on 127.0.0.1: the endpoints the bot calls, with the request and
response shapes of Discourse's own API. The bot's tests and `bnlab bench bot` run against it,
since a real Discourse cannot run beside them.

    POST /posts.json        JSON {topic_id, raw, reply_to_post_number}; the new post (top level)
    POST /uploads.json      multipart file (or files[]), type=composer, synchronous=true
    PUT  /posts/{id}.json   JSON {post: {raw, edit_reason, original_text?}}; {"post": ...}
    GET  /t/{id}.json       the topic: post_stream.posts (the first 20) and .stream (every id)
    GET  /t/{id}/posts.json ?post_ids[]=...: those posts of the topic, in post_stream.posts

Like Discourse it checks Api-Key / Api-Username (403 {"errors": [...], "error_type":
"invalid_access"}), validates a post's raw (at least 20 characters, at most 32,000, enough
distinct characters: the entropy check; not the same text as one the user created in the last
`unique_posts_mins` minutes, compared as Discourse does without whitespace or case, since the
bot's user is not staff) with 422 {"errors": [...]}, answers an edit whose
original_text is not the post's current raw with 409, and can be told to answer the next
matching request with an error (429 with Retry-After, 5xx), before or after carrying it out
(`after=True`: a proxy that timed out while the forum did the work).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import struct
import threading
import time
from dataclasses import dataclass, field

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

MIN_POST_LENGTH = 20  # Discourse's min_post_length
MAX_POST_LENGTH = 32_000  # max_post_length
MIN_ENTROPY = 7  # body_min_entropy: distinct characters a post needs
UNIQUE_POSTS_MINS = 5  # unique_posts_mins: no repeat of a user's own text within this
TOPIC_PAGE_POSTS = 20  # posts a topic's JSON carries; the rest come by id
MAX_IMAGE_WIDTH = 690  # max_image_width: wider images are shown (and thumbnailed) at this


@dataclass
class Fault:
    method: str
    path: str  # a regular expression for the path
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    after: bool = False  # carry the request out, then answer with the error
    wait_seconds: int | None = None  # a 429's extras.wait_seconds (default: its Retry-After)


class DiscourseStandIn:
    def __init__(self, api_key: str = "test-api-key", username: str = "bnlab"):
        self.api_key, self.username = api_key, username
        self.posts: dict[int, dict] = {}
        self.uploads: list[dict] = []
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, in order
        self.edits: list[dict] = []  # {post_id, raw, edit_reason} of every accepted edit
        self.faults: list[Fault] = []
        self._ids = itertools.count(1000)
        self._numbers: dict[int, itertools.count] = {}
        self._lock = threading.Lock()
        self._recent: dict[str, float] = {}  # raw hash of each post made -> when
        self.unique_posts_mins = UNIQUE_POSTS_MINS
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> DiscourseStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, method: str, path: str, status: int, headers: dict | None = None,
                  errors: list[str] | None = None, after: bool = False,
                  wait_seconds: int | None = None) -> None:
        self.faults.append(Fault(method, path, status, headers or {}, errors or [], after,
                                 wait_seconds))

    def created(self) -> list[dict]:
        """Posts the bot made, in order."""
        return [p for p in self.posts.values() if p["username"] == self.username]

    # the WSGI app

    @Request.application
    def _app(self, request: Request) -> Response:
        with self._lock:
            self.requests.append((request.method, request.path))
            fault = self._fault(request)
        if fault is not None and not fault.after:
            return _fault_response(fault)
        response = self._route(request)
        return _fault_response(fault) if fault is not None else response

    def _route(self, request: Request) -> Response:
        if (request.headers.get("Api-Key") != self.api_key
                or request.headers.get("Api-Username") != self.username):
            return _json({"errors": ["You are not permitted to view the requested resource. "
                                     "The API username or key is invalid."],
                          "error_type": "invalid_access"}, 403)
        if request.method == "POST" and request.path == "/posts.json":
            return self._create_post(request)
        if request.method == "POST" and request.path == "/uploads.json":
            return self._upload(request)
        match = re.fullmatch(r"/posts/(\d+)\.json", request.path)
        if request.method == "PUT" and match:
            return self._edit_post(request, int(match[1]))
        match = re.fullmatch(r"/t/(\d+)(/posts)?\.json", request.path)
        if request.method == "GET" and match:
            return self._topic(int(match[1]), request.args.getlist("post_ids[]")
                               if match[2] else None)
        return _json({"errors": ["The requested URL or resource could not be found."],
                      "error_type": "not_found"}, 404)

    def _topic(self, topic_id: int, post_ids: list[str] | None) -> Response:
        """GET /t/{id}.json (post_ids None) or /t/{id}/posts.json, as Discourse shapes them."""
        with self._lock:
            posts = [p for p in self.posts.values() if p["topic_id"] == topic_id]
        if not posts:
            return _json({"errors": ["The requested URL or resource could not be found."],
                          "error_type": "not_found"}, 404)
        posts.sort(key=lambda p: p["post_number"])
        shown = [{k: v for k, v in p.items() if k != "raw"} for p in posts]  # cooked only
        if post_ids is None:
            return _json({"id": topic_id, "post_stream": {
                "posts": shown[:TOPIC_PAGE_POSTS], "stream": [p["id"] for p in posts]}})
        wanted = {int(i) for i in post_ids if i.isdigit()}
        return _json({"id": topic_id,
                      "post_stream": {"posts": [p for p in shown if p["id"] in wanted]}})

    def _fault(self, request: Request) -> Fault | None:
        for i, fault in enumerate(self.faults):
            if fault.method == request.method and re.fullmatch(fault.path, request.path):
                return self.faults.pop(i)
        return None

    def _create_post(self, request: Request) -> Response:
        body = request.get_json(silent=True) or request.form.to_dict()
        raw, topic_id = str(body.get("raw", "")), body.get("topic_id")
        problems = _raw_problems(raw)
        if not isinstance(topic_id, int):
            problems.append("Topic is not valid")
        with self._lock:
            if not problems and self._repeats_recent(raw):
                problems.append("Body is too similar to what you recently posted")
            if problems:
                return _json({"action": "create_post", "errors": problems}, 422)
            post = self.add_post(topic_id, raw, self.username, user_id=2,
                                 reply_to_post_number=body.get("reply_to_post_number"))
        return _json(post)

    def _repeats_recent(self, raw: str) -> bool:
        """Discourse's unique-post check (Post#matches_recent_post?): the SHA1 of the raw
        without whitespace, lowercased, seen from this user within unique_posts_mins."""
        key = hashlib.sha1(re.sub(r"\s+", "", raw).lower().encode()).hexdigest()
        now = time.monotonic()
        seen = self._recent.get(key)
        if seen is not None and now - seen < self.unique_posts_mins * 60:
            return True
        self._recent[key] = now
        return False

    def add_post(self, topic_id: int, raw: str, username: str, user_id: int,
                 reply_to_post_number: int | None = None) -> dict:
        """A post as Discourse stores it (also used by tests for the asker's posts)."""
        number = next(self._numbers.setdefault(topic_id, itertools.count(1)))
        post = {"id": next(self._ids), "username": username, "user_id": user_id,
                "raw": raw, "cooked": f"<p>{raw}</p>", "post_number": number, "post_type": 1,
                "topic_id": topic_id, "reply_to_post_number": reply_to_post_number,
                "version": 1, "edit_reason": None}
        self.posts[post["id"]] = post
        return post

    def _upload(self, request: Request) -> Response:
        file = request.files.get("file") or request.files.get("files[]")
        if request.form.get("type") != "composer" or file is None:
            return _json({"errors": ["upload type and file are required"]}, 422)
        data = file.read()
        size = _png_size(data)
        if size is None:
            return _json({"errors": ["Sorry, the file you are trying to upload is not "
                                     "authorized (authorized extensions: jpg, jpeg, png, gif)."]},
                         422)
        width, height = size
        scale = min(1.0, MAX_IMAGE_WIDTH / width)
        sha1 = hashlib.sha1(data).hexdigest()
        short = _base62(int(sha1, 16))
        upload = {"id": len(self.uploads) + 1,
                  "url": f"/uploads/default/original/1X/{sha1}.png",
                  "original_filename": file.filename, "filesize": len(data),
                  "width": width, "height": height,
                  "thumbnail_width": round(width * scale), "thumbnail_height":
                  round(height * scale), "extension": "png",
                  "short_url": f"upload://{short}.png",
                  "short_path": f"/uploads/short-url/{short}.png",
                  "retain_hours": None, "human_filesize": f"{len(data) / 1024:.1f} KB",
                  "synchronous": request.form.get("synchronous") == "true", "data": data}
        with self._lock:
            self.uploads.append(upload)
        return _json({k: v for k, v in upload.items() if k not in ("data", "synchronous")})

    def _edit_post(self, request: Request, post_id: int) -> Response:
        body = (request.get_json(silent=True) or {}).get("post") or {}
        with self._lock:
            post = self.posts.get(post_id)
            if post is None:
                return _json({"errors": ["The requested URL or resource could not be found."],
                              "error_type": "not_found"}, 404)
            if post["username"] != self.username:
                return _json({"errors": ["You are not permitted to view the requested "
                                         "resource."], "error_type": "invalid_access"}, 403)
            original = body.get("original_text")
            if original is not None and original != post["raw"]:
                return _json({"errors": ["Someone else edited this post while you were "
                                         "editing it."]}, 409)
            raw = str(body.get("raw", ""))
            problems = _raw_problems(raw)
            if problems:
                return _json({"errors": problems}, 422)
            post.update(raw=raw, cooked=f"<p>{raw}</p>", version=post["version"] + 1,
                        edit_reason=body.get("edit_reason"))
            self.edits.append({"post_id": post_id, "raw": raw,
                               "edit_reason": body.get("edit_reason")})
        return _json({"post": post})


def _fault_response(fault: Fault) -> Response:
    body: dict = {"errors": fault.errors or [f"error {fault.status}"],
                  "error_type": "rate_limit" if fault.status == 429 else "error"}
    if fault.status == 429:
        # ApplicationController#render_rate_limit_error: the wait in the body as well as in
        # the Retry-After header.
        wait = fault.wait_seconds
        if wait is None and "Retry-After" in fault.headers:
            wait = int(fault.headers["Retry-After"])
        body["extras"] = {"wait_seconds": wait}
    return _json(body, fault.status, fault.headers)


def _raw_problems(raw: str) -> list[str]:
    text = raw.strip()
    if len(text) < MIN_POST_LENGTH:
        return [f"Body is too short (minimum is {MIN_POST_LENGTH} characters)"]
    if len(text) > MAX_POST_LENGTH:
        return [f"Body is limited to {MAX_POST_LENGTH} characters; you entered {len(text)}."]
    if len(set(text)) < MIN_ENTROPY:
        return ["Body seems unclear, is it a complete sentence?"]
    return []


def _png_size(data: bytes) -> tuple[int, int] | None:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def _base62(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while number:
        number, rest = divmod(number, 62)
        out = digits[rest] + out
    return out or "0"


def _json(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers or {},
                    content_type="application/json; charset=utf-8")
