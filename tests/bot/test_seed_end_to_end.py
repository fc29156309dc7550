"""The seed forum post end to end at `smoke`: webhook -> router -> three real experiments on
the embedded local worker -> placeholder, uploads, one edit with images and answers, against
the Discourse stand-in. Runs the three smoke experiments (tens of seconds on a small CPU)."""

from __future__ import annotations

import re

import pytest

from service.forum import MAX_CHARS
from tests.conftest import SEED_TYPES

from .conftest import deliver, post_payload, wait_until_settled

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("backend", ["sqlite"])
def test_seed_post_is_answered_with_images_and_findings(client, database, standin, forum_post,
                                                        ready_seed_types):
    response = deliver(client, post_payload(forum_post))
    assert response.status_code == 202
    [row] = wait_until_settled(database, timeout=600)
    assert row.state == "answered", row.error

    # Placeholder first, then the uploads, then exactly one edit, all from the bot.
    [reply] = standin.created()
    assert standin.requests[0] == ("POST", "/posts.json")
    uploads = [r for r in standin.requests[1:-1]]
    assert uploads and set(uploads) == {("POST", "/uploads.json")}
    assert standin.requests[-1] == ("PUT", f"/posts/{reply['id']}.json")
    assert len(standin.edits) == 1 and reply["version"] == 2

    raw = reply["raw"]
    assert len(raw) < MAX_CHARS
    quotes = re.findall(r'\[quote="dana, post:1, topic:42"\]\n(.+)\n\[/quote\]', raw)
    assert len(quotes) == 3
    images = re.findall(r"!\[[^\]|]+\|(\d+)x(\d+)\]\((upload://\w+\.png)\)", raw)
    assert {url for _, _, url in images} == {u["short_url"] for u in standin.uploads}
    assert 3 <= len(images) <= 6
    assert raw.count('[details="Measured table"]') == len(ready_seed_types)
    assert raw.count('[details="Why"]') == len(ready_seed_types)
    for type_id in ready_seed_types:
        assert f"Reproduce: `bnlab run {type_id} --preset smoke" in raw
    assert "](https://arxiv.org/" in raw  # references as links
    assert "$" not in raw and re.search(r"(?<![\w])@[A-Za-z0-9_]", raw) is None

    # The numbers in the post are the stored results' own.
    from service.models import Question

    with database.session() as session:
        question = session.get(Question, row.question_id)
        assert [ask.type for ask in question.asks] == list(SEED_TYPES)
        for ask in question.asks:
            assert ask.job.state == "succeeded"
            assert ask.job.result.data["answer"][:80] in raw
