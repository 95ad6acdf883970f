"""One progress line on stderr: updates, env steps, steps/s, ETA, latest return.

On a terminal the line rewrites itself in place; redirected to a file (a pod's
log, CI) each report is its own plain line, so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def format_duration(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):  # NaN or inf: nothing to estimate from yet
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def format_count(value: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.2f}{unit}"
    return f"{value:.0f}"


class Progress:
    """Reports training progress; ``update`` after each chunk, ``close`` at the end."""

    def __init__(
        self,
        total_updates: int,
        *,
        stream: TextIO | None = None,
        enabled: bool = True,
        clock=time.monotonic,
    ):
        self.total_updates = total_updates
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.clock = clock
        self.is_tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._start_time: float | None = None
        self._start_update = 0
        self._line_open = False

    def start(self, update: int) -> None:
        """Rates and ETA count from here, so a resumed run's ETA ignores restored work."""
        self._start_time = self.clock()
        self._start_update = update

    def line(
        self, update: int, env_steps: float, steps_per_s: float, mean_return: float | None
    ) -> str:
        elapsed = self.clock() - (
            self._start_time if self._start_time is not None else self.clock()
        )
        done = update - self._start_update
        remaining = self.total_updates - update
        eta = elapsed / done * remaining if done > 0 else float("nan")
        percent = 100.0 * update / max(self.total_updates, 1)
        text = (
            f"update {update}/{self.total_updates} ({percent:5.1f}%) | env steps {format_count(env_steps)}"
            f" | {format_count(steps_per_s)} steps/s | ETA {format_duration(eta)}"
        )
        if mean_return is not None:
            text += f" | return {mean_return:.4g}"
        return text

    def update(
        self, update: int, env_steps: float, steps_per_s: float, mean_return: float | None
    ) -> None:
        if not self.enabled:
            return
        text = self.line(update, env_steps, steps_per_s, mean_return)
        if self.is_tty:
            self.stream.write("\r\x1b[2K" + text)
            self._line_open = True
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        """A line of its own that does not get overwritten by the progress line."""
        if not self.enabled:
            return
        self.close()
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._line_open:
            self.stream.write("\n")
            self.stream.flush()
            self._line_open = False
