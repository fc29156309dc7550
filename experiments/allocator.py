"""Keep freed tensor memory in the process on Linux, so training steps do not page-fault.

A batched training step allocates and frees dozens of activation-sized tensors (half a
megabyte each for 8 members at batch 128). glibc serves blocks above its mmap threshold with
fresh `mmap` calls and returns them with `munmap`, so every such tensor is page-faulted in and
zeroed by the kernel again at every step; it also trims the heap top back to the system. On
this project's 2-core CPU that was measured at about 160 page faults per step at batch 128 and
roughly a tenth of the step's time (`bnlab bench engine`). Raising both thresholds keeps the
memory in the heap for reuse. The cost is that up to a few hundred megabytes freed by a run
stay reserved by the process until it exits; the values only move where blocks come from,
never what a computation returns.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1  # glibc mallopt parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 256 * 1024 * 1024  # blocks above this still come from mmap
TRIM_THRESHOLD = 512 * 1024 * 1024  # the heap top is trimmed only past this much free memory

_done = False


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds once per process; True if they were set.

    Anywhere but glibc on Linux (macOS, musl, Windows) this does nothing: those allocators
    have their own caching and the step simply runs as before.
    """
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    if not ok:
        log.debug("mallopt refused the allocator thresholds; training runs as before")
    _done = ok
    return ok
