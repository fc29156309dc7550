"""PostgreSQL and Redis must be there: without them the service suite fails, it never skips."""

from __future__ import annotations

import redis
import sqlalchemy as sa


def test_postgresql_answers(postgres_url):
    engine = sa.create_engine(postgres_url)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SHOW search_path")).scalar().startswith("bnlab_")
    engine.dispose()


def test_redis_answers(redis_url):
    assert redis.Redis.from_url(redis_url).ping()
