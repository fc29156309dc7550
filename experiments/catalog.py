"""The registry of question types: ids, plain-words questions, parameter schemas, presets, run().

Adding a question type is one module in `experiments/questions/` that defines `QUESTION`, plus
its id in `_READY` below. Types without an experiment yet are listed as planned so that the
router, the API and the CLI all know the whole catalog (architecture.md, Question types).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .errors import NotImplementedQuestion, UnknownQuestionType
from .params import Schema
from .result import ProgressFn, Result, RunContext
from .threads import budget as threads_budget


@dataclass(frozen=True)
class QuestionType:
    id: str
    title: str
    question: str  # the question in plain words, as a learner would ask it
    schema: Schema | None = None  # None while planned
    experiment: Callable[[RunContext], Result] | None = None

    @property
    def status(self) -> str:
        return "ready" if self.experiment is not None else "planned"

    def resolve(self, preset: str = "quick", overrides: dict[str, Any] | None = None) -> dict:
        if self.schema is None:
            raise NotImplementedQuestion(f"{self.id} is planned; no experiment yet")
        return self.schema.resolve(preset, overrides)

    def run(self, params: dict[str, Any], preset: str, out_dir: Path | str,
            device: str | torch.device = "auto", on_progress: ProgressFn | None = None
            ) -> Result:
        """Run on already-resolved params; writes figures and result.json into out_dir."""
        if self.experiment is None:
            raise NotImplementedQuestion(f"{self.id} is planned; no experiment yet")
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        ctx = RunContext(params=params, preset=preset, out_dir=out,
                         device=pick_device(device), on_progress=on_progress)
        with cpu_threads(ctx.device):
            result = self.experiment(ctx)
        result.write(out)
        return result

    def run_preset(self, preset: str = "quick", out_dir: Path | str = "out",
                   overrides: dict[str, Any] | None = None, device: str = "auto",
                   on_progress: ProgressFn | None = None) -> Result:
        return self.run(self.resolve(preset, overrides), preset, out_dir, device, on_progress)

    def to_json(self) -> dict:
        out = {"id": self.id, "title": self.title, "question": self.question,
               "status": self.status}
        if self.schema is not None:
            out.update(self.schema.to_json())
        return out


@contextmanager
def cpu_threads(device: torch.device, threads: int = 1) -> Iterator[None]:
    """One intra-op thread while an experiment trains on the CPU. Its tensors are small, so
    more threads add synchronisation, not speed: on a busy 2-core machine two threads made a
    step several times slower than one, and parallel workers each get a core this way.
    Where the process shares its cores out between runs (experiments.threads.budget), a run
    starts with its share instead, and its trainers choose between 1 and the share by timing."""
    if device.type != "cpu":
        yield
        return
    saved = torch.get_num_threads()
    share = threads_budget()
    torch.set_num_threads(threads if share is None else share)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def pick_device(device: str | torch.device) -> torch.device:
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        from .errors import ParamError

        raise ParamError("device", "cuda was asked for but no CUDA device is available")
    if device not in ("cpu", "cuda"):
        from .errors import ParamError

        raise ParamError("device", f"unknown device {device!r}; valid: auto, cpu, cuda")
    return torch.device(device)


# Question types with an experiment: module name in experiments.questions == id.
_READY: tuple[str, ...] = (
    "small_batch_statistics",
    "gamma_beta_undo",
    "covariate_shift_generalization",
    "activation_order",
    "learning_rate",
    "deep_gradients",
    "train_eval_gap",
    "dropout_interaction",
    "weight_decay",
    "bias_redundancy",
    "norm_comparison",
)

# The whole catalog in the order architecture.md lists it: id -> (title, question in plain words).
_CATALOG = {
    "gamma_beta_undo": (
        "Why doesn't backprop undo batch norm through gamma and beta?",
        "If gamma and beta are trained too, why wouldn't gradient descent just learn to cancel "
        "the normalization, so the distributions change as much as without batch norm?"),
    "covariate_shift_generalization": (
        "Could a shifting feature distribution help generalization?",
        "Couldn't a shift in the distribution of features during training help the network "
        "generalize, like training on both black and coloured cats?"),
    "small_batch_statistics": (
        "Small batches: why not normalize with the running averages during training too?",
        "With small batches the batch mean and variance are noisy; why not use the "
        "exponentially weighted averages in training, as at test time?"),
    "activation_order": (
        "Batch norm before or after the activation?",
        "Should batch norm go before the nonlinearity (on Wx+b) or after it?"),
    "learning_rate": (
        "Does batch norm allow higher learning rates?",
        "Is it true that batch norm lets you train with much larger learning rates?"),
    "deep_gradients": (
        "Does batch norm fix vanishing and exploding gradients in deep networks?",
        "Does batch norm keep gradients well behaved at initialization in very deep nets?"),
    "train_eval_gap": (
        "Why is my model much worse in eval mode than in train mode?",
        "Why does accuracy drop when I switch a batch-norm network to eval mode?"),
    "dropout_interaction": (
        "Is it a problem to use dropout together with batch norm?",
        "Why does combining dropout and batch norm sometimes hurt test accuracy?"),
    "weight_decay": (
        "What does weight decay do to weights that feed a batch norm layer?",
        "If batch norm makes a layer scale-invariant, why does weight decay still matter?"),
    "bias_redundancy": (
        "Why drop the bias of the layer before batch norm?",
        "Is the bias of a linear or conv layer before batch norm useless?"),
    "norm_comparison": (
        "How do batch, layer and group norm compare?",
        "When should I use layer norm or group norm instead of batch norm?"),
}


def _load() -> dict[str, QuestionType]:
    registry: dict[str, QuestionType] = {}
    for type_id, (title, question) in _CATALOG.items():
        if type_id in _READY:
            module = importlib.import_module(f"{__package__}.questions.{type_id}")
            registry[type_id] = module.QUESTION
        else:
            registry[type_id] = QuestionType(type_id, title, question)
    return registry


_REGISTRY: dict[str, QuestionType] | None = None


def types() -> dict[str, QuestionType]:
    """All question types by id, in catalog order (imports the ready modules on first use)."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = _load()
    return _REGISTRY


def ids() -> list[str]:
    return list(_CATALOG)


def get(type_id: str) -> QuestionType:
    try:
        return types()[type_id]
    except KeyError:
        raise UnknownQuestionType(type_id, ids()) from None


def catalog_entry(type_id: str) -> tuple[str, str]:
    """(title, question) of a catalog id, for the question modules to reuse."""
    return _CATALOG[type_id]
