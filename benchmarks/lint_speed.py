"""Whole-process speed of ``smi lint`` over 10,000 SMI documents, beside PyYAML's own loader.

    python benchmarks/lint_speed.py [--docs 10000] [--files 1000] [--repeat 5]

Generates a corpus of mixed kinds (TrafficSplit, HTTPRouteGroup, TrafficTarget, TCPRoute, UDPRoute; a few
older versions and header filters, so some documents have findings) once as one file and once spread over
``--files`` files, then times, each as a fresh process and side by side in one run:

- ``smi lint`` on the one file and on the folder of files;
- ``yaml.load_all`` with libyaml's CSafeLoader on the same bytes (parsing only: the floor any
  PyYAML-based linter starts from);
- interpreter start-up and ``smi --version`` (what every run pays before reading a byte).

Reports the best and the median of ``--repeat`` runs (the machine is shared and noisy: the best is the
closest to the code's own cost, the median to what a user sees).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

APP = """\
apiVersion: specs.smi-spec.io/{specs}
kind: HTTPRouteGroup
metadata:
  name: app-{i}
  namespace: team-{ns}
spec:
  matches:
  - name: read
    pathRegex: "/api/v[0-9]+/items(/[0-9]+)?"
    methods: [GET, HEAD]
  - name: write
    pathRegex: "/api/v[0-9]+/items"
    methods: [POST, PUT, DELETE]{headers}
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
apiVersion: access.smi-spec.io/v1alpha3
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
  service: app-{i}
  backends:
  - service: app-{i}-v1
    weight: 90
  - service: app-{i}-v2
    weight: 10
"""
HEADERS = """
  - name: beta
    headers:
      cookie: "^(.*;)?beta=1(;.*)?$\""""


def app(i: int) -> list[str]:
    """Five documents of one application; every 10th uses older versions or header filters."""
    text = APP.format(
        i=i,
        ns=i % 50,
        specs="v1alpha4",
        split="v1alpha2" if i % 10 == 3 else "v1alpha4",
        headers=HEADERS if i % 10 == 7 else "",
    )
    return text.split("---\n")


def write_corpus(root: Path, docs: int, files: int) -> tuple[Path, Path]:
    documents = [d for i in range(docs // 5) for d in app(i)][:docs]
    one = root / "all.yaml"
    one.write_text("---\n".join(documents))
    folder = root / "many"
    folder.mkdir()
    per_file = max(1, len(documents) // files)
    for n in range(files):
        chunk = documents[n * per_file : (n + 1) * per_file]
        (folder / f"app-{n:04d}.yaml").write_text("---\n".join(chunk))
    return one, folder


def timed(cmd: list[str], repeat: int, ok: tuple[int, ...] = (0, 1)) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        times.append(time.perf_counter() - start)
        if proc.returncode not in ok:
            raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.decode()[-2000:]}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    py = sys.executable
    smi = [py, "-m", "smi_conformance"]
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        one, folder = write_corpus(Path(tmp), args.docs, args.files)
        load_one = (
            "import sys, yaml\n"
            "n = sum(1 for _ in yaml.load_all(open(sys.argv[1], 'rb'), Loader=yaml.CSafeLoader))\n"
        )
        load_many = (
            "import sys, yaml, pathlib\n"
            "n = sum(1 for f in sorted(pathlib.Path(sys.argv[1]).glob('*.yaml'))"
            " for _ in yaml.load_all(f.read_bytes(), Loader=yaml.CSafeLoader))\n"
        )
        rows = [
            ("python -c pass (interpreter start-up)", timed([py, "-c", "pass"], args.repeat)),
            ("smi --version (CLI start-up)", timed([*smi, "--version"], args.repeat)),
            (
                f"yaml.load_all CSafeLoader, 1 file, {args.docs} docs",
                timed([py, "-c", load_one, str(one)], args.repeat),
            ),
            (f"smi lint, 1 file, {args.docs} docs", timed([*smi, "lint", str(one)], args.repeat)),
            (
                f"yaml.load_all CSafeLoader, {args.files} files",
                timed([py, "-c", load_many, str(folder)], args.repeat),
            ),
            (
                f"smi lint, {args.files} files, {args.docs} docs",
                timed([*smi, "lint", str(folder)], args.repeat),
            ),
        ]
    load_after = os.getloadavg()[0]
    cores = os.cpu_count()
    print(f"{cores} cores; 1-minute load average {load_before:.1f} before, {load_after:.1f} after\n")
    print(f"| whole process ({args.repeat} runs) | best | median |")
    print("|---|---:|---:|")
    for name, times in rows:
        print(f"| {name} | {min(times):.2f} s | {statistics.median(times):.2f} s |")


if __name__ == "__main__":
    main()
