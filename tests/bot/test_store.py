"""service/bot/store.py: one row per post version, one step at a time per row."""

from __future__ import annotations

from service.bot import store

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
