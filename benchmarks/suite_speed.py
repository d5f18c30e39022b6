"""How long certification takes: the core profile (and everything) against the reference mesh on the embedded
cluster, set-up included, and every weight check's time and sample size, from the reports of real runs.

    .venv/bin/python benchmarks/suite_speed.py [--runs 3] [--profile core] [--split smooth_round_robin]

Targets (issue 8): the core profile in <= 60 s with set-up, each weight check in <= 2 s. Prints a table for
docs/performance.md, with the machine's load average beside it (the machine is shared: read figures with it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one_run(profile: str | None, split: str | None) -> tuple[float, dict[str, object]]:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        args = [sys.executable, "-m", "smi_conformance.cli_conformance", "run", "--no-progress"]
        args += ["--report", str(report), "--artifacts", str(Path(tmp) / "artifacts")]
        if profile:
            args += ["--profile", profile]
        if split:
            args += ["--mesh-option", f"split={split}"]
        started = time.monotonic()
        proc = subprocess.run(args, cwd=tmp, capture_output=True, text=True, timeout=1800)
        took = time.monotonic() - started
        if not report.exists():
            sys.exit(f"the run wrote no report:\n{proc.stdout}\n{proc.stderr}")
        return took, json.loads(report.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", default="core", help="core, extended or all")
    parser.add_argument("--split", default=None, help="the reference mesh's split algorithm")
    args = parser.parse_args()
    profile = None if args.profile == "all" else args.profile
    walls, startups, checks, outcomes = [], [], [], []
    for i in range(args.runs):
        took, report = one_run(profile, args.split)
        walls.append(took)
        startups.append(float(report["cluster"].get("startupSeconds", 0.0)))  # type: ignore[union-attr]
        tests = [t for t in report["tests"] if t["outcome"] != "skipped"]  # type: ignore[union-attr]
        kinds = ("passed", "failed", "not-supported")
        outcomes.append({o: sum(1 for t in tests if t["outcome"] == o) for o in kinds})
        for t in tests:
            for c in t["checks"]:
                if c["kind"] == "split" and c.get("statistics"):
                    checks.append((c["statistics"]["seconds"], c["statistics"]["n"], t["id"]))
        print(f"run {i + 1}: {took:.1f} s, {outcomes[-1]}", file=sys.stderr)
    load = os.getloadavg()[0]
    seconds = sorted(s for s, _, _ in checks)
    samples = sorted(n for _, n, _ in checks)
    print(f"| {args.profile} profile, {args.runs} runs (load average {load:.1f}) | median | max |")
    print("|---|---:|---:|")
    print(f"| whole run, set-up included | {statistics.median(walls):.1f} s | {max(walls):.1f} s |")
    print(f"| embedded cluster start | {statistics.median(startups):.2f} s | {max(startups):.2f} s |")
    if checks:
        median = statistics.median(seconds)
        print(f"| weight check ({len(checks)} checks) | {median:.2f} s | {seconds[-1]:.2f} s |")
        print(f"| requests per weight check | {statistics.median(samples):,.0f} | {samples[-1]:,} |")
    print(f"\noutcomes per run: {outcomes}")
    slowest = sorted(checks, reverse=True)[:3]
    print(
        "slowest weight checks: " + "; ".join(f"{test} {s:.2f} s, {n:,} requests" for s, n, test in slowest)
    )


if __name__ == "__main__":
    main()
