"""The sequential weight check: does a mesh split traffic by its TrafficSplit's weights?

A check is a hypothesis test with stated error rates, not retry-until-pass. Pure: no I/O, no clock; the suite
feeds it the per-backend counts of each batch of requests (``WeightCheck.update``) and stops when it says so.

Model. Backend *i* has expected share ``w_i`` = weight / sum of weights. Each request goes to backend *i* with
probability ``q_i`` given everything before it. H0: ``q_i = w_i`` for every *i* (a correct mesh). The mesh is
wrong when some backend is off by at least the tolerance ``t``: ``|q_j - w_j| >= t`` for some *j*.

Design: per backend two one-sided SPRTs on its marginal count (a request is "to *i*" or "elsewhere"):
H0 ``p = w_i`` against ``p = w_i + t`` ("above") and against ``p = w_i - t`` ("below"), each only where the
alternative lies in [0, 1]. After ``n`` requests, ``x_i`` of them to *i*, a side's log-likelihood ratio is
``L = x_i ln(p1/p0) + (n - x_i) ln((1-p1)/(1-p0))``.

* Fail when any side has ``L >= ln(m / alpha')``, where ``m`` is the number of sides that can fire by
  chance (``0 < w_i < 1``; with exactly two such backends their sides coincide pairwise, so ``m`` is halved)
  and ``alpha' = alpha (1 - 1e-3)``. Why it holds: under H0 each ``exp(L)`` is a nonnegative martingale with
  mean 1, so by Ville's inequality ``P(sup_n L >= ln(m/alpha')) <= alpha'/m``; a union bound over the ``m``
  sides gives ``alpha'``. The supremum is over every ``n``, so it holds however the batches are sized and
  whenever the suite looks (anytime-valid: optional stopping is free). The other ``1e-3 alpha`` pays for
  truncation, below.
* Pass when every side has ``L <= ln(beta)``. Why it holds with no Bonferroni: if backend *j*'s share is
  ``q >= w_j + t`` at every request, the *inverse* likelihood ratio ``exp(-L)`` of *j*'s "above" side is a
  nonnegative supermartingale (one request multiplies it by ``q w/(w+t) + (1-q)(1-w)/(1-w-t)``, which is 1 at
  ``q = w + t`` and decreases in ``q``), so ``P(ever L <= ln beta) <= beta`` by Ville again. Passing needs
  *every* side below ``ln beta``, in particular that one: so a mesh off by ``>= t`` anywhere passes with
  probability ``<= beta`` whatever the other backends do. (Likewise "below" for ``q <= w_j - t``.)
* A correct mesh that is *less* variable than independent draws (deterministic smooth weighted round robin)
  keeps every count within a few requests ``D`` of ``n w_i``; then ``L <= D c_i - n KL(w_i || p1)`` with
  ``c_i = |ln(p1/p0) - ln((1-p1)/(1-p0))|``, which never reaches the fail threshold while
  ``D c_i < ln(m/alpha')`` (``D < 1`` for nginx-style smooth WRR; the tests check it) and drifts down to the
  pass threshold.
* Exact cases fall out of the same formula with infinite log ratios: a zero-weight backend's "above" side is
  ``+inf`` on its first request (immediate failure: a zero-weight backend gets exactly nothing) and
  ``n ln(1 - t)`` otherwise, so passing still needs ``(1-t)^n <= beta`` (270 requests at the defaults); a
  backend with weight 1 mirrors it. A response from a backend outside the split (the root service's own
  pods, an unknown name) fails at once and is named in the evidence.

Truncation. A check that reaches ``max_samples`` undecided fails as *inconclusive*. The default is the
smallest ``N`` at which a correct mesh is still undecided with probability ``<= 1e-3 alpha`` (so the total
false failure stays ``<= alpha``). Not passing at ``N`` means some side has ``L(N) > ln beta``; by Chernoff,
for any ``0 < lam < 1``, ``P0(L(N) > ln beta) <= exp(N psi(lam) + lam ln(1/beta))`` with
``psi(lam) = ln E0[exp(lam l)] = ln(p0 (p1/p0)^lam + (1-p0) ((1-p1)/(1-p0))^lam) < 0``. Each side's bound
is set to ``1e-3 alpha / m``: ``N >= (ln(m / (1e-3 alpha)) + lam ln(1/beta)) / -psi(lam)``, minimised over
``lam``. Example, 50/50 at the defaults: ``m = 2``, ``psi(1/2) = ln(sqrt(.5 * .55) + sqrt(.5 * .45)) =
-0.001255``, so at ``lam = 1/2`` ``N = (ln(2 / 1e-9) + 6.91) / 0.001255 = 22,600``; the optimum over
``lam`` gives 22,229, against a mean of about 4,000 requests (``benchmarks/split_check.py``). Only a mesh
inside the indifference zone (off by less than ``t``) or far off the model (requests not independent) gets
there.

Evidence: ``SplitEvidence`` (frozen, ``to_dict()`` is JSON-serialisable). Its per-backend interval is an
anytime-valid confidence sequence, not the test itself: Robbins' beta-binomial mixture (Jeffreys prior,
Beta(1/2, 1/2)): ``M_n(p) = B(x + 1/2, n - x + 1/2) / B(1/2, 1/2) / (p^x (1-p)^(n-x))`` is a nonnegative
martingale under share ``p``, so ``{p : M_n(p) < k / (1 - confidence)}`` covers every backend's true share at
every ``n`` at once with probability ``>= confidence`` (Bonferroni over the ``k`` backends).
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from enum import Enum
from fractions import Fraction
from typing import Any

__all__ = [
    "BackendEvidence",
    "BatchSource",
    "CountComparison",
    "CountItem",
    "Decision",
    "SimulationSummary",
    "SplitEvidence",
    "SplitSettings",
    "Weight",
    "WeightCheck",
    "batch_consistent",
    "binomial_two_sided_p",
    "compare_counts",
    "confidence_interval",
    "default_max_samples",
    "expected_sample_size",
    "inconclusive_bound",
    "random_mesh",
    "recommended_batch",
    "run_check",
    "simulate",
]

Weight = int | float | Fraction
#: A traffic source: asked for ``size`` requests, returns how many each backend answered.
BatchSource = Callable[[int], Mapping[str, int]]

#: The share of alpha that pays for truncation (a correct mesh reaching ``max_samples`` undecided).
TRUNCATION_SHARE = 1e-3
MIN_BATCH = 50


class Decision(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    CONTINUE = "continue"


@dataclass(frozen=True)
class SplitSettings:
    """The check's options. ``max_samples=None`` derives the ceiling from the design (module docstring).
    ``confidence`` is only for the reported intervals; the decision uses ``alpha`` and ``beta``."""

    alpha: float = 1e-6
    beta: float = 1e-6
    tolerance: float = 0.05
    max_samples: int | None = None
    confidence: float = 0.95

    def __post_init__(self) -> None:
        for name in ("alpha", "beta", "tolerance", "confidence"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
                raise ValueError(f"split check setting {name}={value!r}: must be a number between 0 and 1")
        if self.max_samples is not None and (
            isinstance(self.max_samples, bool)
            or not isinstance(self.max_samples, int)
            or self.max_samples < 1
        ):
            raise ValueError(
                f"split check setting max_samples={self.max_samples!r}: must be a whole number >= 1"
            )


# ---------------------------------------------------------------------------------------------------------
# Shares and the one-sided tests


def _shares(weights: Mapping[str, Weight], what: str = "weight") -> dict[str, Fraction]:
    """Weights -> exact shares, in the mapping's order. ValueError names the offending backend."""
    if not weights:
        raise ValueError("no backends: a split needs at least one")
    exact: dict[str, Fraction] = {}
    for name, value in weights.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"backend name {name!r}: must be a non-empty string")
        if isinstance(value, bool) or not isinstance(value, int | float | Fraction):
            raise ValueError(f"backend {name!r}: {what} {value!r} is not a number")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"backend {name!r}: {what} {value!r} is not a finite number")
        if value < 0:
            raise ValueError(f"backend {name!r}: {what} {value} is negative ({what}s must be >= 0)")
        exact[name] = Fraction(value)
    total = sum(exact.values(), Fraction(0))
    if total == 0:
        raise ValueError(f"every {what} is zero: nothing can be checked (no backend may receive traffic)")
    return {name: value / total for name, value in exact.items()}


def _log_ratio(num: Fraction, den: Fraction) -> float:
    if num == 0:
        return -math.inf
    if den == 0:
        return math.inf
    return math.log(num / den)


@dataclass(frozen=True)
class _Side:
    """One SPRT: backend ``index``'s share is ``p0`` (H0) against ``p1`` (``above`` or below it)."""

    index: int
    above: bool
    p0: Fraction
    p1: Fraction
    hit: float  # ln(p1/p0): added for each request to this backend
    miss: float  # ln((1-p1)/(1-p0)): added for each request elsewhere

    @property
    def counted(self) -> bool:
        """Can fire by chance under H0 (so it takes a share of alpha): only when 0 < p0 < 1."""
        return 0 < self.p0 < 1

    def llr(self, x: int, n: int) -> float:
        total = 0.0
        if x:
            total += x * self.hit
        if n - x:
            total += (n - x) * self.miss
        return total

    def drift(self, q: float) -> float:
        """Mean LLR per request when the true share is ``q`` (0 * inf counts as 0)."""
        total = 0.0
        if q > 0:
            total += q * self.hit
        if q < 1:
            total += (1 - q) * self.miss
        return total


@dataclass(frozen=True)
class _Design:
    names: tuple[str, ...]
    weights: tuple[Fraction, ...]
    shares: tuple[Fraction, ...]
    sides: tuple[_Side, ...]
    m: int  # distinct sides that share alpha
    paired: bool  # exactly two backends with 0 < share < 1: one's "above" is the other's "below"
    tolerance: Fraction


def _design(weights: Mapping[str, Weight], settings: SplitSettings) -> _Design:
    shares = _shares(weights)
    tol = Fraction(str(settings.tolerance))
    sides: list[_Side] = []
    for index, p0 in enumerate(shares.values()):
        for above in (True, False):
            p1 = p0 + tol if above else p0 - tol
            if 0 <= p1 <= 1:
                sides.append(_Side(index, above, p0, p1, _log_ratio(p1, p0), _log_ratio(1 - p1, 1 - p0)))
    counted = sum(1 for s in sides if s.counted)
    paired = sum(1 for p in shares.values() if 0 < p < 1) == 2
    m = counted // 2 if paired else counted
    raw = tuple(Fraction(w) for w in weights.values())
    return _Design(tuple(shares), raw, tuple(shares.values()), tuple(sides), m, paired, tol)


def _fail_alpha(settings: SplitSettings) -> float:
    return settings.alpha * (1 - TRUNCATION_SHARE)


def _fail_threshold(design: _Design, settings: SplitSettings) -> float:
    return math.log(max(design.m, 1) / _fail_alpha(settings))


def _golden_min(f: Callable[[float], float], lo: float = 1e-9, hi: float = 1 - 1e-9) -> float:
    """The argument that minimises a unimodal ``f`` on [lo, hi]."""
    ratio = (math.sqrt(5) - 1) / 2
    a, b = lo, hi
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(100):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = f(d)
    return (a + b) / 2


def _psi(side: _Side, lam: float) -> float:
    """ln E0[exp(lam * one request's LLR)]."""
    p0, p1 = float(side.p0), float(side.p1)
    return math.log(p0 * (p1 / p0) ** lam + (1 - p0) * ((1 - p1) / (1 - p0)) ** lam)


def _deterministic_pass_n(design: _Design, settings: SplitSettings) -> int:
    """Sides with p0 in {0, 1} move by ln(1 - t) per request under H0: they pass after this many."""
    if all(s.counted for s in design.sides):
        return 0
    return math.ceil(math.log(settings.beta) / math.log(1 - float(design.tolerance)))


def inconclusive_bound(weights: Mapping[str, Weight], n: int, settings: SplitSettings | None = None) -> float:
    """Upper bound on the probability that a correct mesh (independent draws) has not passed after ``n``
    requests: the Chernoff bound of the module docstring summed over the sides."""
    settings = settings or SplitSettings()
    design = _design(weights, settings)
    if n < _deterministic_pass_n(design, settings):
        return 1.0
    log_inv_beta = -math.log(settings.beta)
    total = 0.0
    for side in design.sides:
        if side.counted:

            def exponent(lam: float, s: _Side = side) -> float:
                return n * _psi(s, lam) + lam * log_inv_beta

            total += math.exp(min(0.0, exponent(_golden_min(exponent))))
    if design.paired:
        total /= 2  # the two backends' sides coincide
    return min(1.0, total)


def default_max_samples(weights: Mapping[str, Weight], settings: SplitSettings | None = None) -> int:
    """The truncation point: a correct mesh is still undecided there with probability <= 1e-3 alpha."""
    settings = settings or SplitSettings()
    design = _design(weights, settings)
    risk = TRUNCATION_SHARE * settings.alpha / max(design.m, 1)
    log_inv_beta = -math.log(settings.beta)
    needed = _deterministic_pass_n(design, settings)
    for side in design.sides:
        if side.counted:

            def samples(lam: float, s: _Side = side) -> float:
                return (math.log(1 / risk) + lam * log_inv_beta) / -_psi(s, lam)

            needed = max(needed, math.ceil(samples(_golden_min(samples))))
    return max(needed, 1)


# ---------------------------------------------------------------------------------------------------------
# Evidence


def _fmt_number(value: float) -> str:
    """1e-06 -> 1e-6; 0.05 -> 0.05."""
    return re.sub(r"e([+-])0*(\d)", r"e\1\2", f"{value:g}")


def _fmt_pct(share: float) -> str:
    """0.25 -> 25; 1/3 -> 33.3 (at most one decimal, none when whole)."""
    text = f"{share * 100:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _json_float(value: float | None) -> float | str | None:
    if value is None or math.isfinite(value):
        return value
    return "Infinity" if value > 0 else "-Infinity"


@dataclass(frozen=True)
class BackendEvidence:
    """One backend: what was expected, what was seen, the interval for its share and its two SPRT LLRs
    (``None`` where the alternative falls outside [0, 1])."""

    name: str
    weight: str
    expected_share: float
    count: int
    observed_share: float
    interval: tuple[float, float]
    llr_above: float | None
    llr_below: float | None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["interval"] = list(self.interval)
        data["llr_above"] = _json_float(self.llr_above)
        data["llr_below"] = _json_float(self.llr_below)
        return data


@dataclass(frozen=True)
class SplitEvidence:
    """What a report needs. ``p_value`` is anytime-valid for "the shares are as weighted" (Bonferroni over
    the sides); ``inconclusive`` marks a failure by truncation; infinite LLRs serialise as "Infinity"."""

    decision: Decision
    inconclusive: bool
    n: int
    backends: tuple[BackendEvidence, ...]
    unexpected: tuple[tuple[str, int], ...]
    fail_threshold: float
    pass_threshold: float
    p_value: float
    settings: SplitSettings
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision.value,
            "inconclusive": self.inconclusive,
            "n": self.n,
            "backends": [b.to_dict() for b in self.backends],
            "unexpected": {name: count for name, count in self.unexpected},
            "fail_threshold": self.fail_threshold,
            "pass_threshold": self.pass_threshold,
            "p_value": self.p_value,
            "settings": asdict(self.settings),
            "message": self.message,
        }


def _log_mixture(x: int, n: int, p: float, log_marginal: float) -> float:
    """ln M_n(p) for the Beta(1/2, 1/2) mixture (module docstring)."""
    value = log_marginal
    if x:
        value -= x * math.log(p) if p > 0 else -math.inf
    if n - x:
        value -= (n - x) * math.log1p(-p) if p < 1 else -math.inf
    return value


def _lbeta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def confidence_interval(x: int, n: int, delta: float) -> tuple[float, float]:
    """Anytime-valid interval for a share from ``x`` of ``n``: the ``1 - delta`` confidence sequence of the
    module docstring at this ``n``. ``(0, 1)`` before any request."""
    if n == 0:
        return (0.0, 1.0)
    log_marginal = _lbeta(x + 0.5, n - x + 0.5) - _lbeta(0.5, 0.5)
    bound = math.log(1 / delta)
    centre = x / n

    def outside(p: float) -> bool:
        return _log_mixture(x, n, p, log_marginal) >= bound

    def edge(inside: float, out: float) -> float:
        for _ in range(60):
            mid = (inside + out) / 2
            inside, out = (inside, mid) if outside(mid) else (mid, out)
        return inside

    lo = 0.0 if not outside(0.0) else edge(centre, 0.0)
    hi = 1.0 if not outside(1.0) else edge(centre, 1.0)
    return (lo, hi)


# ---------------------------------------------------------------------------------------------------------
# The check


class WeightCheck:
    """Feed it batches of per-backend counts; it says pass, fail or continue after each.

    ``WeightCheck({"v1": 75, "v2": 25}).update({"v1": 160, "v2": 40})``. Counts are responses attributed to
    a backend (errors are the caller's business); names outside ``weights`` fail the check at once."""

    def __init__(
        self, weights: Mapping[str, Weight], settings: SplitSettings | None = None, *, unit: str = "request"
    ) -> None:
        """``unit``: what is counted, for messages ("request", "connection", "flow")."""
        settings = settings or SplitSettings()
        self.unit = unit
        self._design = _design(weights, settings)
        self.max_samples = settings.max_samples or default_max_samples(weights, settings)
        self.settings = replace(settings, max_samples=self.max_samples)
        self.fail_threshold = _fail_threshold(self._design, settings)
        self.pass_threshold = math.log(settings.beta)
        self.counts: dict[str, int] = dict.fromkeys(self._design.names, 0)
        self.unexpected: dict[str, int] = {}
        self.n = 0
        self.decision = Decision.CONTINUE
        self.inconclusive = False

    @property
    def remaining(self) -> int:
        """Requests left before the check gives up undecided."""
        return max(0, self.max_samples - self.n)

    def update(self, counts: Mapping[str, int]) -> Decision:
        if self.decision is not Decision.CONTINUE:
            raise RuntimeError(
                f"the split check has already decided ({self.decision.value}); start a new one"
            )
        for name, count in counts.items():
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ValueError(f"batch count for {name!r} is {count!r}: counts are whole numbers >= 0")
        for name, count in counts.items():
            if name in self.counts:
                self.counts[name] += count
            elif count:
                self.unexpected[name] = count  # the check fails on this batch: no later batch adds to it
            self.n += count
        self.decision = self._decide()
        return self.decision

    def _llrs(self) -> list[float]:
        names = self._design.names
        return [s.llr(self.counts[names[s.index]], self.n) for s in self._design.sides]

    def _decide(self) -> Decision:
        if self.unexpected:
            return Decision.FAIL
        llrs = self._llrs()
        if any(llr >= self.fail_threshold for llr in llrs):
            return Decision.FAIL
        if all(llr <= self.pass_threshold for llr in llrs):
            return Decision.PASS
        if self.n >= self.max_samples:
            self.inconclusive = True
            return Decision.FAIL
        return Decision.CONTINUE

    def p_value(self) -> float:
        """Anytime-valid p-value for H0: ``m`` times the smallest inverse likelihood ratio, at most 1."""
        if self.unexpected:
            return 0.0
        worst = max(self._llrs(), default=0.0)
        if worst == math.inf:
            return 0.0
        return min(1.0, max(self._design.m, 1) * math.exp(-worst))

    def evidence(self) -> SplitEvidence:
        design, n = self._design, self.n
        llrs = self._llrs()
        by_backend: dict[tuple[int, bool], float] = {
            (s.index, s.above): llr for s, llr in zip(design.sides, llrs, strict=True)
        }
        delta = (1 - self.settings.confidence) / len(design.names)
        backends = tuple(
            BackendEvidence(
                name=name,
                weight=str(design.weights[i]),
                expected_share=float(design.shares[i]),
                count=self.counts[name],
                observed_share=self.counts[name] / n if n else 0.0,
                interval=confidence_interval(self.counts[name], n, delta),
                llr_above=by_backend.get((i, True)),
                llr_below=by_backend.get((i, False)),
            )
            for i, name in enumerate(design.names)
        )
        return SplitEvidence(
            decision=self.decision,
            inconclusive=self.inconclusive,
            n=n,
            backends=backends,
            unexpected=tuple(sorted(self.unexpected.items(), key=lambda kv: (-kv[1], kv[0]))),
            fail_threshold=self.fail_threshold,
            pass_threshold=self.pass_threshold,
            p_value=self.p_value(),
            settings=self.settings,
            message=self._message(backends, llrs),
        )

    def _message(self, backends: tuple[BackendEvidence, ...], llrs: list[float]) -> str:
        n, tol, design = self.n, _fmt_pct(self.settings.tolerance), self._design
        requests = f"{n:,} {self.unit}{'s' if n != 1 else ''}"
        if self.unexpected:
            (name, count), *others = sorted(self.unexpected.items(), key=lambda kv: (-kv[1], kv[0]))
            more = f" (and {', '.join(o for o, _ in others)})" if others else ""
            return (
                f"{name}{more}, not a backend of the split, answered {count:,} of {requests}; "
                f"expected only {', '.join(design.names)}"
            )
        if n == 0:
            return "no requests yet"
        if self.decision is Decision.PASS:
            parts = [
                f"{b.name} none (weight 0)"
                if b.expected_share == 0
                else f"{b.name} {b.observed_share * 100:.1f}% ({_fmt_pct(b.expected_share)}%)"
                for b in backends
            ]
            return f"split as weighted over {requests}, every backend within {tol} points: " + ", ".join(
                parts
            )
        # the worst backend: the side with the most evidence against H0 (fail), or furthest from passing
        # (with two backends one's "below" is the other's "above": name the one that got too much)
        side, _ = max(zip(design.sides, llrs, strict=True), key=lambda sl: (sl[1], sl[0].above))
        b = backends[side.index]
        if b.expected_share == 0 and b.count:
            return f"{b.name} (weight 0) received {b.count:,} of {requests}; expected none"
        seen = (
            f"{b.name} received {b.observed_share * 100:.1f}% of {requests}; "
            f"expected {_fmt_pct(b.expected_share)}% +- {tol} points"
        )
        if self.decision is Decision.FAIL and not self.inconclusive:
            return f"{seen} (p < {_fmt_number(self.settings.alpha)})"
        if self.inconclusive:
            return (
                f"inconclusive after {requests} (max samples): {seen}; neither clearly within nor clearly "
                f"outside the tolerance (off by less than {tol} points, or requests are not independent)"
            )
        return f"undecided after {requests}: {seen}"


# ---------------------------------------------------------------------------------------------------------
# Planning: sample sizes and batches


def expected_sample_size(
    weights: Mapping[str, Weight],
    settings: SplitSettings | None = None,
    true_shares: Mapping[str, Weight] | None = None,
) -> float:
    """Wald's approximation of the mean number of requests to a decision, for a mesh with ``true_shares``
    (default: the weights, a correct mesh). It ignores overshoot and the spread of the slowest side, so it is
    somewhat low; ``simulate`` gives the real figure. Capped at the truncation point."""
    settings = settings or SplitSettings()
    design = _design(weights, settings)
    truth = (
        _shares(true_shares, "share")
        if true_shares is not None
        else dict(zip(design.names, design.shares, strict=True))
    )
    max_n = settings.max_samples or default_max_samples(weights, settings)
    fail_at = _fail_threshold(design, settings)
    pass_at = -math.log(settings.beta)
    stray = float(sum(q for name, q in truth.items() if name not in design.names))
    fail_times = [1 / stray] if stray else []
    pass_times: list[float] = []
    for side in design.sides:
        q = float(truth.get(design.names[side.index], 0))
        if side.hit == math.inf and q > 0:  # a zero-weight backend that gets traffic: never passes
            fail_times.append(1 / q)
            pass_times.append(math.inf)
        elif side.miss == math.inf and q < 1:  # a weight-1 backend that misses some
            fail_times.append(1 / (1 - q))
            pass_times.append(math.inf)
        elif side.hit == -math.inf and q > 0:
            pass_times.append(1 / q)
        elif side.miss == -math.inf and q < 1:
            pass_times.append(1 / (1 - q))
        else:
            mu = side.drift(q)
            if mu > 0:
                fail_times.append(fail_at / mu)
            pass_times.append(pass_at / -mu if mu < 0 else math.inf)
    estimate = min([*fail_times, max(pass_times, default=0.0)])
    return min(estimate, float(max_n))


def recommended_batch(weights: Mapping[str, Weight], settings: SplitSettings | None = None) -> int:
    """A quarter of a correct mesh's expected sample size, at least 50: a handful of round trips, and the
    overshoot past the stopping point is at most a quarter of the mean."""
    settings = settings or SplitSettings()
    size = max(MIN_BATCH, math.ceil(expected_sample_size(weights, settings) / 4))
    return min(size, settings.max_samples or default_max_samples(weights, settings))


# ---------------------------------------------------------------------------------------------------------
# Driving and simulating a check


def run_check(
    weights: Mapping[str, Weight],
    source: BatchSource,
    settings: SplitSettings | None = None,
    *,
    batch: int | Callable[[int], int] | None = None,
) -> SplitEvidence:
    """Ask ``source`` for batches until the check decides. ``batch``: a size, or a function of the requests
    so far (default ``recommended_batch``); never past ``max_samples``."""
    check = WeightCheck(weights, settings)
    size = batch if batch is not None else recommended_batch(weights, check.settings)
    while check.decision is Decision.CONTINUE:
        wanted = size(check.n) if callable(size) else size
        if wanted < 1:
            raise ValueError(f"batch size {wanted}: must be >= 1")
        counts = source(min(wanted, check.remaining))
        if sum(counts.values()) == 0:
            raise ValueError(f"the traffic source answered none of {min(wanted, check.remaining)} requests")
        check.update(counts)
    return check.evidence()


def random_mesh(true_shares: Mapping[str, Weight], rng: random.Random) -> BatchSource:
    """A simulated mesh: every request an independent draw with P(name) = share."""
    shares = _shares(true_shares, "share")
    names = list(shares)
    cumulative: list[float] = []
    total = Fraction(0)
    for share in shares.values():
        total += share
        cumulative.append(float(total))

    def draw(size: int) -> Mapping[str, int]:
        return Counter(rng.choices(names, cum_weights=cumulative, k=size))

    return draw


@dataclass(frozen=True)
class SimulationSummary:
    runs: int
    passed: int
    failed: int  # decided against the weights
    inconclusive: int  # reached max_samples undecided (also a failure)
    sample_sizes: tuple[int, ...]

    @property
    def mean_n(self) -> float:
        return sum(self.sample_sizes) / len(self.sample_sizes)

    def quantile_n(self, q: float) -> int:
        """Nearest-rank quantile of the sample sizes."""
        ordered = sorted(self.sample_sizes)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def simulate(
    weights: Mapping[str, Weight],
    make_source: Callable[[], BatchSource],
    settings: SplitSettings | None = None,
    *,
    runs: int,
    batch: int | Callable[[int], int] | None = None,
) -> SimulationSummary:
    """Run the check ``runs`` times, each against a fresh source (``make_source()``)."""
    passed = failed = inconclusive = 0
    sizes: list[int] = []
    for _ in range(runs):
        evidence = run_check(weights, make_source(), settings, batch=batch)
        sizes.append(evidence.n)
        if evidence.decision is Decision.PASS:
            passed += 1
        elif evidence.inconclusive:
            inconclusive += 1
        else:
            failed += 1
    return SimulationSummary(runs, passed, failed, inconclusive, tuple(sizes))


# ---------------------------------------------------------------------------------------------------------
# Lenient per-batch check and exact count comparison


def _log_pmf(k: int, n: int, p: float) -> float:
    return (
        math.lgamma(n + 1)
        - math.lgamma(k + 1)
        - math.lgamma(n - k + 1)
        + k * math.log(p)
        + (n - k) * math.log1p(-p)
    )


def binomial_two_sided_p(x: int, n: int, p: float) -> float:
    """Exact two-sided binomial p-value: the probability of every count no more likely than ``x``
    (the "minimum likelihood" definition). Sums outward from the tails and stops once terms are negligible."""
    if not 0 <= x <= n:
        raise ValueError(f"count {x} outside 0..{n}")
    if p <= 0 or p >= 1:
        return 1.0 if x == (0 if p <= 0 else n) else 0.0
    mode = min(n, math.floor((n + 1) * p))
    limit = _log_pmf(x, n, p) + 1e-7  # relative slack for rounding, as exact tests do
    if x <= mode:
        lo_end = x
        a, b = mode, n  # first k >= mode whose pmf <= pmf(x)
        while a < b:
            mid = (a + b) // 2
            a, b = (a, mid) if _log_pmf(mid, n, p) <= limit else (mid + 1, b)
        hi_start = a if _log_pmf(a, n, p) <= limit else n + 1
    else:
        hi_start = x
        a, b = 0, mode  # last k <= mode whose pmf <= pmf(x)
        while a < b:
            mid = (a + b + 1) // 2
            a, b = (mid, b) if _log_pmf(mid, n, p) <= limit else (a, mid - 1)
        lo_end = a if _log_pmf(a, n, p) <= limit else -1

    def tail(start: int, stop: int, step: int) -> float:
        total, k = 0.0, start
        while k != stop:
            term = math.exp(_log_pmf(k, n, p))
            total += term
            if term < total * 1e-17:
                break
            k += step
        return total

    return min(1.0, tail(lo_end, -1, -1) + tail(hi_start, n + 1, 1))


def batch_consistent(
    weights: Mapping[str, Weight], counts: Mapping[str, int], p_threshold: float = 1e-3
) -> bool:
    """A lenient check of one batch, for waiting until a new split takes effect: no response from outside
    the split, nothing at a zero-weight backend, and every backend's count not rejected by an exact two-sided
    binomial test at ``p_threshold``. An empty batch is no evidence, so not consistent."""
    shares = _shares(weights)
    if any(name not in shares and count for name, count in counts.items()):
        return False
    n = sum(counts.values())
    if n == 0:
        return False
    return all(
        binomial_two_sided_p(counts.get(name, 0), n, float(share)) >= p_threshold
        for name, share in shares.items()
    )


@dataclass(frozen=True)
class CountItem:
    name: str
    expected: float
    observed: float | None  # None: not reported at all
    allowed: float  # largest accepted |observed - expected|
    ok: bool


@dataclass(frozen=True)
class CountComparison:
    ok: bool
    relative_tolerance: float
    items: tuple[CountItem, ...]
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fmt_count(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.3f}".rstrip("0")


def compare_counts(
    expected: Mapping[str, float], observed: Mapping[str, float], *, relative_tolerance: float = 0.0
) -> CountComparison:
    """Counts a mesh reports (e.g. ``success_count``) against what the suite sent: exactly equal, or within
    ``relative_tolerance`` of the expected value for meshes that extrapolate (Prometheus ``increase()``).
    Only the names in ``expected`` are compared; a missing one is a mismatch."""
    if not math.isfinite(relative_tolerance) or relative_tolerance < 0:
        raise ValueError(f"relative_tolerance={relative_tolerance!r}: must be a finite number >= 0")
    items = []
    for name, want in expected.items():
        got = observed.get(name)
        allowed = relative_tolerance * abs(want)
        ok = got is not None and math.isfinite(got) and abs(got - want) <= allowed
        items.append(CountItem(name, want, got, allowed, ok))
    bad = [i for i in items if not i.ok]
    within = f" (allowed +- {_fmt_pct(relative_tolerance)}%)" if relative_tolerance else ""
    if not bad:
        listed = ", ".join(f"{i.name} {_fmt_count(i.expected)}" for i in items)
        message = f"counts as expected{within}: {listed}"
    else:
        message = "; ".join(
            f"{i.name}: expected {_fmt_count(i.expected)}{within}, "
            + ("not reported" if i.observed is None else f"observed {_fmt_count(i.observed)}")
            for i in bad
        )
    return CountComparison(not bad, relative_tolerance, tuple(items), message)
