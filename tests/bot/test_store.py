"""service/bot/store.py: one row per post version, one step at a time per row."""

from __future__ import annotations

import threading
import time

from service.bot import store
from service.models import ForumPost

from .conftest import SEED_QUESTION, post_payload


def test_one_row_per_post_version_and_one_lease_at_a_time(database):
    post = post_payload(SEED_QUESTION)["post"]
    with database.session() as session:
        row, created = store.record_post(session, post, "topic")
        again, created_again = store.record_post(session, post, "topic")
        assert created and not created_again and again.id == row.id

        leased = store.take_lease(session, row.id)
        assert leased is not None and store.take_lease(session, row.id) is None
        assert 590 < store.lease_left(session, row.id) <= 601  # the holder's LEASE, 10 min
        store.release(session, row.id)
        leased = store.take_lease(session, row.id)
        assert leased is not None

        store.answered(session, leased, kind="answer", post_id=9, post_number=2)
        assert store.take_lease(session, row.id) is None
        assert store.lease_left(session, row.id) is None  # finished: nothing to come back to
        assert store.is_bot_post(session, post["topic_id"], 2)
        assert not store.is_bot_post(session, post["topic_id"], 1)


def _post(post_id: int, topic_id: int, user_id: int) -> dict:
    return {"id": post_id, "version": 1, "topic_id": topic_id, "post_number": post_id,
            "user_id": user_id, "username": f"user{user_id}", "raw": SEED_QUESTION}


def test_a_guard_counts_posted_and_claimed_replies(database):
    with database.session() as session:
        rows = [store.record_post(session, _post(i, 77, 100 + i), "topic")[0] for i in (1, 2, 3)]
        store.answered(session, rows[0], kind="answer", post_id=901, post_number=5)
        assert store.claim_reply(session, rows[1], 2, 10) is None  # one left in the topic
        assert "limit in this topic" in store.claim_reply(session, rows[2], 2, 10)
        # A claim given back (the post ended up ignored) frees its reply again.
        store.ignored(session, rows[1], "off topic: no question about normalization")
        assert store.claim_reply(session, rows[2], 2, 10) is None
        # The user guard counts answers, not help replies, and a row never counts itself.
        own = store.record_post(session, _post(4, 78, 103), "topic")[0]
        assert "day's answers" in store.claim_reply(session, own, 5, 1)
        store.answered(session, rows[2], kind="help", post_id=902, post_number=6)
        assert store.claim_reply(session, own, 5, 1) is None
        assert store.claim_reply(session, own, 5, 1) is None


def test_two_posts_taken_at_once_cannot_both_have_the_last_reply(database, monkeypatch):
    """Two workers claim the topic's last reply at the same moment; the claim is slowed down
    between counting and committing, so without the lock both would count one reply left."""
    with database.session() as session:
        first, second, third = (store.record_post(session, _post(i, 88, 200 + i), "topic")[0]
                                for i in (1, 2, 3))
        store.answered(session, first, kind="answer", post_id=903, post_number=7)
        ids = (second.id, third.id)
    real_touch = store.touch

    def slow_touch(session, row, **values):
        time.sleep(0.5)
        real_touch(session, row, **values)

    monkeypatch.setattr(store, "touch", slow_touch)
    start, results = threading.Barrier(2), {}

    def claim(row_id: int) -> None:
        start.wait()  # before any read: on SQLite a read already takes the write lock
        with database.session() as session:
            row = session.get(ForumPost, row_id)
            results[row_id] = store.claim_reply(session, row, 2, 10)

    threads = [threading.Thread(target=claim, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(r is None for r in results.values()) == [False, True], results
