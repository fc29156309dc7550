"""Datasets are generated locally, cached by their arguments, and never downloaded."""

from __future__ import annotations

import pytest
import torch

from experiments import datasets
from experiments.errors import ParamError


def test_mnist1d_defaults_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BNLAB_DATA_DIR", str(tmp_path))
    d = datasets.load("mnist1d", num_samples=600)
    assert (len(d.y_train), len(d.y_test), d.n_features, d.n_classes) == (480, 120, 40, 10)
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.int64
    assert "url" not in d.args
    files = list(tmp_path.glob("mnist1d-*.npz"))
    assert len(files) == 1
    again = datasets.load("mnist1d", num_samples=600)
    assert torch.equal(again.x_train, d.x_train)
    datasets.load("mnist1d", num_samples=700)
    assert len(list(tmp_path.glob("mnist1d-*.npz"))) == 2  # other arguments, other file


def test_generation_does_not_touch_the_network(tmp_path, monkeypatch):
    import socket

    monkeypatch.setenv("BNLAB_DATA_DIR", str(tmp_path))

    def refuse(*args, **kwargs):
        raise AssertionError("network access during dataset generation")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    assert len(datasets.load("mnist1d", num_samples=500, seed=7).y_train) == 400


def test_unknown_dataset():
    with pytest.raises(ParamError, match="valid: mnist1d"):
        datasets.load("imagenet")


def test_threads_making_data_at_once_get_what_one_alone_would(tmp_path, monkeypatch):
    """Local workers are threads of one process: they may ask for the same file, or for
    variants, at the same moment. Each gets the data a lone caller gets, and no file is lost."""
    import threading

    asks = [dict(num_samples=400), dict(num_samples=400),
            dict(num_samples=400, shear_scale=1.5), dict(num_samples=400, iid_noise_scale=0.3)]
    monkeypatch.setenv("BNLAB_DATA_DIR", str(tmp_path / "alone"))
    alone = [datasets.load("mnist1d", **a).x_train for a in asks]

    monkeypatch.setenv("BNLAB_DATA_DIR", str(tmp_path / "together"))
    start, got, errors = threading.Barrier(len(asks)), [None] * len(asks), []

    def ask(i):
        try:
            start.wait()
            got[i] = datasets.load("mnist1d", **asks[i]).x_train
        except Exception as exc:  # reported below; a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(asks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(torch.equal(a, b) for a, b in zip(alone, got, strict=True))
    together = tmp_path / "together"
    assert len(list(together.glob("mnist1d-*.npz"))) == 3
    assert not list(together.glob("*.tmp.npz"))
