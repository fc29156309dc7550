"""A one-line progress bar for terminals, with the time left; silent when stderr is not a
terminal."""

from __future__ import annotations

import sys
import time

from service.jobs import remaining_seconds


def format_eta(seconds: float | None) -> str:
    """'ETA 1m05s', 'ETA 42s', or 'ETA --' while there is no estimate."""
    if seconds is None:
        return "ETA --"
    seconds = int(round(seconds))
    if seconds >= 60:
        return f"ETA {seconds // 60}m{seconds % 60:02d}s"
    return f"ETA {seconds}s"


class ProgressBar:
    def __init__(self, label: str, stream=None, width: int = 28):
        self.label, self.width = label, width
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.t0 = time.perf_counter()

    def __call__(self, fraction: float, message: str, eta_s: float | None = None) -> None:
        """Draw the bar. Used directly as an experiment's on_progress, it estimates the time
        left from its own clock; a caller that knows better (a job's row) passes eta_s."""
        if not self.enabled:
            return
        filled = int(round(fraction * self.width))
        bar = "#" * filled + "-" * (self.width - filled)
        elapsed = time.perf_counter() - self.t0
        if eta_s is None:
            eta_s = remaining_seconds(fraction, elapsed)
        line = (f"\r{self.label} [{bar}] {100 * fraction:5.1f}% {elapsed:6.1f}s "
                f"{format_eta(eta_s):<11} {message[:40]:<40}")
        self.stream.write(line)
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
