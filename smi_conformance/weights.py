"""TrafficSplit weights as whole numbers with exactly their ratios: the one place that turns exact weights
(v1alpha1 Quantities such as ``500m`` read as fractions, or integers) into integers.

Two meanings, each with its own name, because callers need both:

* :func:`smallest_whole_weights` reduces (``90:10`` -> ``9:1``): what a chooser needs, where only the ratio
  counts and a smaller total makes every window of picks shorter.
* :func:`whole_weights` keeps weights as written where it can (``90:10`` stays ``90:10``): what people read
  (the Traffic Metrics API's ``backend.weight``) and what a conversion writes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

__all__ = ["smallest_whole_weights", "whole_weights"]


def smallest_whole_weights(weights: Sequence[Fraction]) -> list[int]:
    """The smallest whole numbers with exactly the ratios of ``weights`` (``1 : 1/2`` -> ``2 : 1``,
    ``50 : 150`` -> ``1 : 3``); a zero weight stays zero, and all zero stays all zero. Raises ``ValueError``
    for a negative weight."""
    if any(w < 0 for w in weights):
        raise ValueError("weights must be >= 0")
    return _reduced(weights)


def whole_weights(weights: Sequence[Fraction], limit: int | None = None) -> list[int]:
    """Weights as whole numbers with the same ratios, as written where possible: whole weights are kept
    (``90, 10``) unless one is above ``limit``; otherwise (fractions such as ``500m``, or a weight above the
    limit) the smallest whole numbers with the same ratios, which may still exceed the limit (the caller
    decides what then)."""
    if all(w.denominator == 1 for w in weights) and (limit is None or max(weights, default=0) <= limit):
        return [int(w) for w in weights]
    return _reduced(weights)


def _reduced(weights: Sequence[Fraction]) -> list[int]:
    """Scaled by the least common multiple of the denominators, divided by the greatest common divisor."""
    scale = math.lcm(*(Fraction(w).denominator for w in weights))
    ints = [int(Fraction(w) * scale) for w in weights]
    divisor = math.gcd(*ints) or 1
    return [i // divisor for i in ints]
