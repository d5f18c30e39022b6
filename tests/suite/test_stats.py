"""The sequential weight check, on simulated meshes and by hand-made counts.

Error rates of 1e-6 cannot be measured, so the same design runs at alpha = beta = 0.05 (and 0.01) on
thousands of seeded simulated meshes, and each empirical rate is held to a one-sided binomial bound: a correct
implementation fails one of these assertions with probability <= 1e-4 per case (``critical_count``). At the
defaults the affordable runs must show no error at all, and a mesh off by 7 points must fail. Sample sizes go
to the JUnit properties (``record_property``); benchmarks/split_check.py prints the full table.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from collections.abc import Callable, Mapping
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_mesh.proxy.split import SmoothWeightedRoundRobin, WeightedRandom
from smi_conformance.suite.stats import (
    BatchSource,
    Decision,
    SplitSettings,
    WeightCheck,
    batch_consistent,
    binomial_two_sided_p,
    compare_counts,
    confidence_interval,
    default_max_samples,
    expected_sample_size,
    inconclusive_bound,
    random_mesh,
    recommended_batch,
    run_check,
    simulate,
)
from smi_conformance.weights import smallest_whole_weights

LOOSE = SplitSettings(alpha=0.05, beta=0.05)
#: Per case, the probability that a correct implementation fails a rate assertion by chance.
TEST_DELTA = 1e-4

EXACT = {
    "90/10": {"v1": 90, "v2": 10},
    "75/25": {"v1": 75, "v2": 25},
    "50/50": {"v1": 50, "v2": 50},
    "50/30/20": {"v1": 50, "v2": 30, "v3": 20},
    "75/25/0": {"v1": 75, "v2": 25, "v3": 0},
}
#: (claimed weights, true shares) with some backend off by exactly the tolerance: the hardest wrong meshes.
AT_TOLERANCE = {
    "90/10 as 85/15": (EXACT["90/10"], {"v1": 85, "v2": 15}),
    "90/10 as 95/5": (EXACT["90/10"], {"v1": 95, "v2": 5}),
    "75/25 as 80/20": (EXACT["75/25"], {"v1": 80, "v2": 20}),
    "50/50 as 55/45": (EXACT["50/50"], {"v1": 55, "v2": 45}),
    "50/30/20 as 45/35/20": (EXACT["50/30/20"], {"v1": 45, "v2": 35, "v3": 20}),
    # only v3 is off by 5; the others by 2.5 (any one backend off must be enough to fail)
    "50/30/20 as 52.5/32.5/15": (
        EXACT["50/30/20"],
        {"v1": Fraction(105, 2), "v2": Fraction(65, 2), "v3": 15},
    ),
}
OFF_BY_7 = {
    "75/25 as 68/32": (EXACT["75/25"], {"v1": 68, "v2": 32}),
    "50/30/20 as 43/30/27": (EXACT["50/30/20"], {"v1": 43, "v2": 30, "v3": 27}),
}


def critical_count(runs: int, rate: float, delta: float = TEST_DELTA) -> int:
    """Smallest c with P(Binomial(runs, rate) > c) <= delta: more errors than c in ``runs`` is evidence (at
    level delta) that the true error rate exceeds ``rate``."""
    tail = 0.0
    for c in range(runs, -1, -1):
        pmf = math.exp(
            math.lgamma(runs + 1)
            - math.lgamma(c + 1)
            - math.lgamma(runs - c + 1)
            + c * math.log(rate)
            + (runs - c) * math.log1p(-rate)
        )
        if tail + pmf > delta:
            return c
        tail += pmf
    return 0


def random_batches(rng: random.Random, largest: int) -> Callable[[int], int]:
    return lambda _n: rng.randint(1, largest)


def swrr_mesh(shares: Mapping[str, int | Fraction], rng: random.Random) -> BatchSource:
    """The reference mesh's deterministic smooth weighted round robin, started at a random phase."""
    backends = [(name, Fraction(w)) for name, w in shares.items()]
    chooser = SmoothWeightedRoundRobin(backends)
    for _ in range(rng.randrange(sum(smallest_whole_weights([w for _, w in backends])))):
        chooser.choose()
    return lambda size: Counter(str(chooser.choose()) for _ in range(size))


def refmesh_random(shares: Mapping[str, int | Fraction], rng: random.Random) -> BatchSource:
    """The reference mesh's weighted random chooser, one call per request."""
    chooser = WeightedRandom([(name, Fraction(w)) for name, w in shares.items()], rng)
    return lambda size: Counter(str(chooser.choose()) for _ in range(size))


# -------------------------------------------------------------------------------------------------------
# Error rates, measured at alpha = beta = 0.05 and 0.01


@pytest.mark.parametrize("case", EXACT)
def test_correct_random_mesh_fails_at_most_alpha(case: str, record_property: Callable[..., None]) -> None:
    weights, runs = EXACT[case], 1500
    rng = random.Random(f"exact {case}")
    s = simulate(weights, lambda: random_mesh(weights, rng), LOOSE, runs=runs, batch=random_batches(rng, 100))
    record_property("mean_n", round(s.mean_n))
    record_property("p95_n", s.quantile_n(0.95))
    assert s.inconclusive == 0
    assert s.failed <= critical_count(runs, LOOSE.alpha), f"{s.failed}/{runs} correct meshes failed"
    assert s.passed + s.failed == runs


@pytest.mark.parametrize("case", AT_TOLERANCE)
def test_mesh_off_by_tolerance_passes_at_most_beta(case: str, record_property: Callable[..., None]) -> None:
    weights, truth = AT_TOLERANCE[case]
    runs, rng = 1500, random.Random(f"off {case}")
    s = simulate(weights, lambda: random_mesh(truth, rng), LOOSE, runs=runs, batch=random_batches(rng, 100))
    record_property("mean_n", round(s.mean_n))
    record_property("p95_n", s.quantile_n(0.95))
    assert s.passed <= critical_count(runs, LOOSE.beta), f"{s.passed}/{runs} wrong meshes passed"


@pytest.mark.parametrize(
    ("weights", "truth", "rate_of"),
    [
        (EXACT["75/25"], EXACT["75/25"], "failed"),
        (EXACT["50/30/20"], EXACT["50/30/20"], "failed"),
        (*AT_TOLERANCE["75/25 as 80/20"], "passed"),
    ],
)
def test_error_rates_hold_when_the_suite_looks_after_every_request(
    weights: dict[str, int], truth: dict[str, int], rate_of: str
) -> None:
    """Batches of one: the most looks a sequential test can take (anytime validity, worst case)."""
    runs, rng = 500, random.Random(f"every request {weights} {truth}")
    s = simulate(weights, lambda: random_mesh(truth, rng), LOOSE, runs=runs, batch=1)
    assert getattr(s, rate_of) <= critical_count(runs, 0.05)


@pytest.mark.parametrize(
    ("weights", "truth", "rate_of"),
    [(EXACT["75/25"], EXACT["75/25"], "failed"), (*AT_TOLERANCE["50/30/20 as 52.5/32.5/15"], "passed")],
)
def test_error_rates_hold_at_one_percent(
    weights: dict[str, int], truth: dict[str, int], rate_of: str
) -> None:
    strict = SplitSettings(alpha=0.01, beta=0.01)
    runs, rng = 1000, random.Random(f"one percent {weights} {truth}")
    s = simulate(weights, lambda: random_mesh(truth, rng), strict, runs=runs, batch=random_batches(rng, 200))
    assert getattr(s, rate_of) <= critical_count(runs, 0.01)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["75/25", "50/30/20"])
def test_error_rates_with_many_runs(case: str) -> None:
    """10,000 runs each way: the empirical rates hold to 0.05 with a much tighter binomial margin."""
    weights, runs = EXACT[case], 10_000
    truth = AT_TOLERANCE["75/25 as 80/20" if case == "75/25" else "50/30/20 as 52.5/32.5/15"][1]
    rng = random.Random(f"many {case}")
    good = simulate(
        weights, lambda: random_mesh(weights, rng), LOOSE, runs=runs, batch=random_batches(rng, 50)
    )
    bad = simulate(weights, lambda: random_mesh(truth, rng), LOOSE, runs=runs, batch=random_batches(rng, 50))
    assert good.failed <= critical_count(runs, 0.05)
    assert bad.passed <= critical_count(runs, 0.05)


# -------------------------------------------------------------------------------------------------------
# The defaults (1e-6): no error in the runs we can afford; sample sizes


@pytest.mark.parametrize("case", EXACT)
def test_defaults_correct_mesh_passes(case: str, record_property: Callable[..., None]) -> None:
    weights, runs = EXACT[case], 300
    rng = random.Random(f"defaults {case}")
    s = simulate(weights, lambda: random_mesh(weights, rng), runs=runs)
    record_property("mean_n", round(s.mean_n))
    record_property("p95_n", s.quantile_n(0.95))
    assert s.passed == runs
    # Wald's approximation ignores overshoot and the slowest of several sides: low, but the right scale
    wald = expected_sample_size(weights)
    assert wald <= s.mean_n <= 1.8 * wald


@pytest.mark.parametrize("case", OFF_BY_7)
def test_defaults_mesh_off_by_7_points_fails(case: str, record_property: Callable[..., None]) -> None:
    weights, truth = OFF_BY_7[case]
    runs, rng = 200, random.Random(f"defaults off {case}")
    s = simulate(weights, lambda: random_mesh(truth, rng), runs=runs)
    record_property("mean_n", round(s.mean_n))
    record_property("p95_n", s.quantile_n(0.95))
    assert s.failed == runs
    wald = expected_sample_size(weights, true_shares=truth)
    assert 0.8 * wald <= s.mean_n <= 1.8 * wald


def test_defaults_against_the_reference_meshs_weighted_random_chooser() -> None:
    rng = random.Random("refmesh")
    good = simulate(EXACT["50/30/20"], lambda: refmesh_random(EXACT["50/30/20"], rng), runs=40)
    bad = simulate(EXACT["50/30/20"], lambda: refmesh_random({"v1": 43, "v2": 30, "v3": 27}, rng), runs=40)
    assert good.passed == 40 and bad.failed == 40


# -------------------------------------------------------------------------------------------------------
# Deterministic smooth weighted round robin: less variable than random draws


@pytest.mark.parametrize("case", EXACT)
def test_smooth_round_robin_counts_stay_within_one_request_of_the_weights(case: str) -> None:
    """The docstring's bound D < 1, which keeps a correct deterministic mesh far from the fail threshold."""
    weights = EXACT[case]
    shares = {n: Fraction(w, sum(weights.values())) for n, w in weights.items()}
    source, seen = swrr_mesh(weights, random.Random(case)), Counter[str]()
    for n in range(1, 5001):
        seen.update(source(1))
        assert all(abs(seen[name] - n * share) < 1 for name, share in shares.items())


@pytest.mark.parametrize("case", EXACT)
@pytest.mark.parametrize("settings_", [SplitSettings(), LOOSE], ids=["defaults", "loose"])
def test_smooth_round_robin_correct_mesh_always_passes(case: str, settings_: SplitSettings) -> None:
    weights, rng = EXACT[case], random.Random(f"swrr {case}")
    s = simulate(weights, lambda: swrr_mesh(weights, rng), settings_, runs=20, batch=random_batches(rng, 500))
    assert s.passed == 20


@pytest.mark.parametrize("case", AT_TOLERANCE)
def test_smooth_round_robin_off_by_tolerance_always_fails(case: str) -> None:
    weights, truth = AT_TOLERANCE[case]
    rng = random.Random(f"swrr off {case}")
    s = simulate(weights, lambda: swrr_mesh(truth, rng), runs=10)
    assert s.failed == 10


def test_mesh_inside_the_indifference_zone_is_inconclusive_at_max_samples() -> None:
    """75/25 with v2 at the share where the "above" SPRT has no drift (about 27.5%): deterministic, so neither
    boundary is ever crossed and the check ends at max_samples as an inconclusive failure."""
    weights = EXACT["75/25"]
    hit, miss = math.log(0.30 / 0.25), math.log(0.70 / 0.75)
    q = Fraction(-miss / (hit - miss)).limit_denominator(1000)
    evidence = run_check(weights, swrr_mesh({"v1": 1 - q, "v2": q}, random.Random(1)))
    assert evidence.decision is Decision.FAIL and evidence.inconclusive
    assert evidence.n == default_max_samples(weights)
    assert evidence.message.startswith(f"inconclusive after {evidence.n:,} requests")
    v2 = evidence.backends[1]
    assert abs(v2.observed_share - q) < 1e-3
    assert f"v2 received {v2.observed_share * 100:.1f}% of {evidence.n:,} requests" in evidence.message


# -------------------------------------------------------------------------------------------------------
# Truncation: the default ceiling and its arithmetic


@pytest.mark.parametrize("case", EXACT)
@pytest.mark.parametrize("settings_", [SplitSettings(), LOOSE, SplitSettings(tolerance=0.1, beta=1e-3)])
def test_default_max_samples_meets_its_truncation_budget(case: str, settings_: SplitSettings) -> None:
    weights = EXACT[case]
    ceiling = default_max_samples(weights, settings_)
    budget = 1e-3 * settings_.alpha
    assert inconclusive_bound(weights, ceiling, settings_) <= budget * (1 + 1e-6)
    assert inconclusive_bound(weights, int(ceiling * 0.9), settings_) > budget  # derived, not padded
    assert ceiling > 3 * expected_sample_size(weights, settings_)


def test_inconclusive_bound_holds_by_simulation() -> None:
    """Truncate at the n where the Chernoff bound says a correct mesh is undecided with probability <= 0.2,
    and count how often it is."""
    weights, runs = EXACT["50/30/20"], 1000
    lo, hi = 1, default_max_samples(weights, LOOSE)
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if inconclusive_bound(weights, mid, LOOSE) <= 0.2 else (mid + 1, hi)
    capped = SplitSettings(alpha=0.05, beta=0.05, max_samples=lo)
    rng = random.Random("truncation")
    s = simulate(weights, lambda: random_mesh(weights, rng), capped, runs=runs, batch=10)
    assert max(s.sample_sizes) == lo
    assert s.inconclusive <= critical_count(runs, 0.2)


# -------------------------------------------------------------------------------------------------------
# Evidence and messages


def test_failure_message_names_the_worst_backend() -> None:
    check = WeightCheck({"v1": 75, "v2": 25})
    assert check.update({"v1": 2821, "v2": 1279}) is Decision.FAIL
    evidence = check.evidence()
    assert evidence.message == "v2 received 31.2% of 4,100 requests; expected 25% +- 5 points (p < 1e-6)"
    assert not evidence.inconclusive and evidence.p_value < 1e-6
    v2 = evidence.backends[1]
    assert (v2.count, v2.expected_share) == (1279, 0.25)
    assert v2.interval[0] > 0.25 + 0.025 and v2.interval[0] < 1279 / 4100 < v2.interval[1]
    assert v2.llr_above is not None and v2.llr_above >= evidence.fail_threshold


def test_three_backends_name_the_one_that_is_off() -> None:
    check = WeightCheck({"v1": 50, "v2": 30, "v3": 20})
    assert check.update({"v1": 2000, "v2": 1200, "v3": 600}) is Decision.FAIL  # v3 at 15.8% (expected 20)
    assert check.evidence().message == (
        "v3 received 15.8% of 3,800 requests; expected 20% +- 5 points (p < 1e-6)"
    )


def test_zero_weight_backend_fails_on_its_first_request() -> None:
    weights = {"v1": 75, "v2": 25, "v3": 0}
    check = WeightCheck(weights)
    assert check.update({"v1": 3000, "v2": 1088, "v3": 12}) is Decision.FAIL
    evidence = check.evidence()
    assert evidence.message == "v3 (weight 0) received 12 of 4,100 requests; expected none"
    assert evidence.p_value == 0 and evidence.backends[2].llr_above == math.inf
    assert WeightCheck(weights).update({"v3": 1}) is Decision.FAIL
    json.dumps(evidence.to_dict(), allow_nan=False)  # infinities serialise as strings
    assert evidence.to_dict()["backends"][2]["llr_above"] == "Infinity"


def test_response_from_outside_the_split_fails_at_once() -> None:
    check = WeightCheck({"v1": 50, "v2": 50})
    assert check.update({"v1": 10, "v2": 9, "web": 1, "ghost": 1}) is Decision.FAIL
    evidence = check.evidence()
    assert dict(evidence.unexpected) == {"web": 1, "ghost": 1}
    assert evidence.message == (
        "ghost (and web), not a backend of the split, answered 1 of 21 requests; expected only v1, v2"
    )
    assert evidence.to_dict()["unexpected"] == {"ghost": 1, "web": 1}


def test_pass_message_and_evidence() -> None:
    check = WeightCheck({"v1": 75, "v2": 25, "v3": 0})
    assert check.update({"v1": 3000, "v2": 1000}) is Decision.PASS
    evidence = check.evidence()
    assert evidence.inconclusive is False and evidence.to_dict()["inconclusive"] is False
    assert evidence.message == (
        "split as weighted over 4,000 requests, every backend within 5 points: "
        "v1 75.0% (75%), v2 25.0% (25%), v3 none (weight 0)"
    )
    data = json.loads(json.dumps(evidence.to_dict(), allow_nan=False))
    assert data["decision"] == "pass" and data["n"] == 4000
    assert data["settings"] == {
        "alpha": 1e-6,
        "beta": 1e-6,
        "tolerance": 0.05,
        "max_samples": default_max_samples({"v1": 75, "v2": 25, "v3": 0}),
        "confidence": 0.95,
    }
    assert [b["name"] for b in data["backends"]] == ["v1", "v2", "v3"]
    assert all(b["llr_above"] <= data["pass_threshold"] for b in data["backends"])
    assert data["backends"][0]["llr_above"] < data["pass_threshold"]


def test_the_check_stops_when_it_decides() -> None:
    check = WeightCheck({"v1": 1})
    assert check.evidence().message == "no requests yet" and check.evidence().decision is Decision.CONTINUE
    check.update({"v1": 300})
    with pytest.raises(RuntimeError, match="already decided"):
        check.update({"v1": 1})


def test_run_check_never_asks_past_max_samples_and_rejects_a_silent_source() -> None:
    asked: list[int] = []

    def source(size: int) -> Counter[str]:
        asked.append(size)
        return Counter({"v1": size // 2, "v2": size - size // 2})

    settings_ = SplitSettings(max_samples=120)
    evidence = run_check({"v1": 25, "v2": 75}, source, settings_, batch=50)
    assert asked == [50, 50, 20] and evidence.n == 120
    with pytest.raises(ValueError, match="answered none"):
        run_check({"v1": 1}, lambda size: Counter[str]())


# -------------------------------------------------------------------------------------------------------
# Weights: forms and bad input


def test_weights_need_not_sum_to_100() -> None:
    a, b = WeightCheck({"v1": 3, "v2": 1}), WeightCheck({"v1": 75, "v2": 25})
    floats = WeightCheck({"v1": 0.75, "v2": 0.25})  # finite floats are weights too
    assert floats._design.shares == a._design.shares == (Fraction(3, 4), Fraction(1, 4))
    for check in (a, b):
        check.update({"v1": 700, "v2": 300})
    ea, eb = a.evidence(), b.evidence()
    assert [x.expected_share for x in ea.backends] == [0.75, 0.25]
    assert [x.weight for x in ea.backends] == ["3", "1"]  # the weights as written differ...
    assert (ea.decision, ea.message) == (eb.decision, eb.message)  # ...the test does not
    assert [(x.llr_above, x.llr_below) for x in ea.backends] == [
        (x.llr_above, x.llr_below) for x in eb.backends
    ]


def test_v1alpha1_quantity_weights_as_fractions() -> None:
    """v1alpha1 weights "1" and "500m" are 1 and 1/2: a 2:1 split."""
    weights = {"v1": Fraction(1), "v2": Fraction(1, 2)}
    evidence = run_check(weights, swrr_mesh(weights, random.Random(3)))
    assert evidence.decision is Decision.PASS
    assert [b.weight for b in evidence.backends] == ["1", "1/2"]
    assert evidence.backends[0].expected_share == pytest.approx(2 / 3)


def test_one_backend_passes_once_a_5_point_shortfall_would_have_shown() -> None:
    """(1 - 0.05)^n <= 1e-6 first at n = 270."""
    assert math.ceil(math.log(1e-6) / math.log(0.95)) == 270
    check = WeightCheck({"only": 7})
    assert check.update({"only": 269}) is Decision.CONTINUE
    assert check.update({"only": 1}) is Decision.PASS
    assert WeightCheck({"only": 7}).update({"only": 5, "web": 1}) is Decision.FAIL


def test_weight_one_backend_with_zero_weight_siblings() -> None:
    check = WeightCheck({"v1": 1, "v2": 0})
    assert check.update({"v1": 269}) is Decision.CONTINUE
    assert check.update({"v1": 1}) is Decision.PASS
    check = WeightCheck({"v1": 1, "v2": 0})
    assert check.update({"v1": 100, "v2": 1}) is Decision.FAIL
    assert check.evidence().message == "v2 (weight 0) received 1 of 101 requests; expected none"


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        ({"v1": 0, "v2": 0}, "every weight is zero: nothing can be checked"),
        ({"v1": 1, "v2": -1}, "backend 'v2': weight -1 is negative"),
        ({}, "^no backends: a split needs at least one$"),
        ({"v1": math.nan}, "backend 'v1': weight nan is not a finite number"),
        ({"v1": True}, "backend 'v1': weight True is not a number"),
        ({"v1": "1"}, "backend 'v1': weight '1' is not a number"),
        ({"": 1}, "backend name '': must be a non-empty string"),
    ],
)
def test_bad_weights_are_clear_errors(weights: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        WeightCheck(weights)  # type: ignore[arg-type]


@pytest.mark.parametrize("count", [-1, 1.5, True])
def test_bad_counts_are_clear_errors(count: object) -> None:
    check = WeightCheck({"v1": 1, "v2": 1})
    with pytest.raises(ValueError, match="batch count for 'v2'"):
        check.update({"v1": 1, "v2": count})  # type: ignore[dict-item]
    assert check.n == 0  # nothing half-applied


@pytest.mark.parametrize(
    "kwargs",
    [
        {"alpha": 0},
        {"beta": 1},
        {"tolerance": 1.5},
        {"confidence": 0},
        {"max_samples": 0},
        {"max_samples": 10.5},
        {"max_samples": True},
        {"alpha": "x"},
    ],
)
def test_bad_settings_are_clear_errors(kwargs: dict[str, object]) -> None:
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=f"setting {name}="):
        SplitSettings(**kwargs)  # type: ignore[arg-type]


# -------------------------------------------------------------------------------------------------------
# Properties


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(0, 30)), min_size=1, max_size=8),
    st.sampled_from([(50, 30, 20), (1, 1, 1), (9, 1, 0), (1, 0, 0)]),
)
def test_the_evidence_depends_only_on_the_totals(batches: list[tuple[int, ...]], ws: tuple[int, ...]) -> None:
    """However the requests are batched, the LLRs are those of the totals (only the stopping time differs)."""
    names = ("a", "b", "c")
    weights = dict(zip(names, ws, strict=True))
    piecewise, whole = WeightCheck(weights), WeightCheck(weights)
    for batch in batches:
        piecewise.update(dict(zip(names, batch, strict=True)))
        if piecewise.decision is not Decision.CONTINUE:
            break
    whole.update(Counter(piecewise.counts))
    assert [(b.llr_above, b.llr_below) for b in piecewise.evidence().backends] == [
        (b.llr_above, b.llr_below) for b in whole.evidence().backends
    ]


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 60), st.data(), st.fractions(min_value=0, max_value=1, max_denominator=20))
def test_binomial_p_value_matches_the_brute_force_sum(n: int, data: st.DataObject, p: Fraction) -> None:
    x = data.draw(st.integers(0, n))
    pmf = [math.comb(n, k) * float(p) ** k * float(1 - p) ** (n - k) for k in range(n + 1)]
    brute = min(1.0, sum(q for q in pmf if q <= pmf[x] * (1 + 1e-7)))
    assert binomial_two_sided_p(x, n, float(p)) == pytest.approx(brute, rel=1e-9, abs=1e-300)


def test_binomial_p_value_far_in_the_tail_and_bad_input() -> None:
    assert binomial_two_sided_p(0, 10_000, 0.5) == pytest.approx(2 * 0.5**10_000, rel=1e-6, abs=0)
    assert binomial_two_sided_p(5000, 10_000, 0.5) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="outside"):
        binomial_two_sided_p(11, 10, 0.5)


def test_confidence_sequence_covers_the_true_share_at_every_look() -> None:
    """Anytime coverage: over 200 sequences of 2,000 draws looked at 20 times, the share p = 0.3 must fall
    outside the 90% interval at some look in at most 10% of sequences (binomial margin TEST_DELTA)."""
    runs, p, delta, rng = 200, 0.3, 0.1, random.Random("cs")
    misses = 0
    for _ in range(runs):
        x = 0
        for look in range(1, 21):
            x += sum(rng.random() < p for _ in range(100))
            lo, hi = confidence_interval(x, 100 * look, delta)
            if not lo <= p <= hi:
                misses += 1
                break
    assert misses <= critical_count(runs, delta)


def test_confidence_interval_shape() -> None:
    assert confidence_interval(0, 0, 0.05) == (0.0, 1.0)
    lo, hi = confidence_interval(0, 1000, 0.05)
    assert lo == 0.0 and 0 < hi < 0.02
    narrow, wide = confidence_interval(2500, 10_000, 0.05), confidence_interval(250, 1000, 0.05)
    assert wide[0] < narrow[0] < 0.25 < narrow[1] < wide[1]
    assert confidence_interval(250, 1000, 0.001)[0] < wide[0]  # more confidence, wider


# -------------------------------------------------------------------------------------------------------
# Planning helpers


def test_recommended_batch() -> None:
    for weights in EXACT.values():
        batch = recommended_batch(weights)
        assert batch >= 50
        assert batch == max(50, math.ceil(expected_sample_size(weights) / 4))
    assert recommended_batch({"only": 1}) == 68  # 270 / 4
    loose = SplitSettings(alpha=0.3, beta=0.3)
    assert (
        expected_sample_size(EXACT["90/10"], loose) < 200 and recommended_batch(EXACT["90/10"], loose) == 50
    )
    assert recommended_batch(EXACT["50/50"], SplitSettings(max_samples=40)) == 40


def test_expected_sample_size_orders_cases_sensibly() -> None:
    exact = expected_sample_size(EXACT["75/25"])
    off7 = expected_sample_size(EXACT["75/25"], true_shares={"v1": 68, "v2": 32})
    off3 = expected_sample_size(EXACT["75/25"], true_shares={"v1": 72, "v2": 28})
    assert off7 < exact < off3 <= default_max_samples(EXACT["75/25"])
    # a zero-weight backend that gets 1% of requests: the first hit decides, about 100 requests in
    assert expected_sample_size({"v1": 1, "v2": 0}, true_shares={"v1": 99, "v2": 1}) == pytest.approx(100)
    assert expected_sample_size({"v1": 1}, true_shares={"v1": 9, "web": 1}) == pytest.approx(10)


def test_the_design_shares_alpha_among_the_sides_that_can_fire() -> None:
    """``m`` counts the sides with 0 < p0 < 1, halved for exactly two such backends, and the fail threshold is
    ln(max(m, 1) / alpha'), alpha' = alpha (1 - 1e-3) (module docstring)."""
    alpha_ = 1e-6 * (1 - 1e-3)
    cases = [
        ({"a": 1, "b": 1}, 0.05, 2),  # four sides, two pairs
        ({"a": 50, "b": 30, "c": 20}, 0.05, 6),
        ({"a": 75, "b": 25, "c": 0}, 0.05, 2),  # c's only side ("above" from 0) cannot fire by chance
        ({"a": 9, "b": 1}, 0.5, 1),  # a's "below" and b's "above": one pair
        ({"a": 1, "b": 0}, 0.05, 0),  # nothing can fire by chance: ln(1 / alpha')
        ({"a": 1}, 0.05, 0),
    ]
    for weights, tolerance, m in cases:
        check = WeightCheck(weights, SplitSettings(tolerance=tolerance))
        assert check._design.m == m, weights
        assert check.fail_threshold == pytest.approx(math.log(max(m, 1) / alpha_), rel=1e-12), weights


def test_the_ceiling_follows_the_settings() -> None:
    """Without ``max_samples`` the ceiling is derived from the check's own alpha, beta and tolerance."""
    weights = EXACT["75/25"]
    assert WeightCheck(weights, LOOSE).max_samples == default_max_samples(weights, LOOSE)
    assert default_max_samples(weights, LOOSE) < default_max_samples(weights)
    assert WeightCheck(weights, SplitSettings(max_samples=500)).max_samples == 500
    assert WeightCheck(weights, SplitSettings(max_samples=1)).max_samples == 1  # 1 is a whole number >= 1


def test_the_thresholds_are_inclusive() -> None:
    """Pass at ``L <= ln(beta)`` and fail at ``L >= ln(m / alpha')`` (module docstring), checked where an LLR
    equals a threshold to the last bit: each request to ``a`` doubles the likelihood ratio of "a gets
    everything" (50/50 at tolerance 0.5), and a single backend at tolerance 0.5 halves it."""
    one = WeightCheck({"a": 1}, SplitSettings(tolerance=0.5, beta=0.25))
    assert one.update({"a": 1}) is Decision.CONTINUE
    assert one.update({"a": 1}) is Decision.PASS and one._llrs() == [one.pass_threshold]
    alpha = 2**-19 / (1 - 1e-3)  # m = 2, so ln(m / alpha') = ln(2**20) = 20 ln 2
    check = WeightCheck({"a": 1, "b": 1}, SplitSettings(alpha=alpha, tolerance=0.5))
    assert check.update({"a": 19}) is Decision.CONTINUE
    assert check.update({"a": 1}) is Decision.FAIL and max(check._llrs()) == check.fail_threshold


def test_p_value() -> None:
    """``m`` times the smallest inverse likelihood ratio, at most 1; 0 once a backend outside the split
    answered; 1 when no side can fire (no backend can be off by the tolerance)."""
    check = WeightCheck({"a": 7, "b": 3}, SplitSettings(tolerance=0.5))
    assert check.p_value() == 1.0  # nothing seen: m * 1 = 1
    check.update({"a": 3, "b": 7})
    # m = 1 (a's "below" and b's "above" are one side); L = 3 ln(0.2/0.7) + 7 ln(0.8/0.3)
    assert check.p_value() == pytest.approx((7 / 2) ** 3 * (3 / 8) ** 7, rel=1e-12)
    paired = WeightCheck({"a": 1, "b": 1})
    paired.update({"a": 5, "b": 5})
    assert paired.p_value() == 1.0  # m = 2 and a ratio below 1: capped at 1
    paired.update({"a": 60, "b": 20})  # L = 65 ln(1.1) + 25 ln(0.9) for a's "above" side
    assert paired.p_value() == pytest.approx(2 * 1.1**-65 * 0.9**-25, rel=1e-12)
    assert 0 < paired.p_value() < 1
    outside = WeightCheck({"a": 1, "b": 1})
    outside.update({"a": 5, "b": 5, "web": 1})
    assert outside.p_value() == 0.0 and outside.evidence().p_value == 0.0
    nothing_to_test = WeightCheck({"a": 1, "b": 1}, SplitSettings(tolerance=0.6))
    assert nothing_to_test._llrs() == [] and nothing_to_test.p_value() == 1.0
    assert nothing_to_test.update({"a": 1}) is Decision.PASS


# -------------------------------------------------------------------------------------------------------
# Per-batch consistency and exact count comparison


def test_batch_consistent() -> None:
    weights = {"v1": 75, "v2": 25, "v3": 0}
    assert batch_consistent(weights, {"v1": 148, "v2": 52})
    assert not batch_consistent(weights, {"v1": 100, "v2": 100})  # still the old 50/50
    assert not batch_consistent(weights, {"v1": 150, "v2": 49, "v3": 1})  # zero weight hit
    assert not batch_consistent(weights, {"v1": 150, "v2": 50, "web": 1})  # outside the split
    assert not batch_consistent(weights, {})  # no evidence
    assert batch_consistent({"v1": 1, "v2": 0}, {"v1": 10})
    # lenient: a batch a 5-point-off mesh could produce passes; the sequential check is what certifies
    assert batch_consistent(weights, {"v1": 140, "v2": 60})
    # "not rejected at p_threshold": a p-value equal to the threshold is consistent
    at = min(binomial_two_sided_p(2, 10, 0.5), binomial_two_sided_p(8, 10, 0.5))
    assert batch_consistent({"v1": 1, "v2": 1}, {"v1": 2, "v2": 8}, p_threshold=at)
    assert not batch_consistent({"v1": 1, "v2": 1}, {"v1": 2, "v2": 8}, p_threshold=at * 1.001)


def test_batch_consistent_false_alarm_rate_is_at_most_its_threshold() -> None:
    weights, runs, rng = EXACT["50/30/20"], 2000, random.Random("batch")
    source = random_mesh(weights, rng)
    alarms = sum(not batch_consistent(weights, source(200), p_threshold=0.01) for _ in range(runs))
    assert alarms <= critical_count(runs, 3 * 0.01)  # three backends, each rejected with p <= 0.01


def test_compare_counts() -> None:
    exact = compare_counts(
        {"success_count": 200, "failure_count": 0}, {"success_count": 200.0, "failure_count": 0}
    )
    assert exact.ok and exact.message == "counts as expected: success_count 200, failure_count 0"
    off = compare_counts({"success_count": 200, "failure_count": 10}, {"success_count": 187})
    assert not off.ok
    assert (
        off.message == "success_count: expected 200, observed 187; failure_count: expected 10, not reported"
    )
    assert [i.ok for i in off.items] == [False, False]
    tolerant = compare_counts({"success_count": 200}, {"success_count": 191.5}, relative_tolerance=0.05)
    assert tolerant.ok and tolerant.items[0].allowed == 10 and tolerant.relative_tolerance == 0.05
    assert tolerant.to_dict()["relative_tolerance"] == 0.05 and exact.relative_tolerance == 0.0
    assert not compare_counts({"success_count": 200}, {"success_count": 189.9}, relative_tolerance=0.05).ok
    assert "(allowed +- 5%)" in compare_counts({"c": 200}, {"c": 1}, relative_tolerance=0.05).message
    json.dumps(off.to_dict(), allow_nan=False)
    with pytest.raises(ValueError, match="relative_tolerance"):
        compare_counts({}, {}, relative_tolerance=-1)


# -------------------------------------------------------------------------------------------------------
# Against Gateway API's weight check (conformance/utils/weight): 500 requests, every backend within +-5
# points, the whole check retried up to 10 times until it passes


def gateway_api_check(source: BatchSource, shares: Mapping[str, float]) -> bool:
    for _attempt in range(10):
        counts = source(500)
        if all(abs(counts.get(name, 0) / 500 - share) <= 0.05 for name, share in shares.items()):
            return True
    return False


def test_gateway_api_check_passes_a_62_38_mesh_claiming_70_30_and_ours_fails_it() -> None:
    claim, truth = {"v1": 0.7, "v2": 0.3}, {"v1": 62, "v2": 38}
    # exactly: one attempt passes when v1's count k has |k/500 - 0.7| <= 0.05 (and v2's likewise), in floats
    once = sum(
        math.comb(500, k) * 0.62**k * 0.38 ** (500 - k)
        for k in range(501)
        if abs(k / 500 - 0.7) <= 0.05 and abs((500 - k) / 500 - 0.3) <= 0.05
    )
    within_ten = 1 - (1 - once) ** 10
    assert 0.55 < within_ten < 0.65  # "most of the time"
    runs, rng = 400, random.Random("gateway")
    passes = sum(gateway_api_check(random_mesh(truth, rng), claim) for _ in range(runs))
    assert abs(passes - runs * within_ten) <= 5 * math.sqrt(runs * within_ten * (1 - within_ten))
    ours = simulate({"v1": 70, "v2": 30}, lambda: random_mesh(truth, rng), runs=100)
    assert ours.failed == 100
