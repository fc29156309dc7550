"""Fixtures shared by tests/service and tests/workers: the real PostgreSQL and Redis.

Each test session works in its own PostgreSQL schema and its own queue names, so sessions
running side by side never see each other's rows or jobs. A service that is not reachable makes
the tests that need it fail, never skip: CI starts PostgreSQL and Redis.

Set TEST_POSTGRES_URL or TEST_REDIS_URL to point the suite elsewhere.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import quote

import pytest

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# A Redis database of its own, so test queues and keys stay apart from a development setup.
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
REPO = Path(__file__).resolve().parent.parent
TABLES = ("forum_posts", "figures", "results", "asks", "questions", "jobs", "api_keys",
          "admin_users")


@pytest.fixture(scope="session")
def session_token() -> str:
    return f"t{os.getpid()}_{secrets.token_hex(3)}"


@pytest.fixture(scope="session")
def postgres_url(session_token):
    """A URL whose connections work in a fresh schema of the test database (dropped at end)."""
    import sqlalchemy as sa

    schema = f"bnlab_{session_token}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL} ({exc.orig}); the service "
                    "tests need it running", pytrace=False)
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options={quote(f'-csearch_path={schema}')}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def redis_url(session_token):
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is not reachable at {REDIS_URL} ({exc}); the service tests need "
                    "it running", pytrace=False)
    yield REDIS_URL
    for key in client.scan_iter(f"*{session_token}*"):
        client.delete(key)
    client.close()


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory):
    from service.db import Database

    database = Database(f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'bnlab.sqlite3'}")
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def postgresql_database(postgres_url):
    from service.db import Database

    database = Database(postgres_url)
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def database(request, backend):
    """A migrated, empty database of each backend (the test runs once per backend)."""
    import sqlalchemy as sa

    db = request.getfixturevalue(f"{backend}_database")
    with db.engine.begin() as connection:
        if backend == "postgresql":
            connection.execute(sa.text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        else:
            for table in TABLES:
                connection.execute(sa.text(f"DELETE FROM {table}"))
    return db


@pytest.fixture
def settings(request, backend, database, tmp_path, session_token):
    """Settings that match `database`: PostgreSQL goes with Redis and Celery, SQLite with the
    embedded local worker and in-memory rate limits, as in the two deployment shapes."""
    from service.config import Settings

    values = dict(instance=tmp_path / "instance",
                  database_url=database.url.render_as_string(hide_password=False),
                  gpu_queue=f"gpu-{session_token}", cpu_queue=f"cpu-{session_token}",
                  redis_url="", executor="local", progress_interval=0.0)
    if backend == "postgresql":
        values.update(redis_url=request.getfixturevalue("redis_url"), executor="celery")
    return Settings.from_env(environ={}, overrides=values)


@pytest.fixture
def forum_post() -> str:
    return (REPO / "examples" / "forum-post.txt").read_text(encoding="utf-8")


SEED_TYPES = ("gamma_beta_undo", "covariate_shift_generalization", "small_batch_statistics")


@pytest.fixture
def ready_seed_types() -> list[str]:
    """The seed post's types that have an experiment. The end-to-end tests run with these and
    assert on each; at least one must be ready, so they can never pass by running nothing."""
    from experiments import catalog

    ready = [t for t in SEED_TYPES if catalog.get(t).status == "ready"]
    assert ready, "none of the seed post's question types is ready"
    return ready
