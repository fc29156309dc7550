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
