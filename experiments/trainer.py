"""The vectorised trainer: S seeds (and arms) of one configuration trained as one model.

Why batched: at MNIST-1D scale a training step is a few tiny matmuls, so a loop over seeds
spends its time in Python and kernel launches. Stacking the members along a leading axis
(experiments.layers) makes one step serve all of them. Each member keeps its own
initialisation (its seed) and its own data order (`data_order(seed, ...)`), so member m
reproduces a plain single-model run under seed m; tests/experiments/test_trainer.py checks it.

On CUDA the whole training step (forward, backward, optimizer) is captured once in a CUDA
graph and replayed, which removes the launch overhead that dominates small models; elsewhere
the same step runs eagerly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from . import norms
from .datasets import Dataset
from .errors import ParamError
from .models import member_parameters
from .optim import BatchedOptimizer, lr_factor

ProgressFn = Callable[[float, str], None]
BatchTransform = Callable[[torch.Tensor], torch.Tensor]  # (M, B, F) -> (M, B, F)

DATA_ORDER_OFFSET = 1_000_003  # keeps data-order streams apart from initialisation streams


@dataclass(frozen=True)
class TrainConfig:
    batch_size: int = 64
    epochs: int = 10
    steps: int | None = None  # exact step count; overrides epochs
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "constant"
    warmup_steps: int = 0
    n_evals: int = 10  # evaluation points after step 0
    eval_train_mode: bool = False  # also test in train mode with batches of batch_size
    train_eval_samples: int = 1000  # training points used to measure training accuracy
    cuda_graph: bool = True

    def total_steps(self, n_train: int) -> int:
        if self.steps is not None:
            return int(self.steps)
        return int(self.epochs) * (n_train // self.batch_size)


@dataclass
class ProbeState:
    """What a probe sees at an evaluation point."""

    model: torch.nn.Module
    step: int
    data: Dataset
    config: TrainConfig
    batch: tuple[torch.Tensor, torch.Tensor]  # the last training batch: (M, B, F), (M, B)
    lr: torch.Tensor  # (M,) current learning rates
    active: torch.Tensor  # (M,) members still training


class Probe(Protocol):
    name: str

    def __call__(self, state: ProbeState) -> dict[str, np.ndarray]: ...


@dataclass
class History:
    steps: list[int]  # evaluation points
    metrics: dict[str, np.ndarray]  # name -> (n_points, M); NaN once a member diverged
    probes: dict[str, list[np.ndarray]]  # name -> one array per evaluation point
    diverged: np.ndarray  # (M,) bool
    seconds: float
    total_steps: int
    extra: dict[str, Any] = field(default_factory=dict)

    def final(self, name: str) -> np.ndarray:
        """(M,) the metric at the last evaluation point."""
        return self.metrics[name][-1]


def data_order(seed: int, n_train: int, batch_size: int, steps: int) -> torch.Tensor:
    """(steps, batch_size) sample indices: a fresh permutation every epoch, last batch dropped."""
    if batch_size > n_train:
        raise ParamError("batch_size", f"{batch_size} is larger than the {n_train} training "
                         "samples")
    g = torch.Generator().manual_seed(DATA_ORDER_OFFSET + int(seed))
    per_epoch = n_train // batch_size
    epochs = -(-steps // per_epoch)
    perms = [torch.randperm(n_train, generator=g)[: per_epoch * batch_size] for _ in range(epochs)]
    return torch.cat(perms).view(-1, batch_size)[:steps]


def member_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy per member: (M, N, K), (M, N) -> (M,)."""
    m, n, k = logits.shape
    return F.cross_entropy(logits.reshape(m * n, k), targets.reshape(m * n),
                           reduction="none").view(m, n).mean(1)


def member_accuracy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(M,) accuracy; a member whose logits are not finite scores its wrong answers as such."""
    ok = (logits.argmax(-1) == targets) & torch.isfinite(logits).all(-1)
    return ok.float().mean(1)


class Trainer:
    def __init__(self, model: torch.nn.Module, data: Dataset, config: TrainConfig,
                 data_seeds: Sequence[int], device: torch.device,
                 lrs: Sequence[float] | None = None, probes: Sequence[Probe] = (),
                 batch_transform: BatchTransform | None = None,
                 on_progress: ProgressFn | None = None):
        self.members = len(data_seeds)
        self.model = model.to(device)
        self.data = data.to(device)
        self.config, self.device = config, device
        self.probes, self.on_progress = list(probes), on_progress
        self.batch_transform = batch_transform
        n_train = len(self.data.y_train)
        self.total = config.total_steps(n_train)
        if self.total < 1:
            raise ParamError("steps", "training must take at least one step")
        self.order = torch.stack(
            [data_order(s, n_train, config.batch_size, self.total) for s in data_seeds],
            dim=1).to(device)  # (T, M, B)
        base = torch.tensor(lrs if lrs is not None else [config.lr] * self.members,
                            dtype=torch.float32)
        if base.shape != (self.members,):
            raise ValueError("need one learning rate per member")
        self.base_lr = base.to(device)
        self.lr = self.base_lr.clone()
        owned = [(p, sl) for p, sl in member_parameters(self.model) if p.requires_grad]
        self.params = [p for p, _ in owned]
        self.optimizer = BatchedOptimizer(owned, self.lr, config.optimizer, config.momentum,
                                          config.weight_decay)
        self.active = torch.ones(self.members, dtype=torch.bool, device=device)
        self.loss_sum = torch.zeros(self.members, device=device)
        f = self.data.n_features
        self.x_batch = torch.zeros(self.members, config.batch_size, f, device=device)
        self.y_batch = torch.zeros(self.members, config.batch_size, dtype=torch.long,
                                   device=device)
        self._graph: torch.cuda.CUDAGraph | None = None

    # -- one training step --------------------------------------------------------------
    def _step(self) -> None:
        for p in self.params:
            p.grad = None  # fresh gradients (graph capture allocates them in its own pool)
        x = self.x_batch if self.batch_transform is None else self.batch_transform(self.x_batch)
        loss = member_loss(self.model(x), self.y_batch)  # (M,)
        self.active.logical_and_(torch.isfinite(loss))
        torch.where(self.active, loss, 0.0).sum().backward()
        # Eagerly on the CPU, reading the mask costs nothing, and masking is only needed
        # once a member has diverged; a captured graph must always mask.
        all_active = self.device.type == "cpu" and bool(self.active.all())
        self.optimizer.step(None if all_active else self.active)
        self.loss_sum.add_(torch.where(self.active, loss.detach(), 0.0))

    def _load_batch(self, t: int) -> None:
        idx = self.order[t]  # (M, B)
        self.x_batch.copy_(self.data.x_train[idx])
        self.y_batch.copy_(self.data.y_train[idx])
        self.lr.copy_(self.base_lr).mul_(
            lr_factor(self.config.schedule, t, self.total, self.config.warmup_steps))

    def _run_step(self, t: int) -> None:
        self._load_batch(t)
        use_graph = self.device.type == "cuda" and self.config.cuda_graph
        if not use_graph:
            self._step()
        elif self._graph is not None:
            self._graph.replay()
        elif t < 3:
            # Warm-up steps run eagerly on a side stream, as graph capture requires.
            stream = torch.cuda.Stream(self.device)
            stream.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(stream):
                self._step()
            torch.cuda.current_stream(self.device).wait_stream(stream)
        else:
            self._graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self._graph):
                self._step()
            self._graph.replay()  # capture records the step without running it

    # -- evaluation ---------------------------------------------------------------------
    def evaluate(self) -> dict[str, torch.Tensor]:
        return self.evaluate_model(self.model)

    @torch.no_grad()
    def evaluate_model(self, model: torch.nn.Module) -> dict[str, torch.Tensor]:
        """Test loss and accuracy in eval mode (and train mode if configured), training
        accuracy on a fixed subset; (M,) tensors. Leaves the model in train mode."""
        d, m = self.data, self.members
        model.eval()
        x_test = d.x_test.expand(m, -1, -1)
        y_test = d.y_test.expand(m, -1)
        logits = model(x_test)
        out = {"test_loss": member_loss(logits, y_test),
               "test_acc": member_accuracy(logits, y_test)}
        k = min(self.config.train_eval_samples, len(d.y_train))
        out["train_acc"] = member_accuracy(model(d.x_train[:k].expand(m, -1, -1)),
                                           d.y_train[:k].expand(m, -1))
        if self.config.eval_train_mode:
            b = self.config.batch_size
            n = (len(d.y_test) // b) * b
            with norms.train_mode_eval(model, b):
                out["train_mode_test_acc"] = member_accuracy(model(x_test[:, :n]),
                                                             y_test[:, :n])
        model.train()
        return out

    def run(self) -> History:
        cfg = self.config
        points = sorted({0, *np.linspace(0, self.total, cfg.n_evals + 1).round().astype(int)})
        metrics: dict[str, list[np.ndarray]] = {}
        probes: dict[str, list[np.ndarray]] = {}
        t0 = time.perf_counter()
        self.model.train()
        last, steps_since = 0, 0
        for point in points:
            for t in range(last, point):
                self._run_step(t)
            steps_since, last = point - last, point
            self._record(point, steps_since, metrics, probes)
            if self.on_progress is not None:
                self.on_progress(point / self.total, f"step {point}/{self.total}")
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        diverged = ~self.active.cpu().numpy()
        return History(steps=points, metrics={k: np.stack(v) for k, v in metrics.items()},
                       probes=probes, diverged=diverged, seconds=time.perf_counter() - t0,
                       total_steps=self.total)

    def _record(self, step: int, steps_since: int, metrics: dict, probes: dict) -> None:
        values = self.evaluate()
        mean_loss = self.loss_sum / max(steps_since, 1)
        values["train_loss"] = mean_loss if step > 0 else values["test_loss"] * np.nan
        self.loss_sum.zero_()
        dead = ~self.active.cpu().numpy()
        for name, v in values.items():
            arr = v.float().cpu().numpy().copy()
            arr[dead] = np.nan
            metrics.setdefault(name, []).append(arr)
        if self.probes:
            last = max(step - 1, 0)
            idx = self.order[last]
            state = ProbeState(self.model, step, self.data, self.config,
                               (self.data.x_train[idx], self.data.y_train[idx]), self.lr,
                               self.active)
            for probe in self.probes:
                for key, arr in probe(state).items():
                    probes.setdefault(key, []).append(np.asarray(arr))
            self.model.train()


def train(model: torch.nn.Module, data: Dataset, config: TrainConfig,
          data_seeds: Sequence[int], device: torch.device | str = "cpu", **kwargs) -> History:
    """Train all members of `model`; see Trainer for the keyword arguments."""
    return Trainer(model, data, config, data_seeds, torch.device(device), **kwargs).run()
