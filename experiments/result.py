"""The Result contract (architecture.md): what every question type returns and writes.

`result.json` and the DB hold `Result.to_json()`; figures are PNG files beside it.
"""

from __future__ import annotations

import json
import math
import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

SCHEMA_VERSION = 2  # 2: verdict, findings, reproduce and key_figure added

ProgressFn = Callable[[float, str], None]


@dataclass
class Figure:
    name: str  # stable id, e.g. "accuracy_vs_batch"
    file: str  # file name beside result.json, e.g. "accuracy_vs_batch.png"
    caption: str


@dataclass(frozen=True)
class Reference:
    key: str
    title: str
    year: int
    url: str

    def to_json(self) -> dict:
        return {"key": self.key, "title": self.title, "year": self.year, "url": self.url}


@dataclass
class RunContext:
    """Everything a question type's experiment needs besides its parameters."""

    params: dict[str, Any]
    preset: str
    out_dir: Path
    device: torch.device
    on_progress: ProgressFn | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    t0: float = field(default_factory=time.perf_counter)

    done: float = 0.0  # the largest fraction reported so far

    def progress(self, fraction: float, message: str) -> None:
        """Report the fraction of the planned work done, clipped to 0..1 and never going
        backwards, so that the time left extrapolated from it (service.jobs) stays sane."""
        self.done = max(self.done, min(max(float(fraction), 0.0), 1.0))
        if self.on_progress is not None:
            self.on_progress(self.done, message)

    def seeds(self) -> list[int]:
        return list(range(int(self.params["seeds"])))


@dataclass
class Result:
    question_type: str
    title: str
    answer: str
    summary_markdown: str
    params: dict[str, Any]
    preset: str
    rows: list[dict[str, Any]]
    figures: list[Figure]
    references: list[Reference]
    provenance: dict[str, Any]
    verdict: Any = None  # experiments.findings.Verdict
    findings: list[Any] = field(default_factory=list)  # experiments.findings.Finding
    reproduce: str | None = None  # the `bnlab run` command that reruns exactly this
    key_figure: str | None = None  # name of the figure shown right after the answer

    def to_json(self) -> dict:
        return {
            "schema": SCHEMA_VERSION,
            "question_type": self.question_type,
            "title": self.title,
            "answer": self.answer,
            "summary_markdown": self.summary_markdown,
            "params": self.params,
            "preset": self.preset,
            "rows": [_clean(row) for row in self.rows],
            "figures": [{"name": f.name, "file": f.file, "caption": f.caption}
                        for f in self.figures],
            "references": [r.to_json() for r in self.references],
            "provenance": self.provenance,
            "verdict": self.verdict.to_json() if self.verdict is not None else None,
            "findings": [f.to_json() for f in self.findings],
            "reproduce": self.reproduce,
            "key_figure": self.key_figure,
        }

    def write(self, out_dir: Path | str) -> Path:
        path = Path(out_dir) / "result.json"
        path.write_text(json.dumps(self.to_json(), indent=2, allow_nan=False) + "\n")
        return path


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null, tensors and numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def code_version() -> str:
    """The package version plus the git commit when run from a checkout."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        base = version("bnlab")
    except PackageNotFoundError:
        base = "0+unknown"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True,
            cwd=Path(__file__).resolve().parent, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return base
    return f"{base}+g{commit}" if commit else base


def provenance(ctx: RunContext, dataset: dict[str, Any]) -> dict[str, Any]:
    device = ctx.device
    info: dict[str, Any] = {
        "code_version": code_version(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "seeds": ctx.seeds(),
        "dataset": dataset,
        "started_at": ctx.started_at.isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - ctx.t0, 3),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info
