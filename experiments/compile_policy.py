"""When a CPU run trains through torch.compile (TrainConfig.compile, Trainer)."""

from __future__ import annotations

import os
import shutil
import threading

import torch

# torch.compile traces the whole CPU step (forward, backward, update) into one graph and cuts
# its per-op overhead: `bnlab bench engine` ran it 9.5x, 6.0x and 5.5x the per-seed loop
# at batch 8, 64 and 128 (eager: 3.7x, 3.2x, 2.8x). In whole runs of 3,000 steps it saved
# 1.2 ms a step for 8 plain members at batch 64, 2 ms for 28 members in four norm arms at
# batch 4, and 0.5 ms for a 3-layer CNN. Compiling costs 25-33 s per model shape on a fresh
# machine (one graph per thread count the ThreadTuner tries) and about 5 s once cached on
# disk, so it pays only in long runs: at this length even a first compile is repaid by the
# MLPs; the CNN then about breaks even.
COMPILE_MIN_STEPS = 30_000


def should_compile(setting: bool | None, total_steps: int, device: torch.device) -> bool:
    """Whether a run trains through torch.compile: as set, or (None) on the CPU for runs of
    at least COMPILE_MIN_STEPS steps where a C++ compiler is installed (inductor needs one),
    in a process's main thread: the compiler's caches are not safe for runs on several
    threads at once, so those train eagerly (jobs run in the main thread of a process of their
    own, on Celery and on the embedded worker)."""
    if device.type != "cpu":
        return False
    if setting is not None:
        return setting
    return (total_steps >= COMPILE_MIN_STEPS and compiler_available()
            and threading.current_thread() is threading.main_thread())


def compiler_available() -> bool:
    return any(shutil.which(c) for c in (os.environ.get("CXX", "g++"), "c++", "clang++"))
