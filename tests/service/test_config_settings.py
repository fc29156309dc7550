"""service/config.py: safe defaults, environment overrides, unknown or unworkable settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.config import ConfigError, Settings


def test_defaults_are_the_embedded_shape(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env(environ={})
    assert settings.instance == tmp_path / "instance"
    assert settings.database_url == f"sqlite:///{tmp_path / 'instance' / 'bnlab.sqlite3'}"
    assert settings.redis_url == "" and not settings.uses_celery
    assert (settings.gpu_queue, settings.cpu_queue) == ("gpu", "cpu")
    assert settings.visibility_timeout > settings.hard_time_limit > settings.soft_time_limit


def test_environment_overrides_are_typed():
    settings = Settings.from_env(environ={
        "BNLAB_DATABASE_URL": "postgresql://db/bnlab", "BNLAB_REDIS_URL": "redis://r:6379/0",
        "BNLAB_SOFT_TIME_LIMIT": "60", "BNLAB_HARD_TIME_LIMIT": "90",
        "BNLAB_PROGRESS_INTERVAL": "1.5", "BNLAB_INSTANCE": "/srv/bnlab", "PATH": "/bin"})
    assert settings.database_url == "postgresql://db/bnlab"
    assert settings.uses_celery
    assert (settings.soft_time_limit, settings.hard_time_limit) == (60, 90)
    assert settings.visibility_timeout == 390  # hard limit + 300 unless set
    assert settings.progress_interval == 1.5
    assert settings.instance == Path("/srv/bnlab")


def test_overrides_beat_the_environment():
    settings = Settings.from_env(environ={"BNLAB_RATE_LIMIT": "5/60"},
                                 overrides={"rate_limit": "7/10"})
    assert settings.rate_limit_pair == (7, 10)


@pytest.mark.parametrize("environ, overrides, message", [
    ({"BNLAB_REDIS_ULR": "redis://x"}, None, "unknown setting BNLAB_REDIS_ULR"),
    ({}, {"colour": "blue"}, "unknown setting 'colour'"),
    ({"BNLAB_MAX_ATTEMPTS": "three"}, None, "must be a number"),
    ({"BNLAB_SOFT_TIME_LIMIT": "100", "BNLAB_HARD_TIME_LIMIT": "100"}, None, "soft_time_limit"),
    ({"BNLAB_SOFT_TIME_LIMIT": "50", "BNLAB_HARD_TIME_LIMIT": "100",
      "BNLAB_VISIBILITY_TIMEOUT": "100"}, None,
     "visibility_timeout"),
    ({"BNLAB_EXECUTOR": "celery"}, None, "needs redis_url"),
    ({"BNLAB_EXECUTOR": "threads"}, None, "executor must be one of"),
    ({"BNLAB_DEVICE": "tpu"}, None, "device must be one of"),
    ({"BNLAB_RATE_LIMIT": "many"}, None, "COUNT/SECONDS"),
    ({"BNLAB_GPU_QUEUE": "jobs", "BNLAB_CPU_QUEUE": "jobs"}, None, "two different names"),
    ({"BNLAB_MAX_ATTEMPTS": "0"}, None, "at least 1"),
])
def test_bad_settings_are_errors(environ, overrides, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(environ=environ, overrides=overrides)


def test_the_app_refuses_an_unknown_setting(monkeypatch):
    from service.app import create_app

    monkeypatch.setenv("BNLAB_DATABSE_URL", "sqlite://")
    with pytest.raises(ConfigError, match="BNLAB_DATABSE_URL"):
        create_app()


def test_child_environment_round_trips():
    settings = Settings.from_env(environ={}, overrides={"redis_url": "redis://r/1",
                                                        "soft_time_limit": 5,
                                                        "hard_time_limit": 9})
    assert Settings.from_env(environ=settings.child_environment()) == settings
