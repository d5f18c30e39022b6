"""Eventual consistency: poll until the mesh shows the new behaviour in several probes in a row.

After an apply or delete a mesh has up to a maximum time to consistency (SPEC-NOTES: default 30 s, as
Gateway API documents) to show the change, and the suite reports how long it took. A proxy's acknowledgement
of new config is not evidence; traffic is, so a probe sends traffic and ``ok`` judges what answered. One
agreeing probe can be luck (a proxy that has the new config next to one that has not); ``consecutive``
agreeing probes in a row, with any disagreeing probe starting the count again, are the evidence.

Pure apart from ``probe``: the clock and ``sleep`` are injectable, so the tests run on a fake clock.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["Convergence", "ProbeRecord", "consistently", "eventually"]

T = TypeVar("T")

#: Characters of a probe's result kept in the history (the failure message shows them).
SUMMARY_CHARS = 200


@dataclass(frozen=True)
class ProbeRecord:
    """One probe: when it started (seconds after the wait began), whether it agreed, and what it saw."""

    at_s: float
    ok: bool
    summary: str


@dataclass(frozen=True)
class Convergence(Generic[T]):
    """What a wait ended with. ``seconds``: from the start to the first probe of the agreeing run (the
    reported time to converge), ``None`` when it did not converge. ``history``: the last probes, oldest
    first."""

    converged: bool
    seconds: float | None
    total_s: float
    probes: int
    consecutive: int
    timeout_s: float
    last: T
    history: tuple[ProbeRecord, ...]

    @property
    def message(self) -> str:
        if self.converged:
            return (
                f"converged after {self.seconds:.2f} s ({self.consecutive} agreeing probes in a row, "
                f"{self.probes} probes in {self.total_s:.2f} s)"
            )
        seen = "; ".join(f"{r.at_s:.2f} s {'ok' if r.ok else 'not yet'}: {r.summary}" for r in self.history)
        return (
            f"did not converge within {self.timeout_s:g} s ({self.probes} probes, "
            f"{self.consecutive} agreeing in a row needed); last {len(self.history)}: {seen}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "converged": self.converged,
            "seconds": self.seconds,
            "total_s": self.total_s,
            "probes": self.probes,
            "consecutive": self.consecutive,
            "timeout_s": self.timeout_s,
            "history": [{"at_s": r.at_s, "ok": r.ok, "summary": r.summary} for r in self.history],
            "message": self.message,
        }


def _summary(text: str) -> str:
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 3] + "..."


def eventually(
    probe: Callable[[], T],
    ok: Callable[[T], bool],
    *,
    consecutive: int = 3,
    timeout_s: float = 30.0,
    interval_s: float = 0.2,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    describe: Callable[[T], str] = repr,
    history: int = 10,
) -> Convergence[T]:
    """Call ``probe()`` until ``ok(result)`` holds for ``consecutive`` probes in a row or ``timeout_s`` has
    passed; a probe that started before the deadline still counts. Between probes it sleeps ``interval_s``
    (less when the deadline is nearer). It always ends: besides the clock it stops after
    ``consecutive + ceil(timeout_s / interval_s)`` probes, which a real clock never reaches first. Exceptions
    from ``probe`` and ``ok`` propagate."""
    if isinstance(consecutive, bool) or not isinstance(consecutive, int) or consecutive < 1:
        raise ValueError(f"consecutive={consecutive!r}: must be a whole number >= 1")
    if not math.isfinite(timeout_s) or timeout_s < 0:
        raise ValueError(f"timeout_s={timeout_s!r}: must be a finite number >= 0")
    if not math.isfinite(interval_s) or interval_s <= 0:
        raise ValueError(f"interval_s={interval_s!r}: must be a finite number > 0")
    if history < 1:
        raise ValueError(f"history={history!r}: must be >= 1")
    max_probes = consecutive + math.ceil(timeout_s / interval_s)
    start = clock()
    deadline = start + timeout_s
    records: deque[ProbeRecord] = deque(maxlen=history)
    run, run_start, probes = 0, start, 0
    while True:
        began = clock()
        result = probe()
        probes += 1
        good = bool(ok(result))
        records.append(ProbeRecord(began - start, good, _summary(describe(result))))
        if good:
            if run == 0:
                run_start = began
            run += 1
        else:
            run = 0
        now = clock()
        converged = run >= consecutive
        if converged or now >= deadline or probes >= max_probes:
            return Convergence(
                converged=converged,
                seconds=run_start - start if converged else None,
                total_s=now - start,
                probes=probes,
                consecutive=consecutive,
                timeout_s=timeout_s,
                last=result,
                history=tuple(records),
            )
        sleep(min(interval_s, deadline - now))


def consistently(
    probe: Callable[[], T],
    ok: Callable[[T], bool],
    *,
    timeout_s: float = 30.0,
    interval_s: float = 0.2,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    describe: Callable[[T], str] = repr,
    history: int = 10,
) -> Convergence[T]:
    """Call ``probe()`` until ``timeout_s`` has passed, stopping at the first result ``ok`` rejects: the
    other half of the consistency rule. After a change that must make no difference (a TrafficTarget that
    must allow nothing), agreeing at once proves nothing, since the mesh may not have read the change yet;
    the behaviour must hold for the whole time a mesh has to show a change. ``converged`` is True when
    every probe agreed (``seconds`` is then 0: it held from the start). Bounded like :func:`eventually`."""
    if not math.isfinite(timeout_s) or timeout_s < 0:
        raise ValueError(f"timeout_s={timeout_s!r}: must be a finite number >= 0")
    if not math.isfinite(interval_s) or interval_s <= 0:
        raise ValueError(f"interval_s={interval_s!r}: must be a finite number > 0")
    max_probes = 1 + math.ceil(timeout_s / interval_s)
    start = clock()
    deadline = start + timeout_s
    records: deque[ProbeRecord] = deque(maxlen=max(history, 1))
    probes = 0
    while True:
        began = clock()
        result = probe()
        probes += 1
        good = bool(ok(result))
        records.append(ProbeRecord(began - start, good, _summary(describe(result))))
        now = clock()
        if not good or now >= deadline or probes >= max_probes:
            return Convergence(
                converged=good,
                seconds=0.0 if good else None,
                total_s=now - start,
                probes=probes,
                consecutive=probes if good else 0,
                timeout_s=timeout_s,
                last=result,
                history=tuple(records),
            )
        sleep(min(interval_s, deadline - now))
