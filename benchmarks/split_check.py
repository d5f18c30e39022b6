"""Figures for the sequential weight check (smi_conformance/suite/stats.py), quoted in
docs/conformance/statistics.md.

    .venv/bin/python benchmarks/split_check.py [--runs 1000] [--seed 1] [--quick]

1. Sample sizes at the defaults (alpha = beta = 1e-6, tolerance 5 points): per split and per mesh (exact, or
   the first backend giving 3, 5 or 7 points to the last weighted one), for a mesh that draws every request
   at random and for the reference mesh's deterministic smooth weighted round robin (random start phase):
   outcome counts, mean and 95th percentile of the requests used, Wald's approximation, the batch size.
2. Error rates measured where they can be: the same design at alpha = beta = 0.05, with a one-sided 95%
   Clopper-Pearson upper bound on each empirical rate.
3. Gateway API's weight check (500 requests, every backend within +-5 points, retried up to 10 times until it
   passes) against ours, for meshes that claim 70/30: how often each passes and how many requests it takes.

Pure simulation on one core: no mesh, no sockets. Everything is seeded (``--seed``).
"""

from __future__ import annotations

import argparse
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from fractions import Fraction
from functools import partial

from reference_mesh.proxy.split import SmoothWeightedRoundRobin
from smi_conformance.suite.stats import (
    BatchSource,
    SimulationSummary,
    SplitSettings,
    default_max_samples,
    expected_sample_size,
    random_mesh,
    recommended_batch,
    simulate,
)
from smi_conformance.weights import smallest_whole_weights

SPLITS: dict[str, dict[str, Fraction]] = {
    "90/10": {"v1": Fraction(90), "v2": Fraction(10)},
    "75/25": {"v1": Fraction(75), "v2": Fraction(25)},
    "50/50": {"v1": Fraction(50), "v2": Fraction(50)},
    "50/30/20": {"v1": Fraction(50), "v2": Fraction(30), "v3": Fraction(20)},
    "75/25/0": {"v1": Fraction(75), "v2": Fraction(25), "v3": Fraction(0)},
}
LOOSE = SplitSettings(alpha=0.05, beta=0.05)


def shifted(weights: Mapping[str, Fraction], points: int) -> dict[str, Fraction]:
    """The first backend gives ``points`` percentage points to the last backend with a weight."""
    total = sum(weights.values())
    shares = {name: w * 100 / total for name, w in weights.items()}
    first, last = next(iter(shares)), [n for n, w in shares.items() if w > 0][-1]
    shares[first] -= points
    shares[last] += points
    return shares


def swrr_mesh(shares: Mapping[str, Fraction], rng: random.Random) -> BatchSource:
    backends = list(shares.items())
    chooser = SmoothWeightedRoundRobin(backends)
    for _ in range(rng.randrange(sum(smallest_whole_weights([w for _, w in backends])))):
        chooser.choose()
    return lambda size: Counter(str(chooser.choose()) for _ in range(size))


def fmt_shares(shares: Mapping[str, Fraction]) -> str:
    return "/".join(f"{float(s):g}" for s in shares.values())


def binomial_cdf(k: int, n: int, p: float) -> float:
    if p <= 0:
        return 1.0
    if p >= 1:
        return 1.0 if k >= n else 0.0
    return min(
        1.0,
        sum(
            math.exp(
                math.lgamma(n + 1)
                - math.lgamma(i + 1)
                - math.lgamma(n - i + 1)
                + i * math.log(p)
                + (n - i) * math.log1p(-p)
            )
            for i in range(k + 1)
        ),
    )


def upper_bound(errors: int, runs: int, level: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound: the largest rate under which ``errors`` or fewer is still
    likelier than ``1 - level``."""
    lo, hi = errors / runs, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if binomial_cdf(errors, runs, mid) > 1 - level else (lo, mid)
    return hi


def row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def sample_sizes(runs: int, rng: random.Random) -> None:
    print("## 1. Sample sizes at the defaults (alpha = beta = 1e-6, tolerance 5 points)\n")
    print(
        row(
            [
                "split",
                "mesh",
                "scheduler",
                "runs",
                "pass",
                "fail",
                "inconclusive",
                "mean n",
                "p95 n",
                "Wald E[n]",
                "batch",
                "max n",
            ]
        )
    )
    print(row(["---"] * 12))
    for label, weights in SPLITS.items():
        batch, ceiling = recommended_batch(weights), default_max_samples(weights)
        for points in (0, 3, 5, 7):
            truth = shifted(weights, points)
            mesh = "exact" if points == 0 else f"{fmt_shares(truth)} (off {points})"
            wald = expected_sample_size(weights, true_shares=truth)
            schedulers: list[tuple[str, Callable[[], BatchSource], int]] = [
                ("random", partial(random_mesh, truth, rng), runs),
                ("smooth WRR", partial(swrr_mesh, truth, rng), max(10, runs // 20)),
            ]
            for scheduler, make, n_runs in schedulers:
                s = simulate(weights, make, runs=n_runs)
                print(
                    row(
                        [
                            label,
                            mesh,
                            scheduler,
                            f"{n_runs:,}",
                            f"{s.passed:,}",
                            f"{s.failed:,}",
                            f"{s.inconclusive:,}",
                            f"{s.mean_n:,.0f}",
                            f"{s.quantile_n(0.95):,}",
                            f"{wald:,.0f}",
                            f"{batch:,}",
                            f"{ceiling:,}",
                        ]
                    )
                )
    print()


def error_rates(runs: int, rng: random.Random) -> None:
    print("## 2. Error rates at alpha = beta = 0.05 (random batches of 1-100 requests)\n")
    print(row(["split", "mesh", "runs", "error", "errors", "rate", "95% upper bound", "nominal"]))
    print(row(["---"] * 8))
    for label, weights in SPLITS.items():
        for points in (0, 5):
            truth = shifted(weights, points)
            s: SimulationSummary = simulate(
                weights,
                partial(random_mesh, truth, rng),
                LOOSE,
                runs=runs,
                batch=lambda _n: rng.randint(1, 100),
            )
            kind, errors = (
                ("false fail", s.failed + s.inconclusive) if points == 0 else ("false pass", s.passed)
            )
            mesh = "exact" if points == 0 else f"{fmt_shares(truth)} (off 5)"
            print(
                row(
                    [
                        label,
                        mesh,
                        f"{runs:,}",
                        kind,
                        f"{errors:,}",
                        f"{errors / runs:.4f}",
                        f"{upper_bound(errors, runs):.4f}",
                        "0.05",
                    ]
                )
            )
    print()


def gateway_api_check(source: BatchSource, shares: Mapping[str, float]) -> tuple[bool, int]:
    """Gateway API conformance/utils/weight: 500 requests, |observed - expected| <= 0.05 for every backend
    (float arithmetic, as in Go), the whole check retried up to 10 times. Returns (passed, requests sent)."""
    for attempt in range(1, 11):
        counts = source(500)
        if all(abs(counts.get(name, 0) / 500 - share) <= 0.05 for name, share in shares.items()):
            return True, 500 * attempt
    return False, 5000


def gateway_api_exact(claim: float, truth: float) -> float:
    """P(their check passes) for two backends, exactly: one attempt passes for the counts k of v1 with both
    backends within 0.05 (evaluated in floats), ten independent attempts."""
    once = sum(
        math.comb(500, k) * truth**k * (1 - truth) ** (500 - k)
        for k in range(501)
        if abs(k / 500 - claim) <= 0.05 and abs((500 - k) / 500 - (1 - claim)) <= 0.05
    )
    return 1 - (1 - once) ** 10


def gateway_api(runs: int, rng: random.Random) -> None:
    print("## 3. Gateway API's weight check against ours, claim 70/30\n")
    print(
        row(
            [
                "true split",
                "theirs: P(pass) exact",
                "theirs: passed (sim)",
                "theirs: mean requests",
                "ours: passed",
                "ours: mean n",
                "ours: p95 n",
            ]
        )
    )
    print(row(["---"] * 7))
    claim = {"v1": 0.7, "v2": 0.3}
    for v1 in (70, 67, 65, 62, 60):
        truth = {"v1": Fraction(v1), "v2": Fraction(100 - v1)}
        results = [gateway_api_check(random_mesh(truth, rng), claim) for _ in range(runs)]
        passed = sum(ok for ok, _ in results)
        theirs_n = sum(n for _, n in results) / runs
        ours = simulate({"v1": 70, "v2": 30}, partial(random_mesh, truth, rng), runs=runs)
        print(
            row(
                [
                    f"{v1}/{100 - v1}",
                    f"{gateway_api_exact(0.7, v1 / 100):.3f}",
                    f"{passed / runs:.3f}",
                    f"{theirs_n:,.0f}",
                    f"{ours.passed / runs:.3f}",
                    f"{ours.mean_n:,.0f}",
                    f"{ours.quantile_n(0.95):,}",
                ]
            )
        )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=1000, help="simulated checks per case (default 1000)")
    parser.add_argument("--seed", default="1", help="seed of the random generator (default 1)")
    parser.add_argument("--quick", action="store_true", help="100 runs per case: a smoke check")
    args = parser.parse_args()
    runs = 100 if args.quick else args.runs
    rng = random.Random(args.seed)
    started = time.process_time()
    sample_sizes(runs, rng)
    error_rates(2 * runs, rng)
    gateway_api(runs, rng)
    print(f"seed {args.seed}, {runs:,} runs per case, {time.process_time() - started:.0f} s CPU")


if __name__ == "__main__":
    main()
