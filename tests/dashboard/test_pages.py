"""Page contents with the Flask test client on both backends: question filters and pages,
a v2 result's verdict and findings, failures on the Health page, and the Types counts."""

from __future__ import annotations

import re

from tests.service.conftest import sample_result

from .test_present import V2


def add_questions(database, settings, texts: list[str], source: str = "api") -> list[int]:
    from service.questions import submit_question

    ids = []
    with database.session() as session:
        for text in texts:
            ids.append(submit_question(session, text, preset="smoke", source=source,
                                       settings=settings).question.id)
    return ids


def listed(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-question-id="(\d+)"', html)]


def test_questions_newest_first_filtered_and_paged(signed_in, database, settings):
    from service.dashboard.queries import PAGE_SIZE

    texts = [f"Should BN go before or after ReLU? ({i})" for i in range(PAGE_SIZE + 3)]
    many = add_questions(database, settings, texts)
    bot = add_questions(database, settings, ["Why does dropout interact badly with BN?"],
                        source="bot")
    first = listed(signed_in.get("/admin/").text)
    assert first == (bot + many[::-1])[:PAGE_SIZE]
    second = listed(signed_in.get("/admin/?page=2").text)
    assert second == many[::-1][PAGE_SIZE - 1:]
    assert listed(signed_in.get("/admin/?source=bot").text) == bot
    assert listed(signed_in.get("/admin/?type=dropout_interaction").text) == bot
    assert listed(signed_in.get("/admin/?q=%287%29").text) == [many[7]]
    assert listed(signed_in.get("/admin/?q=100%25").text) == []  # % is a character, not a wildcard
    assert listed(signed_in.get("/admin/?status=succeeded").text) == []
    page = signed_in.get("/admin/?source=bot&page=1&status=nonsense").text
    assert listed(page) == bot  # an unknown status is ignored, not an error
    assert "activation_order" in signed_in.get("/admin/").text  # the ask the router found


def test_a_v2_result_shows_verdict_and_findings(signed_in, database, finished_job):
    from service.models import Result

    job_id = finished_job()
    with database.session() as session:
        session.get(Result, job_id).data = {**sample_result(), **V2}
        session.commit()
    page = signed_in.get(f"/admin/jobs/{job_id}").text
    assert 'id="verdict"><strong>No — at batch 4 running averages lose.</strong> An answer.<' \
        in page
    assert 'id="answer"' not in page
    findings = re.search(r'<table class="findings sortable" id="findings">.*?</table>', page,
                         re.S).group(0)
    assert findings.index("Running averages trail") < findings.index("A minor point.")
    assert "-0.25 [-0.35, -0.15]" in findings


def test_a_v1_result_shows_its_answer_rows_and_downloads(signed_in, finished_job):
    job_id = finished_job()
    page = signed_in.get(f"/admin/jobs/{job_id}").text
    assert 'id="answer">An answer.<' in page and 'id="verdict"' not in page
    assert '<span class="ci">[0.4, 0.6]</span>' in page
    assert f'src="/admin/jobs/{job_id}/figures/accuracy"' in page
    assert signed_in.get(f"/admin/jobs/{job_id}/result.json").json["answer"] == "An answer."
    csv = signed_in.get(f"/admin/jobs/{job_id}/data.csv").text
    header = csv.splitlines()[0].split(",")  # the rows' own key order, on every backend
    assert header == ["arm", "batch_size", "test_acc", "test_acc_ci95_lo", "test_acc_ci95_hi",
                      "n_seeds", "note"]


def test_health_lists_recent_failures_with_their_reasons(signed_in, database, settings):
    from service.jobs import fail_job, find_or_create_job

    with database.session() as session:
        job, _ = find_or_create_job(session, "gamma_beta_undo", {"seeds": 2}, "smoke",
                                    fresh=False, queue=settings.cpu_queue)
        session.commit()
        fail_job(session, job.id, "ParamError: width 4096 is above the limit <1024>")
    page = signed_in.get("/admin/health").text
    failures = re.search(r'id="failures">.*?</table>', page, re.S).group(0)
    assert f"job {job.id}</a>" in failures
    assert "width 4096 is above the limit &lt;1024&gt;" in failures
    assert 'id="oldest">Nothing is waiting.' in page


def test_types_count_jobs_failures_and_median_run_time(signed_in, finished_job, database):
    from datetime import timedelta

    from service.models import Job

    ids = [finished_job({"seeds": n}) for n in (2, 3, 4)]
    with database.session() as session:
        for job_id, seconds in zip(ids, (10, 30, 20), strict=True):
            job = session.get(Job, job_id)
            job.finished_at = job.started_at + timedelta(seconds=seconds)
        session.commit()
    page = signed_in.get("/admin/types").text
    row = re.search(r'<tr data-type="small_batch_statistics">.*?</tr>', page, re.S).group(0)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert cells[3:7] == ["3", "0", "20.0 s", "–"]


def test_the_bot_page_lists_forum_posts_with_their_state_escaped(signed_in, database):
    from service.models import ForumPost

    with database.session() as session:
        session.add_all([
            ForumPost(post_id=71, post_version=1, topic_id=9, post_number=1, user_id=5,
                      username="<b>dana</b>", raw="Why BN?", trigger="topic",
                      state="answered", kind="answer", reply_post_number=2),
            ForumPost(post_id=72, post_version=1, topic_id=9, post_number=3, user_id=6,
                      username="eve", raw="more", trigger="mention", state="failed",
                      error="<script>alert(1)</script>")])
        session.commit()
    page = signed_in.get("/admin/bot").text
    assert page.index('data-post="72"') < page.index('data-post="71"')  # newest first
    assert "&lt;b&gt;dana&lt;/b&gt;" in page and "<b>dana</b>" not in page
    assert "&lt;script&gt;" in page and "<script>alert" not in page
    assert "answered (answer)" in page
    failed = signed_in.get("/admin/bot?state=failed").text
    assert 'data-post="72"' in failed and 'data-post="71"' not in failed
