"""What "the last 30 seconds" means for the Traffic Metrics API, exactly.

Proxies record every finished request (HTTP) or flow (TCP/UDP) once, in the wall-clock second it *finished*
(``int(time.time())`` on the proxy's host; every proxy of the embedded mesh runs on one host, so one clock).

A query at time ``now`` with ``?t=<d>`` covers the ``d`` whole seconds before the current one:
``[floor(now) - d, floor(now))``. The current second is left out because it is not over yet: a count for a
closed window never changes when asked again, so two queries for the same window agree exactly. The response's
``timestamp`` is the window's end (``floor(now)``) and ``window`` its length. ``d`` is a Go duration
(``30s``, ``1m``, ``1m30s``); it must be a whole number of seconds from 1 s to the proxies' retention
(15 min); the default is 30 s, as in smi-metrics.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

__all__ = ["DEFAULT_WINDOW_S", "MAX_WINDOW_S", "Window", "WindowError", "parse_duration"]

DEFAULT_WINDOW_S = 30
MAX_WINDOW_S = 900
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


class WindowError(ValueError):
    """A ``?t=`` value that is not a usable window; the message says why."""


def parse_duration(text: str) -> float:
    """A Go duration in seconds (``1m30s`` -> 90.0)."""
    if not text or _PART.sub("", text) != "" or not _PART.search(text):
        raise WindowError(f"t={text!r} is not a duration such as 30s, 1m or 1m30s")
    return sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))


@dataclass(frozen=True)
class Window:
    """The whole seconds ``[start, end)`` (unix seconds)."""

    end: int
    length: int

    @property
    def start(self) -> int:
        return self.end - self.length

    @classmethod
    def ending_now(cls, now: float, t: str | None = None) -> Window:
        seconds = DEFAULT_WINDOW_S if t is None else parse_duration(t)
        if seconds != math.floor(seconds) or seconds < 1:
            raise WindowError(f"t={t} is not a whole number of seconds (at least 1s)")
        if seconds > MAX_WINDOW_S:
            raise WindowError(f"t={t} is longer than the {MAX_WINDOW_S}s the proxies keep")
        return cls(math.floor(now), int(seconds))

    def contains(self, second: int) -> bool:
        return self.start <= second < self.end

    @property
    def timestamp(self) -> str:
        return dt.datetime.fromtimestamp(self.end, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    @property
    def duration(self) -> str:
        return f"{self.length}s"
