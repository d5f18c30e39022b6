"""Traffic split choice (sans-IO): exact rational weights -> which backend gets the next request or flow.

Weights become the smallest whole numbers with their exact ratios (:mod:`smi_conformance.weights`), so
``1/3 : 2/3`` is exactly ``1 : 2`` and v1alpha1 Quantities (``"1"``, ``"500m"``) keep their ratio with no
float rounding.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Protocol

from smi_conformance.weights import smallest_whole_weights

__all__ = ["CHOOSERS", "SmoothWeightedRoundRobin", "SplitChooser", "WeightedRandom", "make_chooser"]


class SplitChooser(Protocol):
    """Picks a backend name; None when every weight is zero."""

    def choose(self) -> str | None: ...


class WeightedRandom:
    """Independent draws: P(backend) = weight / total, exactly (integer arithmetic on ``randrange``)."""

    def __init__(self, backends: Sequence[tuple[str, Fraction]], rng: random.Random | None = None):
        names = [n for n, _ in backends]
        weights = smallest_whole_weights([w for _, w in backends])
        self._names = [n for n, w in zip(names, weights, strict=True) if w > 0]
        self._cumulative: list[int] = []
        total = 0
        for w in weights:
            if w > 0:
                total += w
                self._cumulative.append(total)
        self._total = total
        self._rng = rng or random.Random()

    def choose(self) -> str | None:
        if not self._total:
            return None
        return self._names[bisect.bisect_right(self._cumulative, self._rng.randrange(self._total))]


class SmoothWeightedRoundRobin:
    """nginx's smooth weighted round robin: deterministic, and every window of ``total`` picks is exact."""

    def __init__(self, backends: Sequence[tuple[str, Fraction]]):
        weights = smallest_whole_weights([w for _, w in backends])
        self._items = [(n, w) for (n, _), w in zip(backends, weights, strict=True) if w > 0]
        self._current = [0] * len(self._items)
        self._total = sum(w for _, w in self._items)

    def choose(self) -> str | None:
        if not self._total:
            return None
        best = 0
        for i, (_, w) in enumerate(self._items):
            self._current[i] += w
            if self._current[i] > self._current[best]:
                best = i
        self._current[best] -= self._total
        return self._items[best][0]


#: ``TrafficSplitConfig.algorithm`` -> how its chooser is made from (backend, weight) pairs and a random
#: source: the registry a new algorithm is added to (with its name in the config's ``Literal``; a test keeps
#: the two the same).
CHOOSERS: dict[str, Callable[[Sequence[tuple[str, Fraction]], random.Random | None], SplitChooser]] = {
    "smooth_round_robin": lambda backends, _rng: SmoothWeightedRoundRobin(backends),
    "weighted_random": WeightedRandom,
}


def make_chooser(
    algorithm: str, backends: Sequence[tuple[str, Fraction]], rng: random.Random | None = None
) -> SplitChooser:
    make = CHOOSERS.get(algorithm)
    if make is None:
        raise ValueError(f"unknown split algorithm {algorithm!r}")
    return make(backends, rng)
