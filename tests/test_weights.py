"""TrafficSplit weights as whole numbers: reduced for choosers, as written for people and conversions."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smi_conformance.weights import smallest_whole_weights, whole_weights

F = Fraction


def test_smallest_whole_weights_reduce_to_the_exact_ratio() -> None:
    assert smallest_whole_weights([F(90), F(10)]) == [9, 1]
    assert smallest_whole_weights([F(50), F(150)]) == [1, 3]
    assert smallest_whole_weights([F(1), F(1, 2)]) == [2, 1]  # v1alpha1 "1" and "500m"
    assert smallest_whole_weights([F(1, 3), F(2, 3), F(0)]) == [1, 2, 0]
    assert smallest_whole_weights([F(0), F(7)]) == [0, 1]
    assert smallest_whole_weights([F(0), F(0)]) == [0, 0]
    assert smallest_whole_weights([]) == []
    with pytest.raises(ValueError, match=r"^weights must be >= 0$"):
        smallest_whole_weights([F(3), F(-1)])


def test_whole_weights_keep_whole_weights_as_written() -> None:
    assert whole_weights([F(90), F(10)]) == [90, 10]
    assert whole_weights([F(0), F(0)]) == [0, 0]
    assert whole_weights([F(1), F(1, 2)]) == [2, 1]  # a fraction: the smallest whole numbers
    assert whole_weights([F(1, 10), F(9, 10), F(0)]) == [1, 9, 0]
    assert whole_weights([F(100), F(200)], limit=200) == [100, 200]  # at the limit: as written
    assert whole_weights([F(100), F(300)], limit=200) == [1, 3]  # above it: reduced
    assert whole_weights([F(1000), F(1)], limit=200) == [1000, 1]  # reduced, still above: the caller decides
    assert whole_weights([]) == []
    assert whole_weights([], limit=5) == []


weights = st.lists(st.fractions(min_value=0, max_value=10**6, max_denominator=1000), min_size=1, max_size=6)


@given(weights)
def test_both_keep_exact_ratios(ws: list[Fraction]) -> None:
    for ints in (smallest_whole_weights(ws), whole_weights(ws), whole_weights(ws, limit=1000)):
        assert all(isinstance(i, int) and i >= 0 for i in ints)
        assert [i == 0 for i in ints] == [w == 0 for w in ws]
        if any(ws):
            total, exact = sum(ints), sum(ws)
            assert [F(i, total) for i in ints] == [w / exact for w in ws]


@given(weights)
def test_the_smallest_are_the_smallest(ws: list[Fraction]) -> None:
    ints = smallest_whole_weights(ws)
    nonzero = [i for i in ints if i]
    if nonzero:
        assert math.gcd(*nonzero) == 1  # no smaller whole numbers have the same ratios
        assert sum(ints) <= sum(whole_weights(ws))
