"""The schema comes from the Alembic revisions, and they match the models, on both backends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from service.db import Database, alembic_config
from service.models import Base

REPO = Path(__file__).resolve().parents[2]


def test_migrated_schema_matches_the_models(database):
    assert database.revision() == database.head()
    with database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_downgrade_and_upgrade_again(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    database.upgrade()
    command.downgrade(alembic_config(database.url), "base")
    assert sa.inspect(database.engine).get_table_names() == ["alembic_version"]
    database.upgrade()
    assert "jobs" in sa.inspect(database.engine).get_table_names()
    database.dispose()


def run_alembic_from_ini(url: str) -> subprocess.CompletedProcess:
    """`alembic upgrade head` as the compose `migrate` service runs it, URL from the env."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BNLAB_")}
    env["BNLAB_DATABASE_URL"] = url
    return subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)


def test_alembic_ini_upgrades_the_configured_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'compose.sqlite3'}"
    done = run_alembic_from_ini(url)
    assert done.returncode == 0, done.stderr
    database = Database(url)
    assert database.revision() == database.head()
    database.dispose()


def test_bnlab_db_upgrade(tmp_path, monkeypatch, capsys):
    from service import config
    from service.cli import main

    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setattr(config, "_current", config.Settings.from_env(
        environ={}, overrides={"database_url": url, "instance": tmp_path}))
    assert main(["db", "current"]) == 1  # nothing applied yet
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "current"]) == 0
    assert "(head " in capsys.readouterr().out
