"""service/forum.py: the forum Markdown, for result JSON v1 and v2."""

from __future__ import annotations

import re
from types import SimpleNamespace

from service.forum import (
    MAX_CHARS,
    Image,
    Origin,
    defuse,
    measured_table,
    render_answer,
    render_apology,
    render_help,
)
from tests.service.conftest import sample_result

ORIGIN = Origin("dana", 1, 42)
IMAGES = [Image("Accuracy | by batch [size]", "upload://abc.png", 690, 420),
          Image("Curves.", "upload://def.png", 690, 300),
          Image("Third.", "upload://ghi.png", 100, 100)]


def question(result: dict | None, *, error: str | None = None, excerpt: str = "Why not?",
             not_understood=()):
    job = SimpleNamespace(id=1, state="succeeded" if result else "failed", error=error,
                          result=SimpleNamespace(data=result) if result else None)
    ask = SimpleNamespace(type="small_batch_statistics", excerpt=excerpt, job=job, job_id=1,
                          note=None, params={"batch_sizes": [8]})
    return SimpleNamespace(asks=[ask], preset="quick", not_understood=list(not_understood))


def v2_result() -> dict:
    result = sample_result()
    result.update(schema=2, verdict={"text": "No: at batch 4 the running averages lost.",
                                     "findings": ["ewa_vs_bn_small"]},
                  findings=[{"key": "ewa_vs_bn_small", "text": "Running averages did worse.",
                             "metric": "test_acc", "a": "running averages", "b": "batch norm",
                             "mean_a": 0.25, "mean_b": 0.5, "diff": -0.25,
                             "diff_ci95": [-0.3, -0.2], "n": 5, "direction": -1,
                             "importance": 0.9},
                            {"key": "minor", "text": "Not shown.", "importance": 0.1}],
                  reproduce="bnlab run small_batch_statistics --preset quick --set seeds=5")
    return result


def test_v1_result_renders_answer_images_table_why_references_reproduce():
    raw = render_answer(question(sample_result()), ORIGIN, {1: IMAGES})
    assert raw.startswith('[quote="dana, post:1, topic:42"]\nWhy not?\n[/quote]')
    assert "### A title" in raw and "An answer." in raw
    assert "![Accuracy by batch size|690x420](upload://abc.png)" in raw
    assert "(upload://def.png)" in raw and "upload://ghi.png" not in raw  # two per question
    assert "[details=\"Measured table\"]\n| arm | test_acc | seeds |" in raw
    assert "| batchnorm | 0.500 [0.400, 0.600] | 2 |" in raw
    assert '[details="Why"]' not in raw  # the sample summary is only its short answer
    assert "References: [Batch Normalization (2015)](https://arxiv.org/abs/1502.03167)" in raw
    assert "Reproduce: `bnlab run small_batch_statistics --preset smoke --set batch_sizes=8`" \
        in raw


def test_v2_result_renders_the_verdict_and_its_findings():
    raw = render_answer(question(v2_result()), ORIGIN, {1: IMAGES[:1]})
    assert "**No: at batch 4 the running averages lost.**" in raw
    assert ("- Running averages did worse. (test_acc: -0.250, 95% CI -0.300 to -0.200, "
            "n = 5)") in raw
    assert "Not shown." not in raw  # only the findings the verdict names
    assert "Reproduce: `bnlab run small_batch_statistics --preset quick --set seeds=5`" in raw


def test_why_is_the_write_up_less_title_and_short_answer():
    result = sample_result()
    result["summary_markdown"] = ("## A title\n\n**Short answer.** An answer.\n\n### Why\n\n"
                                  "Because the statistics are inside the gradient.")
    raw = render_answer(question(result), ORIGIN, {})
    why = raw.split('[details="Why"]\n', 1)[1].split("[/details]", 1)[0]
    assert why == "### Why\n\nBecause the statistics are inside the gradient.\n"


def test_a_failed_job_and_unplaced_text_are_said_plainly():
    raw = render_answer(question(None, error="time limit: too slow",
                                 not_understood=[{"excerpt": "And GANs?"}]), ORIGIN, {})
    assert "The experiment for this question failed." in raw
    assert '[details="What went wrong"]\ntime limit: too slow\n[/details]' in raw
    assert "Not answered (I could not place it): “And GANs?”" in raw


def test_a_long_post_keeps_only_the_mechanism_and_caveats_of_each_write_up():
    result = sample_result()
    result["summary_markdown"] = ("## A title\n\n### What was measured\n\n" + "Setup. " * 2000
                                  + "\n\n### Evidence\n\n- " + "Numbers. " * 2000
                                  + "\n\n### Why\n\nThe mechanism.\n\n### Limits\n\nSmall.")
    raw = render_answer(question(result), ORIGIN, {})
    assert len(raw) < 2000
    why = raw.split('[details="Why"]\n', 1)[1].split("[/details]", 1)[0]
    assert why == "### Why\n\nThe mechanism.\n\n### Limits\n\nSmall.\n"


def test_a_huge_result_still_fits_in_one_post():
    result = sample_result()
    result["summary_markdown"] = "## A title\n\n" + ("Long explanation. " * 4000)
    result["rows"] = result["rows"] * 500
    raw = render_answer(question(result, excerpt="x " * 5000), ORIGIN, {1: IMAGES})
    assert len(raw) < MAX_CHARS
    assert "(988 more rows in the job's data.csv)" in raw
    assert raw.count("[details=") == raw.count("[/details]")


def test_no_mentions_and_no_math_markup_go_out():
    text = defuse("cc @sam and @bnlab; mail a@b.org; $\\gamma$ and \\(x^2\\) and $$y$$")
    assert re.search(r"(?<![\w])@[A-Za-z0-9_]", text) is None
    assert "a@b.org" in text and "$" not in text and "\\(" not in text
    assert "\\gamma" in text and "x^2" in text


def test_the_apology_folds_the_reason():
    raw = render_apology("could not queue the job")
    assert raw.startswith("Sorry, I could not measure")
    assert raw.endswith('[details="What went wrong"]\ncould not queue the job\n[/details]')


def test_the_help_reply_lists_what_bnlab_can_run():
    from experiments import catalog

    raw = render_help([{"excerpt": "GANs?", "suggestions": ["norm_comparison"]}],
                      list(catalog.types().values()))
    ready = [qt.title for qt in catalog.types().values() if qt.status == "ready"]
    assert ready and all(f"- {title}" in raw for title in ready)
    assert "Closest to your post: `norm_comparison`." in raw
    assert 20 <= len(raw) < 2000


def test_the_table_prefers_the_metrics_the_findings_compare():
    rows = [{"arm": "a", "loss": 1.0, "loss_ci95": [0.9, 1.1], "gap": 0.1,
             "gap_ci95": [0.0, 0.2], "test_acc": 0.5, "test_acc_ci95": [0.4, 0.6],
             "other": 2.0, "other_ci95": [1.0, 3.0], "n_seeds": 3}]
    head = measured_table(rows, preferred=["gap"]).split("\n")[0]
    assert head == "| arm | loss | gap | test_acc | seeds |"


def test_the_table_shows_the_axes_that_vary():
    rows = [{"arm": arm, "noise": level, "batch_size": 32, "gap": 0.1 * i + level,
             "test_acc": 0.5, "test_acc_ci95": [0.4, 0.6], "n_seeds": 3}
            for i, (arm, level) in enumerate([("bn", 1.0), ("bn", 3.0), ("none", 1.0),
                                              ("none", 3.0)])]
    table = measured_table(rows).split("\n")
    assert table[0] == "| arm | noise | test_acc | seeds |"  # gap is a measurement
    assert table[2:4] == ["| bn | 1 | 0.500 [0.400, 0.600] | 3 |",
                          "| bn | 3 | 0.500 [0.400, 0.600] | 3 |"]
