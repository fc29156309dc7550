"""`bnlab bot replay FILE.json` against a running server, and the bot's settings."""

from __future__ import annotations

import json
import threading

import pytest
from werkzeug.serving import make_server

from service.config import ConfigError, Settings

from .conftest import SECRET, SEED_QUESTION, forum_rows, post_payload, wait_until_settled


@pytest.fixture
def server(bot_app):
    httpd = make_server("127.0.0.1", 0, bot_app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_replay_posts_a_signed_payload(server, database, standin, instant, tmp_path, capsys):
    from service.cli import main

    path = tmp_path / "post.json"
    path.write_text(json.dumps(post_payload(SEED_QUESTION)))
    assert main(["bot", "replay", str(path), "--url", server, "--secret", SECRET]) == 0
    assert capsys.readouterr().out.startswith("202 ")
    [row] = wait_until_settled(database)
    assert row.state == "answered" and len(standin.created()) == 1

    assert main(["bot", "replay", str(path), "--url", server, "--secret", "wrong-secret!"]) == 1
    assert capsys.readouterr().out.startswith("401 ")
    assert len(forum_rows(database)) == 1


def test_replay_refuses_a_file_that_is_not_json(tmp_path, capsys):
    from service.cli import main

    path = tmp_path / "post.json"
    path.write_text("{not json")
    assert main(["bot", "replay", str(path), "--secret", SECRET]) == 2
    assert "is not JSON" in capsys.readouterr().err


BOT = {"BNLAB_DISCOURSE_URL": "https://forum.example.org",
       "BNLAB_DISCOURSE_API_KEY": "key", "BNLAB_DISCOURSE_WEBHOOK_SECRET": "twelve-chars",
       "BNLAB_DISCOURSE_CATEGORIES": "4, 7"}


def test_bot_settings_from_the_environment():
    settings = Settings.from_env(environ={**BOT, "BNLAB_DISCOURSE_MAX_POSTS_PER_TOPIC": "2"})
    assert settings.discourse_category_ids == {4, 7}
    assert settings.discourse_username == "bnlab" and settings.discourse_preset == "quick"
    assert settings.discourse_max_posts_per_topic == 2
    assert Settings.from_env(environ={}).discourse_url == ""  # the bot is off by default


@pytest.mark.parametrize("change, message", [
    ({"BNLAB_DISCOURSE_WEBHOOK_SECRET": "short"}, "at least 12 characters"),
    ({"BNLAB_DISCOURSE_API_KEY": ""}, "needs discourse_api_key"),
    ({"BNLAB_DISCOURSE_CATEGORIES": ""}, "at least one category"),
    ({"BNLAB_DISCOURSE_CATEGORIES": "4,general"}, "ids separated by commas"),
    ({"BNLAB_DISCOURSE_PRESET": "huge"}, "discourse_preset must be one of"),
    ({"BNLAB_DISCOURSE_URL": "forum.example.org"}, "http(s)"),
    ({"BNLAB_DISCOURSE_MAX_ANSWERS_PER_USER_DAY": "0"}, "at least 1"),
])
def test_unworkable_bot_settings_are_errors(change, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings.from_env(environ={**BOT, **change})
