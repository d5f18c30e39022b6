"""Split choice (sans-IO): exact integer weights, smooth WRR windows, weighted random statistics."""

from __future__ import annotations

import math
import random
from collections import Counter
from fractions import Fraction
from typing import get_args

import pytest

from reference_mesh.proxy.config import SplitAlgorithm
from reference_mesh.proxy.split import CHOOSERS, SmoothWeightedRoundRobin, WeightedRandom, make_chooser


def test_smooth_round_robin_is_exact_in_every_window() -> None:
    backends = [("a", Fraction(1, 2)), ("b", Fraction(1)), ("c", Fraction(0)), ("d", Fraction(3, 2))]
    chooser = SmoothWeightedRoundRobin(backends)
    picks = [chooser.choose() for _ in range(60)]
    for start in range(0, 60, 6):  # total integer weight 1+2+3 = 6
        assert Counter(picks[start : start + 6]) == {"a": 1, "b": 2, "d": 3}
    assert "c" not in picks
    # smooth: "d" (weight 3 of 6) never gets two turns in a row more than needed
    assert "d,d,d" not in ",".join(picks)


def test_all_zero_weights_choose_nothing() -> None:
    for algorithm in ("weighted_random", "smooth_round_robin"):
        assert make_chooser(algorithm, [("a", Fraction(0)), ("b", Fraction(0))]).choose() is None
        assert make_chooser(algorithm, []).choose() is None
    with pytest.raises(ValueError, match=r"^unknown split algorithm 'random'$"):
        make_chooser("random", [])


def test_weighted_random_follows_the_weights() -> None:
    """n = 20000 draws of P(b) = 3/4: sd = sqrt(n p (1-p)) = 61.2; a 5 sd tolerance fails by chance with
    probability < 6e-7 (two-sided normal tail), with a fixed seed it is deterministic anyway."""
    n, p = 20000, Fraction(3, 4)
    chooser = WeightedRandom([("a", Fraction(1)), ("b", Fraction(3)), ("z", Fraction(0))], random.Random(7))
    counts = Counter(chooser.choose() for _ in range(n))
    sd = math.sqrt(n * p * (1 - p))
    assert abs(counts["b"] - n * p) < 5 * sd
    assert counts["z"] == 0


def test_every_configurable_split_algorithm_is_in_the_registry() -> None:
    assert set(CHOOSERS) == set(get_args(SplitAlgorithm))
    for algorithm in CHOOSERS:
        chooser = make_chooser(algorithm, [("a", Fraction(1)), ("b", Fraction(3))], random.Random(3))
        assert set(Counter(chooser.choose() for _ in range(200))) == {"a", "b"}


def test_smooth_round_robin_picks_in_nginx_order() -> None:
    """nginx's documented sequence for weights a=5, b=1, c=1: the first of equal highest currents wins."""
    chooser = SmoothWeightedRoundRobin([("a", Fraction(5)), ("b", Fraction(1)), ("c", Fraction(1))])
    assert "".join(str(chooser.choose()) for _ in range(14)) == "aabacaa" * 2


def test_one_backend_gets_every_pick() -> None:
    for algorithm in CHOOSERS:
        chooser = make_chooser(algorithm, [("only", Fraction(3))], random.Random(1))
        assert {chooser.choose() for _ in range(20)} == {"only"}


@pytest.mark.parametrize("algorithm", sorted(CHOOSERS))
def test_a_zero_weight_backend_anywhere_is_never_chosen(algorithm: str) -> None:
    """Zero weights first, between and last: what is left out of the draw is left out of the names too."""
    zero, one, three = Fraction(0), Fraction(1), Fraction(3)
    backends = [("z1", zero), ("a", one), ("z2", zero), ("b", three), ("z3", zero)]
    chooser = make_chooser(algorithm, backends, random.Random(5))
    counts = Counter(chooser.choose() for _ in range(400))
    assert set(counts) == {"a", "b"}
    assert counts["b"] > counts["a"]  # 3:1 (random: P(b <= a in 400 draws) < 1e-20)


def test_weighted_random_draws_from_the_random_source_it_is_given() -> None:
    """Seeded, the same choices every time (the proxy passes its own random source: tests can replay)."""
    backends = [("a", Fraction(1)), ("b", Fraction(1)), ("c", Fraction(2))]
    runs = [
        [chooser.choose() for _ in range(50)]
        for chooser in (
            WeightedRandom(backends, random.Random(11)),
            make_chooser("weighted_random", backends, random.Random(11)),
            WeightedRandom(backends, random.Random(11)),
        )
    ]
    assert runs[0] == runs[1] == runs[2]
    assert runs[0] != [WeightedRandom(backends, random.Random(12)).choose() for _ in range(50)]
