"""Batch-size sweeps that include the asker's own sizes (`batch_sizes` plus
`asked_batch_sizes`), shared by the question types that sweep the batch size."""

from __future__ import annotations

import math


def batch_sizes(p: dict) -> list[int]:
    """The sizes that run: the type's sweep and the asker's, once each, smallest first."""
    return sorted(set(p["batch_sizes"]) | set(p["asked_batch_sizes"]))


def normal_batch(p: dict) -> int:
    """The batch size the answer speaks to: the asker's, else the one nearest 32 (a common
    default; on a log scale, the larger of two equally near)."""
    if p["asked_batch_sizes"]:
        return max(p["asked_batch_sizes"])
    return min(batch_sizes(p), key=lambda b: (abs(math.log2(b / 32)), -b))
