"""App, client and key fixtures for the API tests, on each database backend (tests/conftest.py).

The app's dispatcher is replaced by one that records what it is given, so these tests see
exactly which jobs would be queued without running experiments; the workers suite runs them.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import fields

import pytest


class RecordingDispatcher:
    def __init__(self):
        self.enqueued: list[int] = []
        self.stopped: list[int] = []

    def enqueue(self, job) -> None:
        self.enqueued.append(job.id)

    def stop(self, job) -> None:
        self.stopped.append(job.id)


@pytest.fixture
def app(settings):
    from service.api.questions import DISPATCHER
    from service.app import create_app

    app = create_app({f.name: getattr(settings, f.name) for f in fields(settings)})
    app.extensions[DISPATCHER] = RecordingDispatcher()
    yield app
    app.extensions["bnlab.db"].dispose()


@pytest.fixture
def dispatcher(app) -> RecordingDispatcher:
    from service.api.questions import DISPATCHER

    return app.extensions[DISPATCHER]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def api_key(database) -> str:
    from service.auth import create_key

    with database.session() as session:
        return create_key(session, "tester")[1]


@pytest.fixture
def auth(api_key) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


def tiny_png(colour: tuple[int, int, int] = (0, 114, 178)) -> bytes:
    """A valid 2x2 RGB PNG, made by hand so the test needs no image library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    raw = b"".join(b"\x00" + bytes(colour) * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def sample_result(type_id: str = "small_batch_statistics") -> dict:
    return {
        "schema": 1, "question_type": type_id, "title": "A title", "answer": "An answer.",
        "summary_markdown": "## A title\n\n**Short answer.** An answer.", "params": {"seeds": 2},
        "preset": "smoke",
        "rows": [{"arm": "batchnorm", "batch_size": 4, "test_acc": 0.5,
                  "test_acc_ci95": [0.4, 0.6], "n_seeds": 2},
                 {"arm": "ewa_forward", "batch_size": 4, "test_acc": 0.25,
                  "test_acc_ci95": [0.2, 0.3], "n_seeds": 2, "note": None}],
        "figures": [{"name": "accuracy", "file": "accuracy.png", "caption": "Accuracy."}],
        "references": [{"key": "ioffe2015", "title": "Batch Normalization", "year": 2015,
                        "url": "https://arxiv.org/abs/1502.03167"}],
        "provenance": {"code_version": "test", "device": "cpu", "seeds": [0, 1]},
    }


@pytest.fixture
def png() -> bytes:
    return tiny_png()


@pytest.fixture
def result_json() -> dict:
    return sample_result()


@pytest.fixture
def finished_job(database):
    """A succeeded job with a stored result and one figure, made through the job functions."""
    from service import jobs

    def make(params: dict | None = None) -> int:
        with database.session() as session:
            job, _ = jobs.find_or_create_job(session, "small_batch_statistics",
                                             params or {"seeds": 2}, "smoke", fresh=False,
                                             queue="cpu")
            session.commit()
            claim = jobs.claim_job(session, job.id, worker="test", device="cpu",
                                   max_attempts=3)
            png = tiny_png()
            assert jobs.finish_job(session, claim, sample_result(),
                                   [("accuracy", "Accuracy.", png)], device="cpu")
            return job.id

    return make
