"""Mutation testing of the modules whose slips would be wrong verdicts or security holes: ``make mutation``.

Each module is mutated by mutmut (one small realistic slip at a time: an operator, a constant, a condition, an
argument) and its narrow test selection (the tests that exercise it, SELECTIONS below) is run against every
mutant; a mutant the tests do not notice "survived". The target is none unexplained: every survivor is killed
by a test or written down in ``benchmarks/mutation_equivalents.yaml`` as equivalent (no input tells it from
the original), with the reason.

One module at a time, nice'd, in a scratch copy under ``build/mutation/<module>/`` (the work tree is never
mutated); per module the killed / survived / timeout counts and the minutes it took go to
``build/mutation/results.json`` and the report, ``docs/mutation.md``, is written from all recorded modules.

    python benchmarks/mutation.py                 # every module, then the report
    python benchmarks/mutation.py split authz     # these modules (the others keep their recorded figures)
    python benchmarks/mutation.py --report        # only rewrite docs/mutation.md from build/mutation/

Why mutmut (3.x) and not cosmic-ray, measured on reference_mesh/proxy/split.py with its 4 tests: mutmut forks
one pytest process per mutant after collection and runs only the tests that reach the mutated function (91
mutants in 7 s); cosmic-ray starts pytest again for every mutant (165 mutants in 207 s, 1.25 s each; 3.9 s
each with ``-n 2``, since xdist's workers start per run). Neither uses pytest-xdist: mutmut records which test
reaches which function in the pytest process itself, so it runs tests with ``-p no:xdist`` (with ``-n 2`` it
finds no test for any mutant), and its ``--max-children 2`` uses both cores instead.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "mutation"
REPORT = ROOT / "docs" / "mutation.md"
EQUIVALENTS = ROOT / "benchmarks" / "mutation_equivalents.yaml"
#: What the copy under mutants/ needs besides the packages and tests (docs: the rules page test).
ALSO_COPY = ["schemas", "examples", "docs"]


@dataclass(frozen=True)
class Selection:
    """A module (one or a few files that decide together) and the tests that exercise it."""

    files: tuple[str, ...]
    tests: tuple[str, ...]
    #: Extra pytest arguments (e.g. leaving out the slow calibration runs).
    pytest_args: tuple[str, ...] = ()
    #: Only these functions are mutated (mutmut's mutant-name globs, ``pkg.mod.x_func*`` or
    #: ``pkg.mod.xǁClassǁmethod*``): a big module's verdict code first; empty = every function in ``files``.
    functions: tuple[str, ...] = ()


#: The statistical calibration tests: each simulates thousands of checks to measure an error rate.
STATS_CALIBRATION = (
    "not error_rates_hold and not passes_at_most_beta and not fails_at_most_alpha"
    " and not holds_by_simulation and not false_alarm_rate"
)

#: The oracle's property tests over random policies and requests.
ORACLE_PROPERTIES = (
    "not never_denies_what_was_allowed and not in_older_versions_gets_the_same_answers"
    " and not backend_service_directly_is_never_split and not shares_sum_to_one"
)

SELECTIONS: dict[str, Selection] = {
    "split": Selection(
        ("reference_mesh/proxy/split.py", "smi_conformance/weights.py"),
        ("tests/refmesh/test_proxy_split.py", "tests/test_weights.py", "tests/refmesh/test_proxy_routing.py"),
    ),
    "authz": Selection(
        ("reference_mesh/proxy/authz.py", "reference_mesh/proxy/paths.py", "smi_conformance/regex.py"),
        (
            "tests/refmesh/test_proxy_authz.py",
            "tests/refmesh/test_proxy_paths.py",
            "tests/test_regex.py",
            "tests/control/test_access_property.py",
        ),
    ),
    "routing": Selection(
        ("reference_mesh/proxy/routing.py", "reference_mesh/proxy/balancer.py"),
        (
            "tests/refmesh/test_proxy_routing.py",
            "tests/refmesh/test_proxy_resilience.py",
            "tests/refmesh/test_proxy_split.py",
        ),
    ),
    "compiler": Selection(
        ("reference_mesh/control/compiler.py", "reference_mesh/control/smi.py"),
        (
            "tests/control/test_compiler.py",
            "tests/control/test_identity_bindings.py",
            "tests/control/test_access_property.py",
            "tests/control/test_cross_namespace.py",
            "tests/control/test_routes.py",
            "tests/control/test_path_rules.py",
        ),
    ),
    "metrics": Selection(
        ("reference_mesh/metrics/window.py", "reference_mesh/metrics/aggregate.py"),
        ("tests/control/test_metrics_window.py",),
    ),
    "lint-rules": Selection(
        tuple(
            sorted(str(p.relative_to(ROOT)) for p in (ROOT / "smi_conformance/lint/rules").glob("*.py"))
        ),
        (
            "tests/lint/test_rule_cases.py",
            "tests/lint/test_docs.py",
            "tests/lint/test_messages.py",
            "tests/lint/test_spec_examples.py",
            "tests/lint/test_portability.py",
            "tests/lint/test_split_weights.py",
        ),
    ),
    "stats": Selection(
        ("smi_conformance/suite/stats.py",),
        ("tests/suite/test_stats.py",),
        # the calibration runs (thousands of simulated checks each, 6 minutes together on this machine) are
        # left out: every surviving mutant would run them all; what they alone would catch is listed
        ("-m", "not slow", "-k", STATS_CALIBRATION),
        # the verdict: settings, shares, the sides' log-likelihood ratios, thresholds, the decision, the
        # p-value, the per-batch consistency check and the exact count comparison (not the evidence's
        # wording, the confidence intervals or the planning and simulation helpers)
        tuple(
            f"smi_conformance.suite.stats.{f}__mutmut_*"
            for f in (
                "xǁSplitSettingsǁ__post_init__",
                "x__shares",
                "x__log_ratio",
                "xǁ_Sideǁllr",
                "x__design",
                "x__fail_alpha",
                "x__fail_threshold",
                "x__deterministic_pass_n",
                "xǁWeightCheckǁ__init__",
                "xǁWeightCheckǁupdate",
                "xǁWeightCheckǁ_llrs",
                "xǁWeightCheckǁ_decide",
                "xǁWeightCheckǁp_value",
                "x_batch_consistent",
                "x_compare_counts",
            )
        ),
    ),
    "oracle": Selection(
        (
            "smi_conformance/suite/oracle.py",
            "smi_conformance/suite/policy.py",
            "smi_conformance/suite/readings.py",
        ),
        # test_generated.py tests the case generator (its searches run the oracle thousands of times each);
        # the four property tests over random policies (45 s together here) are left out likewise: every
        # surviving mutant would run them all
        ("tests/suite/test_oracle.py",),
        ("-k", ORACLE_PROPERTIES),
        # the decisions: where a request goes (roots, splits, weights) and whether it is let in (targets,
        # rules, routes, matches), and how the policy reads namespaces and weights (not the request and
        # document checks, the split's own matches or the exploration of readings)
        (
            *(
                f"smi_conformance.suite.oracle.xǁOracleǁ{m}__mutmut_*"
                for m in (
                    "_route",
                    "_apply",
                    "_weights",
                    "_root",
                    "_access",
                    "_verdict",
                    "_authorise",
                    "_rules",
                    "_http_rule",
                    "_port_rule",
                    "_http_match",
                )
            ),
            "smi_conformance.suite.oracle.x__traffic__mutmut_*",
            "smi_conformance.suite.policy.x__target__mutmut_*",
            "smi_conformance.suite.policy.x__split__mutmut_*",
        ),
    ),
}


def _setup_cfg(sel: Selection) -> str:
    def lines(values: list[str] | tuple[str, ...]) -> str:
        return "".join(f"\n    {v}" for v in values)

    args = ["-p", "no:xdist", "-p", "no:cacheprovider", "--hypothesis-profile=mutation", *sel.pytest_args]
    return (
        "[mutmut]\n"
        f"source_paths ={lines(['smi_conformance', 'reference_mesh'])}\n"
        f"only_mutate ={lines(sel.files)}\n"
        f"also_copy ={lines(ALSO_COPY)}\n"
        f"pytest_add_cli_args_test_selection ={lines(sel.tests)}\n"
        f"pytest_add_cli_args ={lines(args)}\n"
    )


def _scratch(name: str, sel: Selection) -> Path:
    """build/mutation/<name>/: links to this tree's packages and tests, and mutmut's settings."""
    work = WORK / name
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for entry in ("smi_conformance", "reference_mesh", "tests", "pyproject.toml", *ALSO_COPY):
        (work / entry).symlink_to(ROOT / entry)
    (work / "setup.cfg").write_text(_setup_cfg(sel))
    return work


def _mutmut(work: Path, *args: str) -> str:
    mutmut = Path(sys.executable).with_name("mutmut")
    env = {**os.environ, "SMI_SHARED_DIR": str(_shared_dir()), "PYTHONWARNINGS": "ignore"}
    command = ["nice", "-n", "10", str(mutmut), *args]
    out = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0 and args[0] != "run":
        raise RuntimeError(f"mutmut {' '.join(args)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    if args[0] == "run":  # its log (run.log): what went wrong when it stops early is on stderr
        return f"{out.stdout}\n{out.stderr}\nmutmut run exited {out.returncode}\n"
    return out.stdout


def _shared_dir() -> Path:
    env = os.environ.get("SMI_SHARED_DIR")
    return Path(env) if env else ROOT.parent / "shared"


def _function(mutant: str) -> str:
    """``pkg.mod.xǁClassǁmethod__mutmut_3`` -> ``Class.method``; ``pkg.mod.x_func__mutmut_3`` -> ``func``."""
    last = mutant.rsplit(".", 1)[-1].rsplit("__mutmut_", 1)[0]
    if last.startswith("xǁ"):
        return ".".join(p for p in last[2:].split("ǁ") if p)
    return last.removeprefix("x_")


def _change(diff: str) -> tuple[str, str]:
    """The lines a mutant removes and adds, each run of lines joined (what equivalents are matched by)."""
    body = [ln for ln in diff.splitlines() if not ln.startswith(("---", "+++", "@@", "#"))]
    old = " | ".join(ln[1:].strip() for ln in body if ln.startswith("-"))
    new = " | ".join(ln[1:].strip() for ln in body if ln.startswith("+"))
    return old, new


def _file_of(mutant: str) -> str:
    return mutant.rsplit(".", 1)[0].replace(".", "/") + ".py"


def run_module(name: str, children: int) -> dict[str, Any]:
    sel = SELECTIONS[name]
    work = _scratch(name, sel)
    commit = _commit()  # what is mutated and tested: the tree as the run starts
    load = os.getloadavg()[0]
    started = time.monotonic()
    log = _mutmut(work, "run", "--max-children", str(children), *sel.functions)
    seconds = time.monotonic() - started
    (work / "run.log").write_text(log)
    results: dict[str, str] = {}
    for line in _mutmut(work, "results", "--all", "true").splitlines():
        key, sep, status = line.strip().rpartition(": ")
        if sep and key and status != "not checked":  # outside sel.functions
            results[key] = status
    if not results:
        raise RuntimeError(f"mutmut found no mutants for {name}; see {work / 'run.log'}:\n{log[-2000:]}")
    survivors = []
    for mutant, status in sorted(results.items()):
        if status in ("survived", "no tests"):
            old, new = _change(_mutmut(work, "show", mutant))
            survivors.append(
                {"mutant": mutant, "status": status, "file": _file_of(mutant), "in": _function(mutant),
                 "from": old, "to": new}
            )  # fmt: skip
    return {
        "module": name,
        "files": list(sel.files),
        "tests": list(sel.tests) + list(sel.pytest_args),
        "functions": [_function(f.replace("__mutmut_*", "__mutmut_0")) for f in sel.functions],
        "counts": dict(Counter(results.values())),
        "mutants": len(results),
        "seconds": round(seconds),
        "load": round(load, 1),
        "commit": commit,
        "survivors": survivors,
    }


def _commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    # the report itself does not count: it is rewritten after every module
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", ".", f":!{REPORT.relative_to(ROOT)}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout
    return out.stdout.strip() + ("+" if dirty.strip() else "")


def load_equivalents() -> list[dict[str, str]]:
    try:
        data = yaml.safe_load(EQUIVALENTS.read_text()) or {}
    except yaml.YAMLError as exc:
        raise SystemExit(f"{EQUIVALENTS.relative_to(ROOT)}: {exc}") from None
    out = []
    for file, entries in data.items():
        for e in entries or ():
            out.append({"file": file, **{k: str(v) for k, v in e.items()}})
    return out


def explained(survivor: dict[str, str], equivalents: list[dict[str, str]]) -> dict[str, str] | None:
    for e in equivalents:
        if (e["file"], e["in"], e["from"], e["to"]) == (
            survivor["file"],
            survivor["in"],
            survivor["from"],
            survivor["to"],
        ):
            return e
    return None


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def write_report(results: dict[str, dict[str, Any]]) -> str:
    equivalents = load_equivalents()
    lines = [
        "# Mutation testing",
        "",
        "Generated by `make mutation` (`benchmarks/mutation.py`, mutmut); do not edit. Each module below was",
        "mutated one realistic slip at a time (an operator, a constant, a condition, an argument) and its",
        "narrow test selection run against every mutant, with mutmut's two workers nice'd on the project's",
        "2-core machine shared with other jobs (1-minute load average at the start given). A mutant is",
        "*killed* when a test fails, *survived* when every test passes, *timeout* when the tests ran past",
        "15 times their normal duration (an infinite loop: counted as caught). Survivors are either",
        "*equivalent* (no input tells them from the original; each is listed below with the reason, from",
        "`benchmarks/mutation_equivalents.yaml`) or *unexplained*: the target is none unexplained.",
        "",
        "| module | files | mutants | killed | timeout | equivalent | unexplained | time | load | commit |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    totals = Counter[str]()
    for name in SELECTIONS:
        r = results.get(name)
        if r is None:
            lines.append(f"| {name} | not run yet | | | | | | | | |")
            continue
        c = r["counts"]
        equivalent = sum(1 for s in r["survivors"] if explained(s, equivalents))
        unexplained = len(r["survivors"]) - equivalent
        names = [f"`{Path(f).name}`" for f in r["files"]]
        files = ", ".join(names) if len(names) <= 3 else "`lint/rules/*.py`"
        row = {
            "mutants": r["mutants"],
            "killed": c.get("killed", 0),
            "timeout": c.get("timeout", 0),
            "equivalent": equivalent,
            "unexplained": unexplained,
            "seconds": r["seconds"],
        }
        totals.update(row)
        minutes = f"{r['seconds'] // 60}:{r['seconds'] % 60:02d}"
        lines.append(
            f"| {name} | {files} | {row['mutants']} | {row['killed']} | {row['timeout']} | {equivalent} | "
            f"{unexplained} | {minutes} | {r['load']} | {r['commit']} |"
        )
    total_min = f"{totals['seconds'] // 60}:{totals['seconds'] % 60:02d}"
    lines.append(
        f"| **all** | | {totals['mutants']} | {totals['killed']} | {totals['timeout']} | "
        f"{totals['equivalent']} | {totals['unexplained']} | {total_min} | | |"
    )
    lines += ["", "Time: minutes:seconds for the whole module (copy, coverage run, clean run, mutants).", ""]
    lines += ["## Test selections", ""]
    for name, sel in SELECTIONS.items():
        tests = ", ".join(f"`{t}`" for t in sel.tests)
        extra = f" (`{' '.join(sel.pytest_args)}`)" if sel.pytest_args else ""
        lines.append(f"- **{name}**: {tests}{extra}")
        if sel.functions:
            only = ", ".join(f"`{_function(f.replace('__mutmut_*', '__mutmut_0'))}`" for f in sel.functions)
            lines.append(f"  - mutated: only {only}")
    lines += ["", "## Equivalent mutants", ""]
    for name in SELECTIONS:
        r = results.get(name)
        rows = [(s, e) for s in (r or {}).get("survivors", []) if (e := explained(s, equivalents))]
        if not rows:
            continue
        lines += [f"### {name}", "", "| where | original | mutant | why it is equivalent |"]
        lines.append("|---|---|---|---|")
        for s, e in rows:
            where = f"`{Path(s['file']).name}` `{s['in']}`"
            lines.append(f"| {where} | `{_md(s['from'])}` | `{_md(s['to'])}` | {_md(e['why'])} |")
        lines.append("")
    unexplained_rows = [
        (name, s)
        for name in SELECTIONS
        for s in (results.get(name) or {}).get("survivors", [])
        if not explained(s, equivalents)
    ]
    if unexplained_rows:
        lines += ["## Unexplained survivors", "", "| module | where | original | mutant | status |"]
        lines.append("|---|---|---|---|---|")
        for name, s in unexplained_rows:
            where = f"`{Path(s['file']).name}` `{s['in']}`"
            lines.append(f"| {name} | {where} | `{_md(s['from'])}` | `{_md(s['to'])}` | {s['status']} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"default: every module ({', '.join(SELECTIONS)})")
    parser.add_argument("--report", action="store_true", help="only rewrite docs/mutation.md")
    parser.add_argument("--children", type=int, default=2, help="mutmut workers (default 2)")
    args = parser.parse_args()
    unknown = [m for m in args.modules if m not in SELECTIONS]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; choose from {', '.join(SELECTIONS)}")
    store = WORK / "results.json"
    results: dict[str, dict[str, Any]] = json.loads(store.read_text()) if store.exists() else {}
    if not args.report:
        for name in args.modules or list(SELECTIONS):
            print(f"mutation: {name} ...", flush=True)
            results[name] = run_module(name, args.children)
            store.parent.mkdir(parents=True, exist_ok=True)
            # read again: another module's run may have recorded its figures meanwhile
            recorded = json.loads(store.read_text()) if store.exists() else {}
            results = {**recorded, name: results[name]}
            store.write_text(json.dumps(results, indent=1, ensure_ascii=False))
            r = results[name]
            print(f"mutation: {name}: {r['counts']} in {r['seconds']} s (load {r['load']})", flush=True)
    REPORT.write_text(write_report(results))
    equivalents = load_equivalents()
    unexplained = [s for r in results.values() for s in r["survivors"] if not explained(s, equivalents)]
    for s in unexplained:
        print(f"unexplained: {s['file']} {s['in']}: {s['from']!r} -> {s['to']!r} ({s['status']})")
    print(f"wrote {REPORT.relative_to(ROOT)}; {len(unexplained)} unexplained survivor(s)")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
