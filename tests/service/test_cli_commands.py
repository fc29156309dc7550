"""The service commands: keys, worker, and `bnlab ask` end to end in the embedded shape."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from service import config
from service.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def embedded(tmp_path, monkeypatch):
    """The default shape: SQLite in an instance folder, no Redis."""
    settings = config.Settings.from_env(environ={}, overrides={"instance": tmp_path / "inst"})
    monkeypatch.setattr(config, "_current", settings)
    monkeypatch.setenv("BNLAB_DATA_DIR", str(REPO / "data"))
    return settings


@pytest.fixture
def one_torch_thread():
    """The smoke models are tiny: one thread runs them several times faster than two threads
    sharing a busy 2-core machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_keys_create_list_revoke(embedded, capsys):
    assert main(["keys", "create", "forum-bot"]) == 0
    key = capsys.readouterr().out.strip()
    assert re.fullmatch(r"bnlab_[A-Za-z0-9_-]{43}", key)
    assert main(["keys", "create", "forum-bot"]) == 2
    assert "exists already" in capsys.readouterr().err
    assert main(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert "forum-bot" in listing and "active" in listing and key not in listing
    assert main(["keys", "revoke", "forum-bot"]) == 0
    assert main(["keys", "list"]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["keys", "revoke", "nobody"]) == 2


def test_the_revoked_key_is_refused_by_the_api(embedded, capsys):
    from service.app import create_app

    main(["keys", "create", "k"])
    key = capsys.readouterr().out.strip()
    client = create_app({"instance": embedded.instance}).test_client()
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/jobs/1", headers=headers).status_code == 404
    main(["keys", "revoke", "k"])
    assert client.get("/api/v1/jobs/1", headers=headers).status_code == 401


def test_worker_options(embedded):
    from service.cli.worker import celery_argv

    def args(**kw):
        return argparse.Namespace(**{"queues": None, "concurrency": None, "hostname": None,
                                     "loglevel": "info", **kw})

    both = celery_argv(args(), embedded)
    assert both[:3] == ["worker", "-Q", "gpu,cpu"]
    assert both[both.index("--concurrency") + 1] == "1"
    assert both[both.index("--max-tasks-per-child") + 1] == "1"  # a fresh process per GPU job
    cpu = celery_argv(args(queues="cpu", concurrency=4), embedded)
    assert "--max-tasks-per-child" not in cpu and cpu[cpu.index("--concurrency") + 1] == "4"
    assert main(["worker"]) == 2  # no Redis configured


def test_ask_needs_text(embedded, capsys):
    assert main(["ask"]) == 2
    assert main(["ask", "text", "--file", "x"]) == 2
    assert main(["ask", "--file", "/no/such/file"]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.slow
def test_ask_answers_the_forum_post_in_the_embedded_shape(embedded, tmp_path, capsys,
                                                          ready_seed_types, one_torch_thread):
    """No Redis, no worker to start: the jobs run on the local worker, in child processes."""
    out = tmp_path / "report"
    code = main(["ask", "--file", str(REPO / "examples" / "forum-post.txt"), "--preset",
                 "smoke", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    html = (out / "report.html").read_text()
    from experiments import catalog

    for type_id in ready_seed_types:
        assert catalog.get(type_id).title in printed
    assert html.count('src="data:image/png;base64,') >= len(ready_seed_types)
    assert (embedded.instance / "bnlab.sqlite3").exists()

    # Asked again, the answers come from the stored results at once.
    code = main(["ask", "--file", str(REPO / "examples" / "forum-post.txt"), "--preset",
                 "smoke", "--out", str(tmp_path / "again")])
    assert code == 0
    assert (tmp_path / "again" / "report.html").read_text().count("base64,") == \
        html.count("base64,")
