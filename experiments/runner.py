"""The arms x seeds pattern every question type shares: members of one batched model split
into measured cells, diverged seeds scored, cells turned into result rows.

A batched model holds `groups x seeds` members, group-major (all seeds of the first arm, then
all seeds of the next), the same seeds in every group so comparisons pair by seed. A `Cell` is
one group: its sweep labels (arm, batch size, ...), one array per metric over its seeds, and
which seeds diverged.

Divergence is a result, not a gap: a diverged seed stays in its cell and in `n_seeds`. Its
accuracies are scored at chance (1 / number of classes): a network whose loss went to infinity
is no better than guessing, and counting only the survivors would let an unstable arm "win".
Metrics that have no meaningful value for a dead network (losses, norms) stay missing for that
seed, and the row says on how many seeds they rest (`<metric>_n`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .findings import Side
from .stats import mean_ci

SCORED_AS_CHANCE = "chance accuracy"


def is_accuracy(metric: str) -> bool:
    return metric.endswith("_acc") or metric == "acc"


@dataclass
class Cell:
    labels: dict[str, Any]  # the sweep coordinates: {"arm": "batchnorm", "batch_size": 4}
    values: dict[str, np.ndarray]  # metric -> (seeds,)
    diverged: np.ndarray  # (seeds,) bool
    extra: dict[str, Any] = field(default_factory=dict)  # row fields that are not metrics

    @property
    def n_seeds(self) -> int:
        return len(self.diverged)

    def side(self, label: str, metric: str) -> Side:
        return Side(label, self.values[metric], self.diverged)

    def mean(self, metric: str) -> float:
        return mean_ci(self.values[metric]).mean

    def row(self) -> dict[str, Any]:
        """The result row: labels, extra fields, metric means with CIs, n_seeds, diverged."""
        out: dict[str, Any] = {**self.labels, **self.extra}
        for name, v in self.values.items():
            est = mean_ci(v)
            out[name] = est.mean
            out[f"{name}_ci95"] = est.ci95
            if est.n != self.n_seeds:
                out[f"{name}_n"] = est.n
        out["n_seeds"] = self.n_seeds
        out["diverged"] = float(np.mean(self.diverged)) if self.n_seeds else 0.0
        return out


def group_slices(groups: int, n_seeds: int) -> list[slice]:
    """Member slices of each group in a group-major batched model."""
    return [slice(g * n_seeds, (g + 1) * n_seeds) for g in range(groups)]


def score_diverged(values: Mapping[str, np.ndarray], diverged: np.ndarray,
                   chance: float) -> dict[str, np.ndarray]:
    """Per-seed metrics with each diverged seed's accuracies set to chance (module doc)."""
    out = {}
    dead = np.asarray(diverged, bool)
    for name, v in values.items():
        v = np.asarray(v, dtype=float).copy()
        if is_accuracy(name):
            v[dead] = chance
        else:
            v[dead] = np.nan
        out[name] = v
    return out


def split_cells(labels: Sequence[Mapping[str, Any]], metrics: Mapping[str, np.ndarray],
                diverged: np.ndarray, n_seeds: int, chance: float) -> list[Cell]:
    """Cells of a group-major batched run: `metrics` are (M,) arrays over all members."""
    cells = []
    for lab, sl in zip(labels, group_slices(len(labels), n_seeds), strict=True):
        dead = np.asarray(diverged[sl], bool)
        cells.append(Cell(dict(lab), score_diverged({k: v[sl] for k, v in metrics.items()},
                                                    dead, chance), dead))
    return cells


class Cells:
    """Cells looked up by their labels: `cells.get(arm="batchnorm", batch_size=4)`."""

    def __init__(self, cells: Iterable[Cell] = ()):
        self.items: list[Cell] = list(cells)

    def add(self, cells: Iterable[Cell]) -> None:
        self.items.extend(cells)

    def find(self, **labels) -> Cell | None:
        for c in self.items:
            if all(c.labels.get(k) == v for k, v in labels.items()):
                return c
        return None

    def get(self, **labels) -> Cell:
        cell = self.find(**labels)
        if cell is None:
            raise KeyError(f"no cell with {labels}")
        return cell

    def where(self, **labels) -> list[Cell]:
        return [c for c in self.items if all(c.labels.get(k) == v for k, v in labels.items())]

    def has(self, **labels) -> bool:
        return self.find(**labels) is not None

    def rows(self) -> list[dict[str, Any]]:
        return [c.row() for c in self.items]

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


# The global generator is one per process, and a process may train on several threads (an
# embedded worker's job runs in a process of its own, but callers in-process need not): two runs
# drawing from it at once would take each other's numbers, so they hold it one at a time.
_GLOBAL_RNG_LOCK = threading.Lock()


@contextmanager
def seeded_global_rng(device: torch.device, seed: int = 0) -> Iterator[None]:
    """For experiments whose randomness (dropout masks, injected noise, input shifts) draws
    from torch's global generator: seeded for a reproducible run, and the caller's random
    state restored afterwards."""
    devices = [device] if device.type == "cuda" else []
    with _GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=devices):
        torch.random.default_generator.manual_seed(seed)
        if devices:
            torch.cuda.manual_seed(seed)  # the current device, which a bare "cuda" means
        yield
