"""The vectorised trainer: S seeds (and arms) of one configuration trained as one model.

Why batched: at MNIST-1D scale a training step is a few tiny matmuls, so a loop over seeds
spends its time in Python and kernel launches. Stacking the members along a leading axis
(experiments.layers) makes one step serve all of them. Each member keeps its own
initialisation (its seed) and its own data order (`data_order(seed, ...)`), so member m
reproduces a plain single-model run under seed m; tests/experiments/test_trainer.py checks it.

On CUDA the whole training step (forward, backward, optimizer) is captured once in a CUDA
graph and replayed, which removes the launch overhead that dominates small models; on the CPU
the same step runs eagerly or, in long runs, traced whole by torch.compile
(experiments.compile_policy). At this scale a step is mostly per-op overhead, so the step is
kept to few tensor ops: training batches are gathered for many steps at once, the parameters
live in one flat buffer (experiments.optim), batch norm and the loss have fused passes
(experiments.fused), and on the CPU, where reading a value costs nothing, the per-member
divergence mask is only applied once some member has diverged.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from . import norms
from .allocator import keep_freed_memory
from .compile_policy import should_compile
from .datasets import Dataset
from .errors import ParamError
from .fused import member_cross_entropy
from .models import member_parameters
from .optim import BatchedOptimizer, lr_factor
from .threads import ThreadTuner

log = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]
BatchTransform = Callable[[torch.Tensor], torch.Tensor]  # (M, B, F) -> (M, B, F)

DATA_ORDER_OFFSET = 1_000_003  # keeps data-order streams apart from initialisation streams
GATHER_FLOATS = 4_000_000  # training inputs gathered ahead at most (16 MB of float32)
PROGRESS_POINTS = 100  # progress reports per run, besides the evaluation points


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
    threads: int | None = None  # CPU intra-op threads; None: chosen by timing (threads.py)
    # CPU: the whole step through torch.compile; None decides by the run's length
    # (compile_policy.should_compile).
    compile: bool | None = None

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
    return member_cross_entropy(logits, targets)


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
        self._lr_factor = 1.0  # the schedule factor self.lr holds now
        owned = [(p, sl) for p, sl in member_parameters(self.model) if p.requires_grad]
        self.params = [p for p, _ in owned]
        self.optimizer = BatchedOptimizer(owned, self.lr, config.optimizer, config.momentum,
                                          config.weight_decay)
        self.active = torch.ones(self.members, dtype=torch.bool, device=device)
        self._all_active = True  # host copy of active.all(), kept by the eager CPU step
        self.loss_sum = torch.zeros(self.members, device=device)
        f = self.data.n_features
        self.use_graph = device.type == "cuda" and config.cuda_graph
        # Static inputs of the captured step; the eager paths read the gathered batches.
        self.x_batch = torch.zeros(self.members, config.batch_size, f, device=device)
        self.y_batch = torch.zeros(self.members, config.batch_size, dtype=torch.long,
                                   device=device)
        self._graph: torch.cuda.CUDAGraph | None = None
        self._graph_warmup = 0
        self.threads = ThreadTuner(config.threads) if device.type == "cpu" else None
        if device.type == "cpu":
            keep_freed_memory()  # no page faults from tensors freed and allocated every step
        # The CPU step: eager, or the whole step traced by torch.compile (`_step_traced`).
        self._cpu_step = self._step_eager
        if should_compile(config.compile, self.total, device):
            self._traced = torch.compile(self._step_traced, dynamic=False)
            self._cpu_step = self._step_compiled

    @property
    def compiled(self) -> bool:
        """Whether the CPU steps run through torch.compile (False after a fallback)."""
        return self._cpu_step == self._step_compiled

    # -- training steps -----------------------------------------------------------------
    def train_steps(self, start: int, stop: int) -> None:
        """Run training steps start..stop-1, reporting progress as they go."""
        per_gather = max(1, GATHER_FLOATS // max(1, self.x_batch.numel()))
        per_report = max(1, -(-self.total // PROGRESS_POINTS))
        t = start
        while t < stop:
            end = min(stop, t + per_gather, (t // per_report + 1) * per_report)
            xs, ys = self._gather(t, end)
            for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
                self._run_step(t + i, x, y)
            t = end
            if self.on_progress is not None and t < stop:
                self.on_progress(t / self.total, f"step {t}/{self.total}")

    def _gather(self, start: int, stop: int) -> tuple[tuple[torch.Tensor, ...], ...]:
        """The training batches of steps start..stop-1: one (M, B, F) and one (M, B) each."""
        idx = self.order[start:stop]  # (K, M, B)
        return self.data.x_train[idx].unbind(0), self.data.y_train[idx].unbind(0)

    def _run_step(self, t: int, x: torch.Tensor | None = None,
                  y: torch.Tensor | None = None) -> None:
        if x is None or y is None:
            (x,), (y,) = self._gather(t, t + 1)
        self._set_lr(t)
        if self.threads is not None:
            self.threads.before_step()
            self._cpu_step(x, y)
            self.threads.after_step()
            return
        if not self.use_graph:
            self._step(x, y)
            return
        self.x_batch.copy_(x)
        self.y_batch.copy_(y)
        if self._graph is not None:
            self._graph.replay()
        elif self._graph_warmup < 3:
            # Warm-up steps run eagerly on a side stream, as graph capture requires.
            self._graph_warmup += 1
            stream = torch.cuda.Stream(self.device)
            stream.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(stream):
                self._step(self.x_batch, self.y_batch)
            torch.cuda.current_stream(self.device).wait_stream(stream)
        else:
            self._graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self._graph):
                self._step(self.x_batch, self.y_batch)
            self._graph.replay()  # capture records the step without running it

    def _set_lr(self, t: int) -> None:
        factor = lr_factor(self.config.schedule, t, self.total, self.config.warmup_steps)
        if factor != self._lr_factor:  # a constant schedule never rewrites it
            torch.mul(self.base_lr, factor, out=self.lr)
            self._lr_factor = factor

    def _forward_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.optimizer.zero_grad()
        return self._model_loss(self._transform(x), y)  # (M,)

    def _transform(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.batch_transform is None else self.batch_transform(x)

    def _model_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return member_loss(self.model(x), y)

    def _step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """One training step without host synchronisation, so it can be captured in a CUDA
        graph: the divergence mask is applied to every member at every step."""
        loss = self._forward_loss(x, y)
        self.active.logical_and_(torch.isfinite(loss))
        torch.where(self.active, loss, 0.0).sum().backward()
        self.optimizer.step(self.active)
        self.loss_sum.add_(torch.where(self.active, loss.detach(), 0.0))

    def _step_eager(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """The same step for the CPU, where reading one number is free: members cannot
        touch each other's gradients, so the total loss tells whether any member diverged,
        and the mask costs nothing until one has. A diverged member's loss sum turns NaN,
        which `_record` reports as NaN anyway."""
        loss = self._forward_loss(x, y)
        total = loss.sum()
        total.backward()
        if not self._all_active or not math.isfinite(total.item()):
            self.active.logical_and_(torch.isfinite(loss.detach()))
            self._all_active = bool(self.active.all())
        self.optimizer.step(None if self._all_active else self.active)
        self.loss_sum.add_(loss.detach())

    def _step_compiled(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """The graph-safe step traced whole, forward, backward and update, into one compiled
        graph: one call a step instead of a forward graph, a backward graph, the autograd
        engine and the optimizer's own ops, and the update fuses into the backward's loops
        (`bnlab bench engine --compile`). The batch transform stays eager, so its random
        draws are the eager step's."""
        try:
            with torch._dynamo.config.patch(trace_autograd_ops=True):
                self._traced(self._transform(x), y)
        except Exception as exc:  # noqa: BLE001 - no compiler, unsupported op: run eagerly
            # Compiling fails before the step has run, so nothing is half updated.
            log.warning("torch.compile failed (%s); training eagerly", exc)
            self._cpu_step = self._step_eager
            self._all_active = bool(self.active.all())
            self._step_eager(x, y)

    def _step_traced(self, x: torch.Tensor, y: torch.Tensor) -> None:
        # As `_step`, with the gradients as values (autograd.grad) rather than .grad fields,
        # which the optimizer applies parameter by parameter (BatchedOptimizer.step_grads).
        loss = self._model_loss(x, y)
        grads = torch.autograd.grad(loss.sum(), self.params, materialize_grads=True)
        with torch.no_grad():
            self.active.logical_and_(torch.isfinite(loss))
            self.optimizer.step_grads(grads, self.active)
            self.loss_sum.add_(torch.where(self.active, loss, 0.0))

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
        last = 0
        try:
            for point in points:
                self.train_steps(last, point)
                steps_since, last = point - last, point
                self._record(point, steps_since, metrics, probes)
                if self.on_progress is not None:
                    self.on_progress(point / self.total, f"step {point}/{self.total}")
        finally:
            if self.threads is not None:
                self.threads.restore()
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
