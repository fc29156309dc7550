"""Datasets by name, generated locally and cached on disk; nothing is ever downloaded.

MNIST-1D (Greydanus 2020; Greydanus & Kobak 2024) is made by `mnist1d.data.make_dataset` from
its arguments; the cache file name is a hash of those arguments.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import ParamError


@dataclass(frozen=True)
class Dataset:
    name: str
    args: dict[str, Any]  # what generated it; goes into provenance
    x_train: torch.Tensor  # (N_train, F) float32
    y_train: torch.Tensor  # (N_train,) int64
    x_test: torch.Tensor  # (N_test, F)
    y_test: torch.Tensor  # (N_test,)
    n_classes: int

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    def to(self, device: torch.device) -> Dataset:
        return Dataset(self.name, self.args, self.x_train.to(device), self.y_train.to(device),
                       self.x_test.to(device), self.y_test.to(device), self.n_classes)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "n_train": len(self.y_train), "n_test": len(self.y_test),
                "n_features": self.n_features, "n_classes": self.n_classes, "args": self.args}


def data_dir() -> Path:
    """Where generated data is cached: $BNLAB_DATA_DIR, else ./data."""
    return Path(os.environ.get("BNLAB_DATA_DIR", "data"))


# Local workers are threads of one process: generation seeds NumPy's global generator, so two
# threads making data at once would draw from each other's state. One lock serialises making
# and writing; reading a finished file needs none.
_MAKE_LOCK = threading.Lock()


def _cached(name: str, args: dict[str, Any], make: Callable[[], dict[str, np.ndarray]]
            ) -> dict[str, np.ndarray]:
    key = hashlib.sha256(json.dumps([name, args], sort_keys=True).encode()).hexdigest()[:16]
    path = data_dir() / f"{name}-{key}.npz"
    if path.exists():
        return _read(path)
    with _MAKE_LOCK:
        if path.exists():  # another thread made it while this one waited
            return _read(path)
        arrays = make()
        path.parent.mkdir(parents=True, exist_ok=True)
        # A name unique to this write: other processes may be writing the same file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{path.stem}.", suffix=".tmp.npz")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, path)  # atomic: concurrent workers never read a half-written file
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return arrays


def _read(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


# Generation arguments a caller may change to make a shifted variant of MNIST-1D (other
# shear, noise or scale): the same classes, a different input distribution.
VARIANT_ARGS = ("shear_scale", "corr_noise_scale", "iid_noise_scale", "scale_coeff")


def split_sizes(num_samples: int, train_split: float = 0.8) -> tuple[int, int]:
    """(training, test) sample counts of MNIST-1D made with these arguments: make_dataset makes
    num_samples // 10 samples per class and cuts the shuffled set at int(n * train_split)."""
    n = (int(num_samples) // 10) * 10
    n_train = int(n * train_split)
    return n_train, n - n_train


def mnist1d(num_samples: int = 5000, train_split: float = 0.8, seed: int = 42,
            **variant: float) -> Dataset:
    """MNIST-1D with the package's default arguments (4,000 train / 1,000 test, 40 features),
    or a variant with some of VARIANT_ARGS changed."""
    from mnist1d.data import get_dataset_args, make_dataset

    unknown = sorted(set(variant) - set(VARIANT_ARGS))
    if unknown:
        raise ParamError("dataset", f"unknown MNIST-1D argument(s) {', '.join(unknown)}; "
                         f"valid: {', '.join(VARIANT_ARGS)}")
    args = get_dataset_args(as_dict=True)
    args.pop("url", None)  # never used: the data is generated, not downloaded
    args.update(num_samples=int(num_samples), train_split=float(train_split), seed=int(seed))
    args.update({k: float(v) for k, v in variant.items()})

    def make() -> dict[str, np.ndarray]:
        # make_dataset seeds NumPy's global generator; keep the caller's state intact.
        state = np.random.get_state()
        try:
            data = make_dataset(_ObjectView(args))
        finally:
            np.random.set_state(state)
        return {k: np.asarray(data[k]) for k in ("x", "y", "x_test", "y_test")}

    arrays = _cached("mnist1d", args, make)
    return Dataset(
        name="mnist1d", args=args,
        x_train=torch.tensor(arrays["x"], dtype=torch.float32),
        y_train=torch.tensor(arrays["y"], dtype=torch.int64),
        x_test=torch.tensor(arrays["x_test"], dtype=torch.float32),
        y_test=torch.tensor(arrays["y_test"], dtype=torch.int64),
        n_classes=10)


class _ObjectView:
    """mnist1d reads its arguments as attributes."""

    def __init__(self, d: dict[str, Any]):
        self.__dict__ = dict(d)


DATASETS: dict[str, Callable[..., Dataset]] = {
    "mnist1d": mnist1d,
}


def load(name: str, **kwargs: Any) -> Dataset:
    try:
        factory = DATASETS[name]
    except KeyError:
        raise ParamError("dataset", f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}"
                         ) from None
    return factory(**kwargs)
