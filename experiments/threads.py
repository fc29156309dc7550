"""Intra-op threads for CPU training, chosen by measurement.

More threads help a step only when its tensors are big enough to split, and they hurt badly
when the cores are busy with other work: the threads wait for each other at every op, and on a
shared 2-core machine a step with 2 threads was measured 18x slower than with 1. Which case
applies changes with the model, the batch size and the machine's load, so the trainer times
real training steps (nothing is run twice) at each candidate count, keeps the faster one, and
checks again every `recheck_s` seconds. Results do not depend on the choice: the batched ops
split work across outputs, not across sums (tests/experiments/test_threads.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

# How many intra-op threads this process may give one training run now, where something
# shares the cores out between runs (the embedded worker runs a post's asks side by side on
# threads of one process): None elsewhere, where a run keeps the count it started with.
_budget: Callable[[], int] | None = None


def set_budget(source: Callable[[], int] | None) -> None:
    """Register (or, with None, remove) the process's source of the per-run thread budget."""
    global _budget
    _budget = source


def budget() -> int | None:
    """The per-run thread budget now, at least 1, or None when nothing shares the cores."""
    source = _budget
    return None if source is None else max(1, int(source()))


class ThreadTuner:
    """Call `before_step()` and `after_step()` around each training step; `restore()` at the
    end puts back the thread count found at the start.

    `threads`: a fixed count, or None to choose between 1 and the count found at the start,
    or, where a budget is set (`set_budget`), between 1 and the budget as it changes: a run
    left alone after the others finished takes the freed cores at its next step.
    """

    def __init__(self, threads: int | None = None, probe_steps: int = 2,
                 recheck_s: float = 30.0, skip_steps: int = 1):
        self.initial = torch.get_num_threads()
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self.fixed = threads is not None
        self._budget = budget()
        top = self._budget if self._budget is not None else self.initial
        self.candidates = [threads] if threads is not None else sorted({1, top})
        self.probe_steps, self.recheck_s = probe_steps, recheck_s
        self.current = self.candidates[-1]
        self._started = False
        self._skip = skip_steps  # the first steps pay one-time costs; they are not timed
        self._plan: list[int] = []  # thread counts for the next probe steps
        self._times: dict[int, list[float]] = {}
        self._probing: int | None = None
        self._t0 = 0.0
        self._chosen_at: float | None = None  # None: never measured yet

    def before_step(self) -> None:
        if not self._started:
            self._started = True
            torch.set_num_threads(self.current)
        if not self.fixed and self._budget is not None:
            self._follow_budget()
        if len(self.candidates) < 2:
            return
        if self._skip > 0:
            self._skip -= 1
            return
        now = time.perf_counter()
        if not self._plan and (self._chosen_at is None or now - self._chosen_at > self.recheck_s):
            # Alternate the candidates so a change of load hits both alike.
            self._plan = [c for _ in range(self.probe_steps) for c in self.candidates]
            self._times = {c: [] for c in self.candidates}
        if self._plan:
            self._probing = self._plan.pop(0)
            torch.set_num_threads(self._probing)
            self._t0 = time.perf_counter()

    def after_step(self) -> None:
        if self._probing is None:
            return
        self._times[self._probing].append(time.perf_counter() - self._t0)
        self._probing = None
        if not self._plan:
            # The fastest step of each candidate: the least disturbed by other work.
            self.current = min(self.candidates, key=lambda c: min(self._times[c]))
            torch.set_num_threads(self.current)
            self._chosen_at = time.perf_counter()

    def _follow_budget(self) -> None:
        now = budget()
        if now is None or now == self._budget:
            return
        # The share changed (a run started or finished): choose again among the new counts.
        self._budget = now
        self.candidates = sorted({1, now})
        self._plan, self._probing, self._chosen_at = [], None, None
        self.current = now
        torch.set_num_threads(self.current)

    def restore(self) -> None:
        if self._started:
            torch.set_num_threads(self.initial)
            self._started = False
