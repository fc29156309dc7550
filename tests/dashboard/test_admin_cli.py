"""`bnlab admin create NAME`: the password from stdin or a prompt, stored as a slow hash."""

from __future__ import annotations

import io

import pytest

from service import config
from service.cli import main


@pytest.fixture
def embedded(tmp_path, monkeypatch):
    settings = config.Settings.from_env(environ={}, overrides={"instance": tmp_path / "inst"})
    monkeypatch.setattr(config, "_current", settings)
    return settings


def stored_users(settings):
    from service.db import Database
    from service.models import AdminUser

    database = Database(settings.database_url)
    with database.session() as session:
        users = {u.username: u.password_hash for u in session.query(AdminUser)}
    database.dispose()
    return users


def test_create_from_stdin_stores_only_a_scrypt_hash(embedded, monkeypatch, capsys):
    from service.admins import authenticate
    from service.db import Database

    monkeypatch.setattr("sys.stdin", io.StringIO("a good long password\n"))
    assert main(["admin", "create", "alice", "--password-stdin"]) == 0
    assert "created admin user alice" in capsys.readouterr().out
    stored = stored_users(embedded)["alice"]
    assert stored.startswith("scrypt:") and "a good long password" not in stored
    database = Database(embedded.database_url)
    with database.session() as session:
        assert authenticate(session, "alice", "a good long password").username == "alice"
        assert authenticate(session, "alice", "a good long passwort") is None
        assert authenticate(session, "bob", "a good long password") is None
    database.dispose()


def test_create_from_the_prompt_asks_twice(embedded, monkeypatch, capsys):
    answers = iter(["typed password one", "typed password two"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["admin", "create", "carol"]) == 2
    assert "the two passwords differ" in capsys.readouterr().err
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "the same password")
    assert main(["admin", "create", "carol"]) == 0
    assert "carol" in stored_users(embedded)


@pytest.mark.parametrize(("name", "password", "message"), [
    ("dave", "short", "a password is 10 to 1024 characters"),
    ("bad name!", "a good long password", "a user name is 1-100 letters"),
])
def test_bad_input_is_one_line_and_exit_2(embedded, monkeypatch, capsys, name, password,
                                          message):
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    assert main(["admin", "create", name, "--password-stdin"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_taken_name_is_refused(embedded, monkeypatch, capsys):
    for expected in (0, 2):
        monkeypatch.setattr("sys.stdin", io.StringIO("a good long password\n"))
        assert main(["admin", "create", "erin", "--password-stdin"]) == expected
    assert "exists already" in capsys.readouterr().err
