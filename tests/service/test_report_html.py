"""service/report.py: a self-contained page with answers, summaries and embedded figures."""

from __future__ import annotations

import base64

from service import jobs
from service.models import Question
from service.report import render_report


def test_report_embeds_figures_and_escapes_text(database, settings, png, result_json):
    from service.questions import submit_question

    text = ("<script>x</script> With small batches the batch statistics are noisy. Why not "
            "normalize with the running averages during training, as at test time?")
    result_json["answer"] = "Running averages <b>lose</b> 0.05 accuracy."
    with database.session() as session:
        submission = submit_question(session, text, preset="smoke", settings=settings)
        job = submission.new_jobs[0]
        claim = jobs.claim_job(session, job.id, worker="w", device="cpu", max_attempts=3)
        jobs.finish_job(session, claim, result_json, [("accuracy", "Accuracy.", png)], "cpu")
        session.expire_all()
        html = render_report(session.get(Question, submission.question.id))
    assert html.startswith("<!doctype html>")
    assert f"data:image/png;base64,{base64.b64encode(png).decode()}" in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>" not in html
    assert "Running averages &lt;b&gt;lose&lt;/b&gt; 0.05 accuracy." in html
    assert "<strong>Short answer.</strong>" in html  # the summary, rendered
    assert 'href="https://arxiv.org/abs/1502.03167"' in html
    assert 'src="http' not in html and "<link" not in html  # nothing fetched from outside


def test_a_schema_2_result_shows_the_verdict_and_key_figure_first_and_folds_the_rest(
        database, settings, png, result_json):
    from service.questions import submit_question

    verdict = "No: at batch 32 it did worse than batch norm."
    result_json.update(
        schema=2, answer=f"{verdict} At batch 32, it reached 0.41 against 0.47.",
        summary_markdown=(f"## A title\n\n**Answer.** {verdict}\n\n![Accuracy.](accuracy.png)"
                          "\n\n### Findings\n\n- At batch 32, it reached 0.41 against 0.47.\n\n"
                          "Reproduce: `bnlab run small_batch_statistics --preset smoke`\n"),
        verdict={"text": verdict, "findings": ["f"]},
        findings=[{"key": "f", "text": "At batch 32, it reached 0.41 against 0.47."}],
        reproduce="bnlab run small_batch_statistics --preset smoke", key_figure="accuracy")
    text = "With small batches, why not normalize with the running averages during training?"
    with database.session() as session:
        submission = submit_question(session, text, preset="smoke", settings=settings)
        job = submission.new_jobs[0]
        claim = jobs.claim_job(session, job.id, worker="w", device="cpu", max_attempts=3)
        jobs.finish_job(session, claim, result_json, [("accuracy", "Accuracy.", png)], "cpu")
        session.expire_all()
        html = render_report(session.get(Question, submission.question.id))
    answer_at, figure_at = html.index(f"<strong>{verdict}</strong>"), html.index("<figure>")
    details_at = html.index("<details><summary>How this was measured")
    assert answer_at < figure_at < details_at < html.index("<h4>Findings</h4>")
    assert html.count("<figure>") == 1 and "![" not in html and "**Answer.**" not in html
    assert ("Reproduce: <code>bnlab run small_batch_statistics --preset smoke</code>"
            in html)
