"""A small client for the Discourse API calls the bot makes, with Discourse's errors.

    POST /posts.json          {topic_id, raw, reply_to_post_number} -> the new post
    POST /uploads.json        multipart: file, type=composer, synchronous=true -> short_url
    PUT  /posts/{id}.json     {post: {raw, edit_reason}} -> {"post": ...}
    GET  /t/{id}.json         the topic: post_stream.posts (the first ones) and .stream (all ids)
    GET  /t/{id}/posts.json   ?post_ids[]=...: those posts, in post_stream.posts

Authentication is the Api-Key / Api-Username header pair. How errors are handled follows how
Discourse sends them: 429 carries Retry-After and raises RateLimited so the caller can come
back then instead of holding a thread; 403, 409 and 422 ({"errors": [...]}) mean the request
itself will not succeed and raise Rejected; 5xx and timeouts are retried here with backoff a
bounded number of times, then raise Unavailable.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

log = logging.getLogger(__name__)

TIMEOUT_S = 15
RETRIES = 3  # after the first try, for 5xx and timeouts
BACKOFF_S = 1.0  # doubled each retry
MAX_RETRY_AFTER_S = 3600  # a Retry-After beyond this is read as this
LOOKUP_POSTS = 100  # newest posts of a topic searched for a reply the bot may have made
POSTS_PER_LOOKUP = 20  # post ids per GET /t/{id}/posts.json, as Discourse's own client asks


class DiscourseError(Exception):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class RateLimited(DiscourseError):
    def __init__(self, message: str, retry_after: float):
        super().__init__(message, 429)
        self.retry_after = retry_after


class Rejected(DiscourseError):
    """403, 409 or 422: retrying the same request cannot help."""


class Unavailable(DiscourseError):
    """5xx, timeouts, refused connections, after the retries."""


@dataclass(frozen=True)
class Upload:
    short_url: str  # upload://...
    width: int
    height: int


@dataclass(frozen=True)
class Posted:
    id: int
    post_number: int


class Discourse:
    def __init__(self, url: str, api_key: str, username: str, *, timeout: float = TIMEOUT_S,
                 retries: int = RETRIES, backoff: float = BACKOFF_S, sleep=time.sleep):
        self.url, self.api_key, self.username = url.rstrip("/"), api_key, username
        self.timeout, self.retries, self.backoff, self.sleep = timeout, retries, backoff, sleep

    @classmethod
    def from_settings(cls, settings) -> Discourse:
        return cls(settings.discourse_url, settings.discourse_api_key,
                   settings.discourse_username)

    def create_post(self, topic_id: int, raw: str, reply_to_post_number: int | None) -> Posted:
        body = {"topic_id": topic_id, "raw": raw}
        if reply_to_post_number is not None:
            body["reply_to_post_number"] = reply_to_post_number
        post = self._json("POST", "/posts.json", body)
        return Posted(int(post["id"]), int(post["post_number"]))

    def find_reply(self, topic_id: int, reply_to_post_number: int, skip: set[int] = frozenset(),
                   newest: int = LOOKUP_POSTS) -> Posted | None:
        """The bot's own reply to post `reply_to_post_number` of a topic, if it made one among
        the topic's `newest` posts; posts whose ids are in `skip` are not it.

        For a reply whose creation may have gone through without its answer reaching us (a
        timeout, or a crash before it was recorded): looking first keeps a retry from posting
        it twice.
        """
        topic = self._get(f"/t/{topic_id}.json")
        stream = topic.get("post_stream") or {}
        loaded = {int(p["id"]): p for p in stream.get("posts") or []}
        ids = [int(i) for i in stream.get("stream") or loaded][-newest:]
        missing = [i for i in ids if i not in loaded]
        for start in range(0, len(missing), POSTS_PER_LOOKUP):
            chunk = missing[start:start + POSTS_PER_LOOKUP]
            query = "&".join(f"post_ids[]={i}" for i in chunk)
            more = self._get(f"/t/{topic_id}/posts.json?{query}")
            loaded.update({int(p["id"]): p for p in (more.get("post_stream") or {})
                           .get("posts") or []})
        for post_id in reversed(ids):
            post = loaded.get(post_id)
            if (post is not None and post_id not in skip
                    and post.get("username") == self.username
                    and post.get("reply_to_post_number") == reply_to_post_number):
                return Posted(post_id, int(post["post_number"]))
        return None

    def edit_post(self, post_id: int, raw: str, edit_reason: str) -> None:
        self._json("PUT", f"/posts/{post_id}.json",
                   {"post": {"raw": raw, "edit_reason": edit_reason}})

    def upload_image(self, filename: str, data: bytes, content_type: str = "image/png"
                     ) -> Upload:
        boundary = "bnlab" + secrets.token_hex(12)
        fields = {"type": "composer", "synchronous": "true"}
        body = multipart(boundary, fields, ("file", filename, content_type, data))
        upload = self._request("POST", "/uploads.json", body,
                               f"multipart/form-data; boundary={boundary}")
        # thumbnail_* is the size Discourse shows an image at (it shrinks wide ones).
        width = upload.get("thumbnail_width") or upload.get("width") or 690
        height = upload.get("thumbnail_height") or upload.get("height") or 420
        return Upload(str(upload["short_url"]), int(width), int(height))

    def _get(self, path: str) -> dict:
        return self._request("GET", path, None, "application/json")

    def _json(self, method: str, path: str, body: dict) -> dict:
        return self._request(method, path, json.dumps(body).encode(), "application/json")

    def _request(self, method: str, path: str, body: bytes | None, content_type: str) -> dict:
        attempt = 0
        while True:
            try:
                return self._send(method, path, body, content_type)
            except Unavailable as exc:
                if attempt >= self.retries:
                    raise
                delay = self.backoff * 2 ** attempt
                log.warning("discourse %s %s: %s; retry in %.1f s", method, path, exc, delay)
                attempt += 1
                self.sleep(delay)

    def _send(self, method: str, path: str, body: bytes | None, content_type: str) -> dict:
        request = urllib.request.Request(
            self.url + path, data=body, method=method,
            headers={"Api-Key": self.api_key, "Api-Username": self.username,
                     "Content-Type": content_type, "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise _error(method, path, exc) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Unavailable(f"{method} {path}: {reason}") from None


def _error(method: str, path: str, exc: urllib.error.HTTPError) -> DiscourseError:
    try:
        body = json.loads(exc.read() or b"{}")
        errors = body.get("errors") or []
    except (ValueError, AttributeError):
        body, errors = {}, []
    detail = "; ".join(str(e) for e in errors) or exc.reason
    message = f"{method} {path}: {exc.code} {detail}"
    if exc.code == 429:
        # Discourse sends the wait both as Retry-After and as extras.wait_seconds; a proxy in
        # front of it may drop the header, so the body is the fallback.
        extras = body.get("extras") if isinstance(body, dict) else None
        wait = extras.get("wait_seconds") if isinstance(extras, dict) else None
        header = exc.headers.get("Retry-After") if exc.headers is not None else None
        return RateLimited(message, retry_after(header if header is not None else wait))
    if exc.code >= 500:
        return Unavailable(message, exc.code)
    return Rejected(message, exc.code)


def retry_after(value: str | float | None) -> float:
    """Seconds from a Retry-After header or a wait_seconds (Discourse sends whole seconds);
    5 s when neither says."""
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER_S)
    except (TypeError, ValueError):
        return 5.0


def multipart(boundary: str, fields: dict[str, str], file: tuple[str, str, str, bytes]
              ) -> bytes:
    """A multipart/form-data body: the text fields, then one file part."""
    out = []
    for name, value in fields.items():
        out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                   f"{value}\r\n".encode())
    name, filename, content_type, data = file
    out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
               f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'.encode())
    out.append(data + f"\r\n--{boundary}--\r\n".encode())
    return b"".join(out)
