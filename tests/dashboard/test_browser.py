"""The dashboard in a real Chromium against the live embedded app: sign-in, the seed post's
questions and jobs with live progress and figures, cancel and rerun, compare, the health and
types pages, and user text that tries to inject script.

The seed post is posted once at `smoke` for the module (three real experiments on the local
worker); the tests run in file order and build on each other's jobs.
"""

from __future__ import annotations

import re

import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By

from .conftest import REPO

pytestmark = pytest.mark.slow

# Seconds for the seed post's three smoke jobs, run one after another on a busy 2-core machine.
JOBS_S = 600
XSS = ('With small batches, why not normalize with the running averages during training too? '
       '<script>alert(1)</script> "><img src=x onerror=alert(1)>')


@pytest.fixture(scope="module")
def seed(live_app) -> dict:
    text = (REPO / "examples" / "forum-post.txt").read_text(encoding="utf-8")
    question = live_app.api("POST", "/api/v1/questions", {"text": text, "preset": "smoke"})
    assert [a["job"] is not None for a in question["asks"]] == [True, True, True]
    return question


def job_ids(seed: dict) -> list[int]:
    return [ask["job"]["id"] for ask in seed["asks"]]


def text_of(driver, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


def assert_no_alert(driver) -> None:
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018 - raises when no dialog is open


def test_signed_out_pages_redirect_to_the_login(pages):
    for path in ("/admin/", "/admin/health", "/admin/jobs/1", "/admin/compare?jobs=1,2"):
        pages.visit(path)
        assert "/admin/login?next=" in pages.driver.current_url
    pages.visit("/admin/login", screenshot="login")
    assert pages.driver.find_element(By.NAME, "csrf_token").get_attribute("value")


def test_wrong_password_is_refused_then_sign_in_and_out(pages):
    pages.sign_in(password="not the password", status=401)
    assert "Wrong user name or password" in text_of(pages.driver, "login-error")
    pages.sign_in()
    assert pages.driver.current_url.endswith("/admin/")
    assert "admin" in pages.driver.find_element(By.CSS_SELECTOR, ".who").text
    pages.submit("logout")
    assert "/admin/login" in pages.driver.current_url
    pages.visit("/admin/")
    assert "/admin/login?next=" in pages.driver.current_url


def test_live_progress_reaches_succeeded_without_a_reload(pages, seed):
    pages.sign_in()
    last = job_ids(seed)[-1]  # queued behind the other two on the one local worker slot
    pages.visit(f"/admin/jobs/{last}")
    assert text_of(pages.driver, "job-state") in ("queued", "running")
    pages.driver.execute_script("window.noReloadMarker = 'kept';")
    seen = set()

    def finished(driver):
        state = driver.find_element(By.ID, "job-state").text
        seen.add(state)
        return state in ("succeeded", "failed", "cancelled")

    pages.wait_for(finished, timeout=JOBS_S, message="the job did not finish")
    assert text_of(pages.driver, "job-state") == "succeeded", text_of(pages.driver, "main")
    assert "running" in seen  # the page followed the job while it ran
    assert pages.driver.execute_script("return window.noReloadMarker") == "kept"
    # The result was swapped in live: its figures are there and load.
    assert_figures_load(pages)
    pages.assert_no_console_errors()


def assert_figures_load(pages) -> None:
    # On a page that followed a job to its end, the result is swapped in just after the state.
    images = pages.wait_for(lambda d: d.find_elements(By.CSS_SELECTOR, "img.figure"),
                            message="no figures on the page")
    pages.wait_for(lambda d: all(d.execute_script("return arguments[0].complete", i)
                                 for i in images))
    widths = [pages.driver.execute_script("return arguments[0].naturalWidth", i)
              for i in images]
    assert all(w > 0 for w in widths), widths


def test_questions_list_shows_the_seed_post_and_its_three_jobs(pages, seed):
    pages.visit("/admin/", screenshot="questions")
    row = pages.driver.find_element(By.CSS_SELECTOR, f'tr[data-question-id="{seed["id"]}"]')
    assert "Three things I don't understand about batch norm" in row.text
    for ask in seed["asks"]:
        assert ask["type"] in row.text
        assert f"job {ask['job']['id']}" in row.text
        assert f"{ask['confidence']:.2f}" in row.text
    assert row.text.count("succeeded") == 3
    pages.visit("/admin/?type=gamma_beta_undo&source=api&status=succeeded&q=black+cats")
    shown = pages.driver.find_elements(By.CSS_SELECTOR, "tr.question")
    assert [r.get_attribute("data-question-id") for r in shown] == [str(seed["id"])]
    pages.visit("/admin/?source=bot")
    assert pages.driver.find_elements(By.CSS_SELECTOR, "tr.question") == []


def test_each_job_page_shows_its_answer_figures_and_rows(pages, seed):
    for index, job_id in enumerate(job_ids(seed)):
        pages.visit(f"/admin/jobs/{job_id}", screenshot=f"job-{index + 1}")
        assert text_of(pages.driver, "job-state") == "succeeded"
        answer = pages.driver.find_elements(By.CSS_SELECTOR, "#verdict, #answer")
        assert answer and answer[0].text.strip()
        assert_figures_load(pages)
        rows = pages.driver.find_elements(By.CSS_SELECTOR, "#rows tbody tr")
        assert rows
        assert "[" in pages.driver.find_element(By.CSS_SELECTOR, "#rows .ci").text
        for link in ("result-json", "data-csv"):
            assert pages.driver.find_element(By.ID, link).get_attribute("href")


def test_rows_sort_by_a_column(pages, seed):
    pages.visit(f"/admin/jobs/{job_ids(seed)[2]}")
    headers = pages.driver.find_elements(By.CSS_SELECTOR, "#rows thead th")
    names = [h.text for h in headers]
    column = names.index("test_acc")

    def values():
        cells = pages.driver.find_elements(By.CSS_SELECTOR,
                                           f"#rows tbody tr td:nth-child({column + 1})")
        return [float(c.get_attribute("data-sort")) for c in cells]

    headers[column].find_element(By.TAG_NAME, "button").click()
    assert values() == sorted(values())
    headers[column].find_element(By.TAG_NAME, "button").click()
    assert values() == sorted(values(), reverse=True)
    pages.assert_no_console_errors()


def current_job_id(pages) -> int:
    return int(pages.driver.current_url.rstrip("/").rsplit("/", 1)[-1])


def test_cancel_and_rerun(pages, seed, live_app):
    first, second, _ = job_ids(seed)
    pages.visit(f"/admin/jobs/{first}")
    pages.submit("rerun")
    rerun = current_job_id(pages)
    assert rerun not in job_ids(seed)
    assert text_of(pages.driver, "job-state") in ("queued", "running")
    # A second rerun waits behind the first on the one worker thread, so it is still queued
    # when it is cancelled.
    pages.visit(f"/admin/jobs/{second}")
    pages.submit("rerun")
    queued = current_job_id(pages)
    assert text_of(pages.driver, "job-state") == "queued"
    pages.submit("cancel")
    assert text_of(pages.driver, "job-state") == "cancelled"
    assert f"Job {queued} cancelled" in pages.driver.find_element(By.CSS_SELECTOR,
                                                                  ".flash").text
    assert pages.driver.find_elements(By.ID, "cancel") == []
    assert live_app.api("GET", f"/api/v1/jobs/{queued}")["status"] == "cancelled"
    # The first rerun runs to the end and stores its own result.
    pages.visit(f"/admin/jobs/{rerun}")
    pages.wait_for(lambda d: d.find_element(By.ID, "job-state").text == "succeeded",
                   timeout=JOBS_S, message="the rerun did not succeed")
    assert_figures_load(pages)
    job = live_app.api("GET", f"/api/v1/jobs/{rerun}")
    assert job["status"] == "succeeded" and job["result"] is not None


def test_compare_two_runs(pages, seed):
    first = job_ids(seed)[0]
    pages.visit(f"/admin/jobs/{first}")
    links = pages.driver.find_elements(By.CSS_SELECTOR, "#others a.compare")
    assert links
    links[0].click()
    pages.settle(screenshot="compare")
    assert "/admin/compare?jobs=" in pages.driver.current_url
    heading = pages.driver.find_element(By.TAG_NAME, "h1").text
    assert "Compare 2 runs of gamma_beta_undo" in heading
    assert pages.driver.find_element(By.ID, "same-params")
    cells = pages.driver.find_elements(By.CSS_SELECTOR, "#compare-metric tbody tr")
    assert cells
    first_row = [td.text for td in cells[0].find_elements(By.TAG_NAME, "td")]
    assert len(first_row) == 2 and all("[" in t and "n=" in t for t in first_row)
    pages.visit(f"/admin/compare?jobs={first},{job_ids(seed)[1]}", status=400)
    assert "compare jobs of one type" in text_of(pages.driver, "error-message")


def test_user_text_that_looks_like_markup_is_shown_as_text(pages, live_app):
    question = live_app.api("POST", "/api/v1/questions", {"text": XSS, "preset": "smoke"})
    for path in ("/admin/", f"/admin/?q={'<script>'}",
                 f"/admin/jobs/{question['asks'][0]['job']['id']}"):
        pages.visit(path, screenshot=None)
        assert_no_alert(pages.driver)
        assert pages.driver.find_elements(By.CSS_SELECTOR, 'img[src="x"]') == []
        assert pages.driver.execute_script("return document.scripts.length") == 1
    pages.visit("/admin/")
    row = pages.driver.find_element(By.CSS_SELECTOR, f'tr[data-question-id="{question["id"]}"]')
    assert "<script>alert(1)</script>" in row.text
    assert '"><img src=x onerror=alert(1)>' in row.text


def test_health_page_shows_the_embedded_worker(pages):
    pages.visit("/admin/health", screenshot="health")
    assert text_of(pages.driver, "check-database") == "ok"
    assert text_of(pages.driver, "check-redis").startswith("not used")
    # The one slot the tests configure (local_workers=1; 0 would mean one per core).
    assert re.match(r"Embedded local worker: 1 of 1 slot started",
                    text_of(pages.driver, "local-worker"))
    assert text_of(pages.driver, "oldest") == "Nothing is waiting."
    assert text_of(pages.driver, "overall") == "ok"


def test_types_page_counts_the_jobs(pages, seed):
    pages.visit("/admin/types", screenshot="types")
    row = pages.driver.find_element(By.CSS_SELECTOR, 'tr[data-type="gamma_beta_undo"]')
    assert row.find_element(By.CSS_SELECTOR, ".jobs").text == "2"  # the seed job and rerun
    assert row.find_element(By.CSS_SELECTOR, ".failed").text == "0"
    assert " s" in row.text  # a median smoke run time
    other = pages.driver.find_element(By.CSS_SELECTOR, 'tr[data-type="activation_order"]')
    assert "ready" in other.text and other.find_element(By.CSS_SELECTOR, ".jobs").text == "0"
