"""service/db.py: on SQLite a read session takes no write lock, an ordinary one does; on
PostgreSQL a statement interrupted by a signal handler's exception gives back that exception
and leaves the pool sound."""

from __future__ import annotations

import signal
import sqlite3

import pytest
from sqlalchemy import func, select, text

from service.db import Database
from service.models import Job


@pytest.fixture
def sqlite_db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    database.upgrade()
    yield database
    database.dispose()


def try_to_write(path: str) -> bool:
    """Whether another connection can write right now (waiting at most 0.2 s)."""
    other = sqlite3.connect(path, timeout=0.2, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE alembic_version SET version_num = version_num")
        other.execute("COMMIT")
        return True
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return False
    finally:
        other.close()


def test_a_read_session_in_a_transaction_lets_others_write(sqlite_db):
    path = sqlite_db.url.database
    with sqlite_db.read_session() as reading:
        assert reading.scalar(select(func.count()).select_from(Job)) == 0  # transaction open
        assert try_to_write(path)
        assert reading.scalar(select(func.count()).select_from(Job)) == 0
    with sqlite_db.session() as writing:
        writing.scalar(select(func.count()).select_from(Job))
        assert not try_to_write(path)  # an ordinary session holds the write lock
    assert try_to_write(path)


def test_probes_take_no_write_lock(sqlite_db):
    with sqlite_db.session() as writing:
        writing.scalar(select(func.count()).select_from(Job))
        # While a writer holds the lock, the readiness checks still answer at once.
        sqlite_db.ping()
        assert sqlite_db.revision() == sqlite_db.head()


def test_get_requests_read_and_posts_write(settings):
    from dataclasses import fields

    from flask import g

    from service.app import create_app

    app = create_app({f.name: getattr(settings, f.name) for f in fields(settings)})
    database = app.extensions["bnlab.db"]
    for method, engine in (("GET", database._read_engine), ("POST", database.engine)):
        with app.test_request_context("/", method=method):
            from service.db import get_session

            assert get_session().get_bind() is engine
            assert g.db_session is get_session()
    database.dispose()


class Interrupted(Exception):
    """What a signal handler raises mid-statement (as Celery's soft time limit does)."""


@pytest.mark.services
def test_an_exception_raised_mid_statement_comes_out_as_itself(postgresql_database):
    def interrupt(*_):
        raise Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)  # lands while the server sleeps
        with pytest.raises(Interrupted), postgresql_database.session() as session:
            session.execute(text("SELECT pg_sleep(2)"))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    # The connection left mid-command was dropped, not handed out again; the others are kept.
    for _ in range(3):
        with postgresql_database.session() as session:
            assert session.execute(text("SELECT 1")).scalar() == 1
