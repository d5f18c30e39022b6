"""``smi lint`` as a whole process, side by side with kubeconform, on generated SMI manifests.

    python benchmarks/lint_speed.py [--repeat 5] [--docs 10000] [--files 1000] [--kubeconform PATH]
                                    [--crds DIR] [--no-large] [--baseline DIR]

The corpus: 10,000 SMI documents of five kinds (TrafficSplit, HTTPRouteGroup, TrafficTarget, TCPRoute,
UDPRoute), several API versions, 5% invalid (a negative weight, a string weight, an unknown field, a
missing root service, a regex RE2 rejects). Cases, each a fresh process:

- one file, on one core (``taskset -c 0``): what "per core" compares;
- the same documents in ``--files`` files, on every core;
- one 16 MB file (just under the default size limit) and one 50 MB file (``--max-bytes``): time and
  peak memory, which should not follow the size of the input;
- 1,000 to 8,000 identical TrafficSplits (duplicates: the rules that compare objects must stay linear);
- one small file: what pre-commit runs, next to the interpreter's and the CLI's start-up.

kubeconform (a Go schema validator: no locations, no cross-object rules) runs on the same files when it is
found: ``--kubeconform``, on PATH, or built with ``go install`` by ``ci/kubeconform.sh`` when Go is
installed. Its schemas are made from the official SMI CRDs (``--crds``: a folder of CRD YAML, by default
``../shared/smi-spec/crds/smi-controller-sdk``, which serves every version), or else taken from this
project's ``schemas/json``, which has kubeconform's layout. It runs with ``-strict`` (unknown fields are
errors, as in smi lint).

When the compiled YAML reader (``native/``) is installed, ``smi lint`` also runs without it
(``SMI_YAML_NATIVE=0``: the pure-Python path) in the same rounds.

``--baseline DIR`` runs ``smi lint`` from another source tree too (``git archive <commit> | tar -x -C DIR``),
in the same rounds: before and after a change, on one machine at one time.

Rounds are rotated (each round runs every case, the tools in alternating order) so that a busy machine
slows both alike; the table gives the best and the median wall time, the median CPU time (user + system:
what "per core" means) and the largest peak resident memory (measured by GNU time when installed), with the
load average before and after.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

APP = """\
apiVersion: specs.smi-spec.io/{specs}
kind: HTTPRouteGroup
metadata:
  name: app-{i}
  namespace: team-{ns}
{route_body}
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata:
  name: app-{i}-db
  namespace: team-{ns}
spec:
  matches:
    ports: [5432]
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: UDPRoute
metadata:
  name: app-{i}-dns
  namespace: team-{ns}
spec:
  matches:
    ports: [53]
---
apiVersion: access.smi-spec.io/{access}
kind: TrafficTarget
metadata:
  name: app-{i}
  namespace: team-{ns}
spec:
  destination:
    kind: ServiceAccount
    name: app-{i}
    namespace: team-{ns}
  rules:
  - kind: HTTPRouteGroup
    name: app-{i}
    matches: [read, write]
  - kind: TCPRoute
    name: app-{i}-db
  sources:
  - kind: ServiceAccount
    name: frontend-{i}
    namespace: team-{ns}
---
apiVersion: split.smi-spec.io/{split}
kind: TrafficSplit
metadata:
  name: app-{i}
  namespace: team-{ns}
spec:
  {root}
  backends:
  - service: app-{i}-v1
    weight: {weight}
  - service: app-{i}-v2
    weight: 10
"""
ROUTES = """\
  matches:
  - name: read
    pathRegex: "{read}"
    methods: [GET, HEAD]
  - name: write
    pathRegex: "/api/v[0-9]+/items"
    methods: [POST, PUT, DELETE]{headers}"""
HEADERS = """
  - name: beta
    headers:
      cookie: "^(.*;)?beta=1(;.*)?$\""""


def app(i: int) -> list[str]:
    """Five documents of one application. Every 10th uses older versions; every 4th has one invalid
    document (5% of all documents), cycling through five kinds of mistake."""
    old = i % 10 == 3
    broken = i // 4 % 5 if i % 4 == 1 else -1
    routes = ROUTES.format(
        read="/api/v[0-9]+/items(?=/)" if broken == 4 else "/api/v[0-9]+/items(/[0-9]+)?",
        headers=HEADERS if i % 10 == 7 else "",
    )
    text = APP.format(
        i=i,
        ns=i % 50,
        specs="v1alpha3" if old else "v1alpha4",
        access="v1alpha2" if old else "v1alpha3",
        split="v1alpha3" if old else "v1alpha4",
        route_body="spec:\n" + routes,
        root="servic: app-" + str(i) if broken == 2 else ("" if broken == 3 else "service: app-" + str(i)),
        weight={0: "-90", 1: '"90"'}.get(broken, "90"),
    )
    return text.split("---\n")


def corpus(docs: int) -> list[str]:
    return [d for i in range(docs // 5 + 1) for d in app(i)][:docs]


def identical_splits(count: int) -> str:
    split = (
        "apiVersion: split.smi-spec.io/v1alpha4\nkind: TrafficSplit\n"
        "metadata:\n  name: web\n  namespace: shop\n"
        "spec:\n  service: web\n  backends:\n  - service: web-v1\n    weight: 90\n  - service: web-v2\n"
        "    weight: 10\n"
    )
    return "---\n".join([split] * count)


def of_size(size: int) -> str:
    """Corpus documents repeated (with fresh names) up to ``size`` bytes."""
    parts: list[str] = []
    total = i = 0
    while True:
        for doc in app(i):
            if total + len(doc) + 4 > size:
                return "---\n".join(parts)
            parts.append(doc)
            total += len(doc) + 4
        i += 1


# --------------------------------------------------------------------------------------------------------
# kubeconform


def find_kubeconform(given: str | None) -> str | None:
    if given:
        return given
    on_path = shutil.which("kubeconform")
    if on_path:
        return on_path
    if shutil.which("go"):
        built = subprocess.run(
            ["bash", str(ROOT / "ci" / "kubeconform.sh")], capture_output=True, text=True, check=False
        )
        if built.returncode == 0 and built.stdout.strip():
            return built.stdout.strip().splitlines()[-1]
        print(f"(could not build kubeconform: {built.stderr.strip()[-500:]})", file=sys.stderr)
    return None


def kubeconform_schemas(crds: Path, out: Path) -> str:
    """JSON Schemas in kubeconform's layout, from CRDs (each served version's openAPIV3Schema) or, when the
    CRD folder is missing, this project's schemas/json. Returns the -schema-location template."""
    if crds.is_dir():
        for file in sorted(crds.glob("*.yaml")):
            for crd in yaml.safe_load_all(file.read_text()):
                if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
                    continue
                spec = crd["spec"]
                kind = spec["names"]["kind"].lower()
                for version in spec.get("versions", []):
                    schema = (version.get("schema") or {}).get("openAPIV3Schema")
                    if schema:
                        target = out / spec["group"] / f"{kind}_{version['name']}.json"
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_text(json.dumps(schema))
        return str(out / "{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json")
    return str(ROOT / "schemas" / "json" / "{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json")


# --------------------------------------------------------------------------------------------------------
# Running


@dataclass
class Runs:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)


GNU_TIME = "/usr/bin/time"


def run_once(
    cmd: list[str], ok: tuple[int, ...] = (0, 1), cwd: Path | None = None
) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MB) of one process. GNU time, when installed, reports the command's own
    peak: a child forked from this (large) process would count this process's memory as its own. ``cwd``
    matters for ``python -m``: the working directory comes first on its path, before ``PYTHONPATH``."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        gnu_time = os.access(GNU_TIME, os.X_OK)
        timed = [GNU_TIME, "-f", "%M %U %S", "-o", report.name, *cmd] if gnu_time else cmd
        start = time.perf_counter()
        proc = subprocess.Popen(timed, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
        assert proc.stderr is not None
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        if code not in ok:
            raise SystemExit(f"{' '.join(cmd)} exited {code}: {err.decode()[-2000:]}")
        lines = report.read().splitlines()  # "Command exited with non-zero status N" may come first
        fields = lines[-1].split() if lines else []
    if timed is cmd or len(fields) < 3:
        return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
    return wall, float(fields[1]) + float(fields[2]), int(fields[0]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--kubeconform", help="kubeconform binary (default: PATH, or built with go install)")
    parser.add_argument(
        "--crds", type=Path, default=ROOT.parent / "shared" / "smi-spec" / "crds" / "smi-controller-sdk"
    )
    parser.add_argument("--no-large", action="store_true", help="leave out the 16 MB and 50 MB files")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another source tree of this project (git archive of a commit) to run side by side as 'before'",
    )
    args = parser.parse_args()

    py = sys.executable
    smi = [py, "-m", "smi_conformance", "lint"]
    one_core = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    kubeconform = find_kubeconform(args.kubeconform)
    native = importlib.util.find_spec("smi_conformance_yaml") is not None
    # Bytecode for both trees, as an installed package has it (pip compiles it): without it, a tree that
    # was never imported (a fresh git archive) or an environment with PYTHONDONTWRITEBYTECODE compiles
    # every module from source in every run, about 0.1 s of CPU that no user pays.
    for tree in (ROOT, *([args.baseline] if args.baseline else [])):
        subprocess.run([py, "-m", "compileall", "-q", str(tree / "smi_conformance")], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        documents = corpus(args.docs)
        (root / "all.yaml").write_text("---\n".join(documents))
        many = root / "many"
        many.mkdir()
        per_file = max(1, len(documents) // args.files)
        for n in range(args.files):
            (many / f"app-{n:04d}.yaml").write_text(
                "---\n".join(documents[n * per_file : (n + 1) * per_file])
            )
        (root / "small.yaml").write_text("---\n".join(documents[:5]))
        for count in (1000, 2000, 4000, 8000):
            (root / f"splits-{count}.yaml").write_text(identical_splits(count))
        if not args.no_large:
            (root / "16mb.yaml").write_text(of_size(16 * 1024 * 1024 - 4096))
            (root / "50mb.yaml").write_text(of_size(50 * 1024 * 1024))
        kc: list[str] = []
        if kubeconform:
            location = kubeconform_schemas(args.crds, root / "schemas")
            kc = [kubeconform, "-strict", "-summary", "-schema-location", location]

        cases: list[tuple[str, list[str], list[str] | None]] = [
            (
                "one small file (pre-commit)",
                [*smi, str(root / "small.yaml")],
                [*kc, str(root / "small.yaml")],
            ),
            (
                f"1 core, one file, {args.docs:,} docs",
                [*one_core, *smi, str(root / "all.yaml")],
                [*one_core, *kc, str(root / "all.yaml")],
            ),
            (f"all cores, {args.files:,} files", [*smi, str(many)], [*kc, str(many)]),
        ]
        cases += [
            (f"{count:,} identical TrafficSplits", [*smi, str(root / f"splits-{count}.yaml")],
             [*kc, str(root / f"splits-{count}.yaml")])
            for count in (1000, 2000, 4000, 8000)
        ]  # fmt: skip
        if not args.no_large:
            cases += [
                ("one 16 MB file", [*smi, str(root / "16mb.yaml")], [*kc, str(root / "16mb.yaml")]),
                (
                    "one 50 MB file",
                    [*smi, "--max-bytes", str(60 * 1024 * 1024), str(root / "50mb.yaml")],
                    [*kc, str(root / "50mb.yaml")],
                ),
            ]
        floors = [
            ("python -c pass (interpreter start-up)", [py, "-c", "pass"]),
            ("smi --version (CLI start-up)", [py, "-m", "smi_conformance", "--version"]),
        ]
        load_before = os.getloadavg()
        results: dict[tuple[str, str], Runs] = {}
        for round_ in range(args.repeat):
            for name, cmd in floors:
                record(results, (name, "smi"), run_once(cmd, cwd=root))
            for name, smi_cmd, kc_cmd in cases:
                tools = [("smi", smi_cmd)] + ([("kubeconform", kc_cmd)] if kc and kc_cmd else [])
                if args.baseline:
                    tools.append(("before", _baseline(smi_cmd, args.baseline)))
                if native:
                    tools.append(("pure", ["env", "SMI_YAML_NATIVE=0", *smi_cmd]))
                if round_ % 2:
                    tools.reverse()
                for tool, cmd in tools:
                    record(results, (name, tool), run_once(cmd, cwd=root))
        load_after = os.getloadavg()

    print(
        f"{os.cpu_count()} cores; 1-minute load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after; "
        f"{args.repeat} rotated rounds; kubeconform: {version(kubeconform) if kubeconform else 'not found'}\n"
    )
    print(
        "| case | smi lint: best / median wall | CPU | peak memory "
        "| kubeconform: best / median wall | CPU | peak memory |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, _ in floors:
        print(f"| {name} | {cells(results[(name, 'smi')])} | | | |")
    for name, _, _ in cases:
        other = results.get((name, "kubeconform"))
        print(f"| {name} | {cells(results[(name, 'smi')])} | {cells(other) if other else '| |'} |")
    others = [("before", f"Before (smi lint from {args.baseline})")] if args.baseline else []
    if native:
        others.append(("pure", "Without the compiled YAML reader (SMI_YAML_NATIVE=0)"))
    for tool, title in others:
        print(f"\n{title}, the same rounds:\n")
        print("| case | best / median wall | CPU | peak memory |\n|---|---:|---:|---:|")
        for name, _, _ in cases:
            print(f"| {name} | {cells(results[(name, tool)])} |")


def _baseline(cmd: list[str], tree: Path) -> list[str]:
    """``cmd`` (a smi lint command line) running the code of another source tree."""
    return ["env", f"PYTHONPATH={tree.resolve()}", *cmd]


def record(
    results: dict[tuple[str, str], Runs], key: tuple[str, str], measured: tuple[float, float, float]
) -> None:
    runs = results.setdefault(key, Runs())
    runs.wall.append(measured[0])
    runs.cpu.append(measured[1])
    runs.rss_mb.append(measured[2])


def cells(runs: Runs) -> str:
    return (
        f"{min(runs.wall):.2f} / {statistics.median(runs.wall):.2f} s "
        f"| {statistics.median(runs.cpu):.2f} s | "
        f"{max(runs.rss_mb):.0f} MB"
    )


def version(binary: str) -> str:
    out = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    return out.stdout.strip() or out.stderr.strip() or "unknown version"


if __name__ == "__main__":
    main()
