"""The dashboard served for real on 127.0.0.1, and a headless Chromium to drive it.

`live_app` is the embedded shape of architecture.md (SQLite, no Redis, the local worker), served
by werkzeug on a thread of the test process, with an admin user and an API key. `browser` is the
system Chromium under Selenium with a fresh profile. Screenshots go to runs/screenshots/ (not
committed); `Pages.visit` also fails a test on any console error the page produced.
"""

from __future__ import annotations

import json
import shutil
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

# The service tests' stored-job fixture, shared rather than copied.
from tests.service.conftest import RecordingDispatcher, finished_job  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "runs" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ADMIN, PASSWORD = "admin", "a long test password"
# Seconds to wait for a page element; job waits have their own, longer limits.
WAIT_S = 10


@dataclass
class LiveApp:
    app: object
    url: str
    api_key: str
    settings: object

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            self.url + path, method=method, data=json.dumps(body).encode() if body else None,
            headers={"Authorization": f"Bearer {self.api_key}",
                     "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())


def make_app(instance: Path, **overrides):
    from service.app import create_app
    from service.db import get_db

    values = dict(instance=instance, database_url="", redis_url="", executor="local",
                  local_workers=1, progress_interval=0.2)
    values.update(overrides)
    app = create_app(values)
    with app.app_context():
        get_db().upgrade()
    return app


@pytest.fixture(scope="module")
def live_app(tmp_path_factory):
    from werkzeug.serving import make_server

    from service.admins import create_admin
    from service.auth import create_key
    from service.db import get_session

    app = make_app(tmp_path_factory.mktemp("dashboard") / "instance")
    with app.app_context():
        create_admin(get_session(), ADMIN, PASSWORD)
        _, key = create_key(get_session(), "browser-tests")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="dashboard-server", daemon=True)
    thread.start()
    yield LiveApp(app, f"http://127.0.0.1:{server.server_port}", key, app.config["BNLAB"])
    server.shutdown()
    thread.join(timeout=10)


def chrome_options(profile: Path):
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 "--window-size=1280,900", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    # Console messages and failed loads, read back with get_log("browser").
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return options


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for path in (CHROMIUM, CHROMEDRIVER):
        assert path.exists(), f"{path} is missing: apt-get install chromium chromium-driver"
    profile = tmp_path_factory.mktemp("chromium-profile")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)),
                              options=chrome_options(profile))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


class Pages:
    """Page helpers bound to one browser and one live app."""

    def __init__(self, driver, live: LiveApp):
        self.driver, self.live = driver, live
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def open(self, path: str) -> None:
        self.driver.get(self.live.url + path)

    def visit(self, path: str, screenshot: str | None = None, status: int | None = None
              ) -> None:
        """Open a page, keep a screenshot, and fail on any console error it logged.

        `status`: the page is an error page answered with this HTTP status; Chromium logs that
        status as a console error of the page's own URL, and only that one is expected."""
        self.open(path)
        self.settle(screenshot, status)

    def settle(self, screenshot: str | None = None, status: int | None = None) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(self.driver, WAIT_S).until(
            lambda d: d.execute_script("return document.readyState") == "complete")
        if screenshot:
            self.screenshot(screenshot)
        self.assert_no_console_errors(status)

    def screenshot(self, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        # The whole page, not only the window: CDP renders beyond the viewport.
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(1280, min(max(900, height), 6000))
        self.driver.save_screenshot(str(path))
        self.driver.set_window_size(1280, 900)
        return path

    def console_errors(self) -> list[str]:
        return [entry["message"] for entry in self.driver.get_log("browser")
                if entry["level"] == "SEVERE"]

    def assert_no_console_errors(self, status: int | None = None) -> None:
        errors = self.console_errors()
        if status is not None:
            expected = (f"{self.driver.current_url} - Failed to load resource: the server "
                        f"responded with a status of {status}")
            assert any(e.startswith(expected) for e in errors), errors
            errors = [e for e in errors if not e.startswith(expected)]
        assert errors == [], f"console errors on {self.driver.current_url}: {errors}"

    def submit(self, element_id: str, status: int | None = None) -> None:
        """Click a button that loads a new page, and wait until the new one has loaded."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.expected_conditions import staleness_of

        old = self.driver.find_element(By.TAG_NAME, "html")
        self.driver.find_element(By.ID, element_id).click()
        self.wait_for(staleness_of(old), message=f"clicking #{element_id} loaded no page")
        self.settle(status=status)

    def sign_in(self, username: str = ADMIN, password: str = PASSWORD,
                status: int | None = None) -> None:
        from selenium.webdriver.common.by import By

        self.open("/admin/login")
        self.driver.find_element(By.NAME, "username").send_keys(username)
        self.driver.find_element(By.NAME, "password").send_keys(password)
        self.submit("sign-in", status)

    def wait_for(self, condition, timeout: float = WAIT_S, message: str = ""):
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        # A job page swaps its section in place when the job ends; an element found just
        # before the swap goes stale, and the next poll finds the new one.
        return WebDriverWait(self.driver, timeout, poll_frequency=0.25,
                             ignored_exceptions=[StaleElementReferenceException]
                             ).until(condition, message)


@pytest.fixture(scope="module")
def pages(browser, live_app) -> Pages:
    return Pages(browser, live_app)


# Flask test-client fixtures, on each database backend (tests/conftest.py `settings`).

@pytest.fixture
def app(settings):
    from dataclasses import fields

    from service.api.questions import DISPATCHER
    from service.app import create_app

    app = create_app({f.name: getattr(settings, f.name) for f in fields(settings)})
    app.extensions[DISPATCHER] = RecordingDispatcher()
    yield app
    app.extensions["bnlab.db"].dispose()


@pytest.fixture
def admin(database):
    from service.admins import create_admin

    with database.session() as session:
        create_admin(session, ADMIN, PASSWORD)
    return ADMIN


def csrf_from(html: str) -> str:
    import re

    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


class Browserless:
    """A test client that signs in through the form, from a client address of its own (the
    sign-in limit counts per address, and a Redis limit outlives one test)."""

    def __init__(self, app, address: str | None = None, base_url: str = "http://localhost"):
        import secrets

        self.address = address or f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}." \
                                  f"{secrets.randbelow(250) + 1}"
        self.client = app.test_client()
        self.base_url = base_url

    def get(self, path: str, **kw):
        return self.client.get(path, base_url=self.base_url,
                               environ_base={"REMOTE_ADDR": self.address}, **kw)

    def post(self, path: str, data: dict | None = None, token: bool = True, **kw):
        data = dict(data or {})
        if token and "csrf_token" not in data:
            data["csrf_token"] = self.token()
        return self.client.post(path, data=data, base_url=self.base_url,
                                environ_base={"REMOTE_ADDR": self.address}, **kw)

    def token(self) -> str:
        return csrf_from(self.get("/admin/login").text)

    def sign_in(self, username: str = ADMIN, password: str = PASSWORD):
        return self.post("/admin/login", {"username": username, "password": password})


@pytest.fixture
def signed_in(app, admin) -> Browserless:
    user = Browserless(app)
    response = user.sign_in()
    assert response.status_code == 302, response.text
    return user
