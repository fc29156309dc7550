"""Engines, sessions and migrations for PostgreSQL (psycopg 3) and embedded SQLite.

`Database(url)` owns one engine and hands out sessions; `init_app(app)` gives a Flask app one
session per app context. The schema is made only by Alembic (`Database.upgrade()`, `bnlab db
upgrade`, `alembic upgrade head`), never by `create_all` outside tests.
"""

from __future__ import annotations

import os
import weakref
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

# Seconds a SQLite writer waits for another one before giving up.
SQLITE_BUSY_TIMEOUT_S = 30
# Seconds to open a PostgreSQL connection, and to wait for a free one in the pool.
CONNECT_TIMEOUT_S = 3
POOL_TIMEOUT_S = 5


def normalise_url(url: str | URL) -> URL:
    """postgres:// and postgresql:// mean psycopg 3; a SQLite file's folder is created."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    return parsed


def make_engine(url: str | URL) -> Engine:
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S,
                                                     "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    # A short connect timeout and a bounded wait for a pooled connection: with the database
    # down a request fails in seconds (503), not when the web server's worker timeout hits.
    engine = create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=10,
                           pool_timeout=POOL_TIMEOUT_S,
                           connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
    event.listen(engine, "handle_error", _drop_a_connection_left_mid_command)
    return engine


def _drop_a_connection_left_mid_command(context) -> None:
    # An exception raised by Python code while psycopg waits for the server (a signal
    # handler's: Celery's soft time limit) leaves the connection in the middle of a command.
    # Rolling it back then fails ("another command is already in progress"), and that error
    # would replace the one that stopped the statement. Taken as a disconnect, the connection
    # is dropped instead of rolled back, and the original exception reaches the caller. Only
    # this connection: the rest of the pool is sound.
    from psycopg.pq import TransactionStatus

    if context.sqlalchemy_exception is not None or context.connection is None:
        return  # the server or the driver answered: an ordinary database error
    if context.connection.invalidated:
        return
    raw = context.connection.connection.driver_connection
    if raw is not None and raw.info.transaction_status == TransactionStatus.ACTIVE:
        context.is_disconnect = True
        context.invalidate_pool_on_disconnect = False


def _sqlite_on_connect(dbapi_connection, _record) -> None:
    # Let SQLAlchemy, not the sqlite3 module, issue BEGIN, so that savepoints work.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers (API polls) run while a worker writes progress.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


READ_ONLY = "bnlab_read_only"  # execution option of the engine behind read sessions


def _sqlite_on_begin(connection) -> None:
    # IMMEDIATE takes the write lock up front. A deferred transaction that reads and then
    # writes fails at once ("database is locked") when another writer committed in between;
    # with IMMEDIATE it waits its turn under the busy timeout instead. A read-only session
    # never writes, so it begins deferred: under WAL it then holds no lock at all, and a long
    # page or a poll never keeps a worker's progress write waiting.
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


# Every Database of this process, so a forked child can drop the parent's pooled connections.
_databases: weakref.WeakSet[Database] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for database in list(_databases):
        database.engine.dispose(close=False)


os.register_at_fork(after_in_child=_after_fork_in_child)


class Database:
    def __init__(self, url: str | URL):
        self.url = normalise_url(url)
        self.engine = make_engine(self.url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_engine = self.engine.execution_options(**{READ_ONLY: True})
        self._read_sessions = sessionmaker(self._read_engine, expire_on_commit=False)
        self._head: str | None = None
        _databases.add(self)

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    def session(self) -> Session:
        return self._sessions()

    def read_session(self) -> Session:
        """A session for reading only: on SQLite its transactions take no write lock (on
        PostgreSQL it is an ordinary session). Writing through it is a mistake; SQLite may
        refuse the write with "database is locked" when another writer got there first."""
        return self._read_sessions()

    @contextmanager
    def transaction(self):
        """A session whose work is committed at the end of the block (rolled back on error)."""
        with self._sessions() as session, session.begin():
            yield session

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to `revision` with the Alembic revisions in migrations/."""
        from alembic import command

        with self.engine.begin() as connection:
            config = alembic_config(self.url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    def revision(self) -> str | None:
        """The schema's current Alembic revision (None before the first upgrade)."""
        from alembic.runtime.migration import MigrationContext

        with self._read_engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def head(self) -> str:
        """The newest revision in migrations/ (read once: it changes only with the code)."""
        if self._head is None:
            from alembic.script import ScriptDirectory

            self._head = ScriptDirectory.from_config(alembic_config(self.url)).get_current_head()
        return self._head

    def ping(self) -> None:
        with self._read_engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def ensure_schema(self) -> None:
        """Embedded SQLite is brought up to date on start; a shared database must be migrated
        on purpose (`bnlab db upgrade`, the compose `migrate` service), so it is only checked."""
        if self.backend == "sqlite":
            self.upgrade()
            return
        current, head = self.revision(), self.head()
        if current != head:
            raise RuntimeError(f"the database schema is at {current or 'nothing'}, not {head}: "
                               "run `bnlab db upgrade`")

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str | URL):
    """Alembic's configuration built in code, so it works from any folder and an installed
    package; alembic.ini at the repository root points at the same migrations/ folder."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url",
                           normalise_url(url).render_as_string(hide_password=False)
                           .replace("%", "%%"))
    return config


# Flask integration: one Database per app, one session per app context.

EXTENSION = "bnlab.db"


def init_app(app) -> Database:
    database = Database(app.config["BNLAB"].database_url)
    app.extensions[EXTENSION] = database
    app.teardown_appcontext(_close_session)
    return database


def get_db() -> Database:
    from flask import current_app

    return current_app.extensions[EXTENSION]


def get_session() -> Session:
    """The app context's session, opened on first use and closed at teardown: a read session
    for GET and HEAD requests, which change nothing, an ordinary one otherwise."""
    from flask import g, has_request_context, request

    if "db_session" not in g:
        reading = has_request_context() and request.method in ("GET", "HEAD")
        g.db_session = get_db().read_session() if reading else get_db().session()
    return g.db_session


def _close_session(_exc) -> None:
    from flask import g

    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def is_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database could not be reached or dropped the connection (an
    infrastructure failure worth retrying), as opposed to a bad statement or bad data."""
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError
                      | sa_exc.DisconnectionError | sa_exc.TimeoutError)
