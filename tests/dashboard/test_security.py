"""Dashboard safety with the Flask test client, on both backends: sign-in required, cookie
flags, CSRF on every POST, the Content-Security-Policy, the sign-in rate limit, escaping of
user text, and no API key hashes anywhere."""

from __future__ import annotations

import re

import pytest

from .conftest import ADMIN, PASSWORD, Browserless

PAGES = ("/admin/", "/admin/types", "/admin/health", "/admin/jobs/1",
         "/admin/jobs/1/status.json", "/admin/jobs/1/figures/accuracy",
         "/admin/jobs/1/result.json", "/admin/jobs/1/data.csv", "/admin/compare?jobs=1,2")
XSS = ("With small batches, why not normalize with the running averages during training too? "
       '<script>alert(1)</script> "><img src=x onerror=alert(1)>')


def test_every_page_redirects_to_the_login_when_signed_out(app, finished_job):
    finished_job()
    user = Browserless(app)
    for path in PAGES:
        response = user.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/admin/login?next=/admin/"), path
    assert user.get("/admin/login").status_code == 200
    assert user.get("/admin/static/dashboard.js").status_code == 200


def test_signed_in_pages_answer(signed_in, finished_job):
    first, second = finished_job(), finished_job({"seeds": 3})
    for path in PAGES:
        response = signed_in.get(path.replace("/1", f"/{first}").replace(",2", f",{second}"))
        assert response.status_code == 200, (path, response.text[:300])
    assert signed_in.get(f"/admin/compare?jobs={first},{first}").status_code == 400
    assert signed_in.get(f"/admin/compare?jobs={first},999").status_code == 404
    assert signed_in.get("/admin/jobs/999").status_code == 404


def test_session_cookie_flags(app, admin):
    plain = Browserless(app).sign_in()
    cookie = plain.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    secure = Browserless(app, base_url="https://localhost").sign_in()
    assert "Secure" in secure.headers["Set-Cookie"]


def test_sign_out_ends_the_session(signed_in):
    assert signed_in.post("/admin/logout").status_code == 302
    assert signed_in.get("/admin/").status_code == 302


def test_next_only_leads_inside_the_dashboard(app, admin):
    user = Browserless(app)
    for target, expected in (("/admin/types", "/admin/types"), ("//evil.example/x", "/admin/"),
                             ("https://evil.example/", "/admin/"), ("/admin\\..", "/admin/")):
        response = user.post("/admin/login", {"username": ADMIN, "password": PASSWORD,
                                              "next": target})
        assert response.headers["Location"] == expected, target


def test_posts_without_a_valid_csrf_token_are_400(signed_in, database, finished_job, app):
    from service.models import Job

    job_id = finished_job()
    with database.session() as session:
        queued = Job(key="k" * 64, active_key="k" * 64, type="small_batch_statistics",
                     preset="smoke", params={}, code_version="test", queue="cpu",
                     state="queued", progress=0.0, message="queued", attempts=0)
        session.add(queued)
        session.commit()
        queued_id = queued.id
    for path in ("/admin/logout", f"/admin/jobs/{queued_id}/cancel",
                 f"/admin/jobs/{job_id}/rerun", "/admin/login"):
        assert signed_in.post(path, token=False).status_code == 400, path
        assert signed_in.post(path, {"csrf_token": "forged"}).status_code == 400, path
    with database.session() as session:
        assert session.get(Job, queued_id).state == "queued"
        assert session.query(Job).count() == 2  # no rerun was made
    assert app.extensions["bnlab.dispatcher"].enqueued == []
    assert signed_in.get("/admin/").status_code == 200  # still signed in


def test_cancel_and_rerun_with_the_token(signed_in, database, finished_job, app):
    from service.models import Job

    job_id = finished_job()
    response = signed_in.post(f"/admin/jobs/{job_id}/rerun")
    rerun_id = int(response.headers["Location"].rsplit("/", 1)[-1])
    assert rerun_id != job_id
    assert app.extensions["bnlab.dispatcher"].enqueued == [rerun_id]
    again = signed_in.post(f"/admin/jobs/{job_id}/rerun")  # the same run is already queued
    assert again.headers["Location"].endswith(f"/admin/jobs/{rerun_id}")
    assert signed_in.post(f"/admin/jobs/{rerun_id}/cancel").status_code == 302
    with database.session() as session:
        assert session.get(Job, rerun_id).state == "cancelled"
    assert app.extensions["bnlab.dispatcher"].stopped == [rerun_id]
    page = signed_in.get(f"/admin/jobs/{rerun_id}").text
    assert f"Job {rerun_id} cancelled." in page and 'id="cancel"' not in page


def test_content_security_policy_forbids_inline_script(signed_in, finished_job):
    job_id = finished_job()
    for path in ("/admin/login", "/admin/", f"/admin/jobs/{job_id}", "/admin/health",
                 "/admin/types", "/admin/nothing-here"):
        response = signed_in.get(path)
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy, path
        assert "default-src 'self'" in policy and "object-src 'none'" in policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        if response.mimetype == "text/html":
            scripts = re.findall(r"<script\b[^>]*>", response.text)
            assert all(" src=" in tag for tag in scripts), (path, scripts)
            assert not re.search(r"\son[a-z]+=", response.text), path  # no handler attrs


def test_failed_sign_ins_are_rate_limited(app, admin):
    user = Browserless(app)
    limit, _ = app.config["BNLAB"].login_rate_limit_pair
    for _ in range(limit):
        assert user.sign_in(password="wrong password!").status_code == 401
    refused = user.sign_in()  # even the right password, while the limit holds
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert "Too many failed sign-ins" in refused.text
    assert Browserless(app).sign_in().status_code == 302  # another address is not held


def test_successful_sign_ins_do_not_count(app, admin):
    user = Browserless(app)
    limit, _ = app.config["BNLAB"].login_rate_limit_pair
    for _ in range(limit + 2):
        assert user.sign_in().status_code == 302


def test_user_text_is_escaped_on_every_page(signed_in, database, app):
    from service import jobs
    from service.questions import submit_question
    from tests.service.conftest import sample_result, tiny_png

    with database.session() as session:
        submission = submit_question(session, XSS, preset="smoke", source="api",
                                     asker="<b>asker</b>", settings=app.config["BNLAB"])
        job = submission.asks[0][1]
        result = sample_result()
        result.update(answer=XSS, title=XSS, summary_markdown=XSS)
        result["rows"][0]["arm"] = XSS
        result["figures"][0]["caption"] = XSS
        claim = jobs.claim_job(session, job.id, worker="<i>w</i>", device="cpu",
                               max_attempts=3)
        assert jobs.finish_job(session, claim, result, [("accuracy", XSS, tiny_png())],
                               device="cpu")
        question_id, job_id = submission.question.id, job.id
    for path in ("/admin/", "/admin/?q=%3Cscript%3E", f"/admin/jobs/{job_id}",
                 "/admin/health", f"/admin/compare?jobs={job_id},{job_id}"):
        html = signed_in.get(path).text
        assert "<script>alert" not in html, path
        assert "<img src=x" not in html and "<b>asker" not in html, path
    listing = signed_in.get("/admin/").text
    assert f'data-question-id="{question_id}"' in listing
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listing
    job_page = signed_in.get(f"/admin/jobs/{job_id}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in job_page
    assert "&lt;i&gt;w&lt;/i&gt;" in job_page


def test_api_key_hashes_are_never_shown(signed_in, database, finished_job):
    from service.auth import create_key

    job_id = finished_job()
    with database.session() as session:
        row, key = create_key(session, "someone")
        secrets = (row.key_hash, key)
    for path in ("/admin/", f"/admin/jobs/{job_id}", "/admin/health", "/admin/types"):
        html = signed_in.get(path).text
        assert not any(s in html for s in secrets), path


@pytest.mark.parametrize("password", ["", "short", "x" * 2000])
def test_malformed_passwords_are_refused_not_errors(app, admin, password):
    assert Browserless(app).sign_in(password=password).status_code == 401


def test_the_embedded_secret_key_is_made_once_and_kept_private(tmp_path):
    from service.dashboard.security import instance_secret

    first = instance_secret(tmp_path)
    assert len(first) == 64 and instance_secret(tmp_path) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_a_session_signed_with_another_key_is_not_accepted(app, admin, settings):
    from dataclasses import fields

    from service.app import create_app

    user = Browserless(app)
    assert user.sign_in().status_code == 302
    other = create_app({**{f.name: getattr(settings, f.name) for f in fields(settings)},
                        "secret_key": "another key"})
    cookie = user.client.get_cookie("session")
    stranger = other.test_client()
    stranger.set_cookie("session", cookie.value)
    assert stranger.get("/admin/").status_code == 302
    assert user.get("/admin/").status_code == 200
    other.extensions["bnlab.db"].dispose()


@pytest.fixture
def proxied_app(settings):
    """The app behind one trusted reverse proxy (BNLAB_PROXY_HOPS=1)."""
    from dataclasses import fields, replace

    from service.app import create_app

    proxied = replace(settings, proxy_hops=1)
    app = create_app({f.name: getattr(proxied, f.name) for f in fields(proxied)})
    yield app
    app.extensions["bnlab.db"].dispose()


class ViaProxy(Browserless):
    """A client behind a reverse proxy: requests arrive from the proxy's address, with the
    client's address and the original scheme in X-Forwarded-For and X-Forwarded-Proto."""

    PROXY = "10.250.250.250"

    def __init__(self, app, client: str):
        super().__init__(app, address=self.PROXY, base_url="http://localhost")
        self.headers = {"X-Forwarded-For": client, "X-Forwarded-Proto": "https"}

    def get(self, path: str, **kw):
        return super().get(path, headers=self.headers, **kw)

    def post(self, path: str, data: dict | None = None, token: bool = True, **kw):
        return super().post(path, data, token, headers=self.headers, **kw)


def _limited_after_failures(app, first: str, second: str) -> tuple[bool, bool]:
    """Whether `first`, then `second`, is refused with 429 after `first` used up the limit."""
    limit, _ = app.config["BNLAB"].login_rate_limit_pair
    one = ViaProxy(app, first)
    for _ in range(limit):
        one.sign_in(password="wrong password!")
    return (one.sign_in().status_code == 429, ViaProxy(app, second).sign_in().status_code == 429)


def test_behind_a_trusted_proxy_its_headers_give_scheme_and_client(proxied_app, admin):
    user = ViaProxy(proxied_app, "203.0.113.7")
    assert "Secure" in user.sign_in().headers["Set-Cookie"]
    # The limit holds the client that failed, not everyone behind the same proxy.
    assert _limited_after_failures(proxied_app, "203.0.113.8", "203.0.113.9") == (True, False)


def test_without_trust_the_forwarded_headers_change_nothing(app, admin):
    assert "Secure" not in ViaProxy(app, "203.0.113.10").sign_in().headers["Set-Cookie"]
    # Everyone arrives from the proxy's address, so one client's failures hold the next too.
    assert _limited_after_failures(app, "203.0.113.11", "203.0.113.12") == (True, True)
