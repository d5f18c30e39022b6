"""validate() throughput on a mixed corpus of 10,000 SMI documents (the linter's hot path after parsing).

Run: ``.venv/bin/python benchmarks/models_validate.py [N]``. The corpus mixes the released kinds, older
versions and some invalid documents (about 5%), built in memory so only validation is measured. Reports CPU
time (process_time, robust on a shared machine) and, side by side in the same run, the cost of a bare
``model_validate`` call and of copying the documents, to show what validate() adds.
"""

from __future__ import annotations

import contextlib
import copy
import subprocess
import sys
import time
from typing import Any

from smi_conformance import models


def _docs(i: int) -> list[dict[str, Any]]:
    name = f"app-{i}"
    meta = {"name": name, "namespace": "shop", "labels": {"app.kubernetes.io/name": name, "tier": "web"}}
    return [
        {
            "apiVersion": "split.smi-spec.io/v1alpha4",
            "kind": "TrafficSplit",
            "metadata": meta,
            "spec": {
                "service": name,
                "matches": [{"kind": "HTTPRouteGroup", "name": name}],
                "backends": [
                    {"service": f"{name}-v1", "weight": 90},
                    {"service": f"{name}-v2", "weight": 10},
                ],
            },
        },
        {
            "apiVersion": "split.smi-spec.io/v1alpha1",
            "kind": "TrafficSplit",
            "metadata": meta,
            "spec": {
                "service": name,
                "backends": [
                    {"service": f"{name}-v1", "weight": "1"},
                    {"service": f"{name}-v2", "weight": "500m"},
                ],
            },
        },
        {
            "apiVersion": "access.smi-spec.io/v1alpha3",
            "kind": "TrafficTarget",
            "metadata": meta,
            "spec": {
                "destination": {"kind": "ServiceAccount", "name": name, "namespace": "shop"},
                "rules": [
                    {"kind": "HTTPRouteGroup", "name": name, "matches": ["api", "metrics"]},
                    {"kind": "TCPRoute", "name": name},
                ],
                "sources": [{"kind": "ServiceAccount", "name": "frontend", "namespace": "shop"}],
            },
        },
        {
            "apiVersion": "specs.smi-spec.io/v1alpha4",
            "kind": "HTTPRouteGroup",
            "metadata": meta,
            "spec": {
                "matches": [
                    {"name": "api", "pathRegex": "/api/.*", "methods": ["GET", "POST"]},
                    {"name": "metrics", "pathRegex": "/metrics", "methods": ["GET"]},
                    {"name": "ff", "headers": {"user-agent": ".*Firefox.*"}},
                ]
            },
        },
        {
            "apiVersion": "specs.smi-spec.io/v1alpha4",
            "kind": "TCPRoute",
            "metadata": meta,
            "spec": {"matches": {"ports": [8080, 8443]}},
        },
    ]


def corpus(n: int) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    i = 0
    while len(docs) < n:
        batch = _docs(i)
        if i % 4 == 3:  # one invalid document in every 20
            batch[0] = copy.deepcopy(batch[0])
            batch[0]["spec"]["backends"][1]["weight"] = "10"
        docs.extend(batch)
        i += 1
    return docs[:n]


def _cpu(fn: Any) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


_IMPORT = (
    "import time; t = time.process_time(); import smi_conformance.models; print(time.process_time() - t)"
)


def import_cpu(rounds: int = 5) -> float:
    """CPU seconds to import the models in a fresh interpreter (part of every `smi lint` run)."""
    runs = [
        subprocess.run([sys.executable, "-c", _IMPORT], capture_output=True, text=True, check=True)
        for _ in range(rounds)
    ]
    return min(float(r.stdout) for r in runs)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    docs = corpus(n)
    infos = [models.lookup(d["apiVersion"], d["kind"]) for d in docs]
    models.validate(docs[0])  # warm up imports

    def run_validate() -> None:
        for doc in docs:
            models.validate(doc)

    def run_bare() -> None:
        for doc, info in zip(docs, infos, strict=True):
            with contextlib.suppress(ValueError):
                info.model.model_validate(doc)  # type: ignore[union-attr]

    def run_copy() -> None:
        copy.deepcopy(docs)

    rounds = 5
    best = {
        name: min(_cpu(fn) for _ in range(rounds))
        for name, fn in (
            ("validate()", run_validate),
            ("bare model_validate", run_bare),
            ("deepcopy (for scale)", run_copy),
        )
    }
    invalid = sum(1 for d in docs if models.validate(d))
    print(f"{n} documents ({invalid} invalid), best of {rounds} runs, CPU seconds:")
    for name, seconds in best.items():
        print(
            f"  {name:24s} {seconds:7.3f} s   {n / seconds:10,.0f} docs/s   {seconds / n * 1e6:6.1f} us/doc"
        )
    print(f"importing smi_conformance.models (fresh interpreter, best of 5): {import_cpu():.3f} s CPU")


if __name__ == "__main__":
    main()
