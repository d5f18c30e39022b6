"""YAML parsers that could replace libyaml in ``smi lint``, measured on its benchmark corpus.

    python benchmarks/yaml_parsers.py [--docs 10000] [--repeat 5]

Runs every candidate that is importable (none is a dependency: install them into a scratch environment,
``pip install yaml-rs fastyaml-rs rapidyaml``, and run this with the project on ``PYTHONPATH``):

- ``smi_conformance`` itself: libyaml (PyYAML's C parser) and the project's builder, one document at a
  time, as ``smi lint`` parses without its compiled reader; and the compiled reader (``native/``), when
  installed;
- PyYAML's ``CSafeLoader`` on the whole stream (what most Python linters use);
- yaml-rs (``yaml_rs.loads``) and fastyaml-rs (``fast_yaml.safe_load_all``), Rust, whole stream;
- rapidyaml (``ryml``): its C++ tree parse alone, and with the Python walk its tree API needs to build data.

For each: CPU time (best of ``--repeat``), how many documents' data differ from what ``smi lint`` reads
(YAML 1.1 scalars as Kubernetes reads them: ``yes``, ``on``, ``012``, ``1_000``...), and whether the
parser can say where a node is (``smi lint`` needs a line and column for every finding).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lint_speed import corpus

#: A document whose scalars YAML 1.1 (Kubernetes, PyYAML, smi lint) and YAML 1.2 read differently.
YAML_11 = "kind: X\nmetadata: {name: a}\ndata: {a: yes, b: on, c: 012, d: 1_000, e: 1e3, f: 0o12}\n"


def best(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.process_time()
        result = fn()
        times.append(time.process_time() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    docs = corpus(args.docs)
    docs[1] = YAML_11  # one document where the YAML versions disagree
    text = "---\n".join(docs)

    from smi_conformance._yamlparse import NATIVE, parse_chunk_tree
    from smi_conformance.manifests import load_text

    reference = [d.data for d in load_text(text).documents]
    rows: list[tuple[str, float, str, str]] = []

    def ours(native: bool) -> list[Any]:
        return [parse_chunk_tree("x", chunk, 0, native=native)[0] for chunk in docs]

    seconds, data = best(args.repeat, lambda: ours(False))
    rows.append(
        ("smi_conformance (libyaml + builder, per document)", seconds, _differ(data, reference), "yes")
    )
    if NATIVE is not None:
        seconds, data = best(args.repeat, lambda: ours(True))
        rows.append(
            (
                "smi_conformance, compiled reader (native/)",
                seconds,
                _differ(data, reference),
                "yes (its locate)",
            )
        )

    import yaml

    seconds, data = best(args.repeat, lambda: list(yaml.load_all(text, Loader=yaml.CSafeLoader)))
    rows.append(("PyYAML CSafeLoader, whole stream", seconds, _differ(data, reference), "with its composer"))

    candidates: list[tuple[str, str, Callable[[Any], Any], str]] = [
        (
            "yaml_rs",
            "yaml-rs (yaml_rs.loads)",
            lambda m: m.loads(text, parse_datetime=False),
            "no (errors only)",
        ),
        (
            "fast_yaml",
            "fastyaml-rs (safe_load_all)",
            lambda m: list(m.safe_load_all(text)),
            "no (errors only)",
        ),
    ]
    for module, label, run, locations in candidates:
        try:
            loaded = importlib.import_module(module)
        except ImportError:
            rows.append((label, float("nan"), "not installed", ""))
            continue
        seconds, data = best(args.repeat, lambda loaded=loaded, run=run: run(loaded))
        rows.append((label, seconds, _differ(data, reference), locations))
    try:
        ryml = importlib.import_module("ryml")
    except ImportError:
        rows.append(("rapidyaml (ryml)", float("nan"), "not installed", ""))
    else:
        raw = text.encode()
        seconds, _ = best(args.repeat, lambda: ryml.parse_in_arena(raw))
        rows.append(("rapidyaml: C++ tree parse only", seconds, "(no data)", "no (not in its Python API)"))
        seconds, data = best(args.repeat, lambda: _ryml_data(ryml, raw))
        rows.append(("rapidyaml: tree + Python walk to data", seconds, _differ(data, reference), "no"))

    print(f"{args.docs:,} documents, {len(text) / 1e6:.1f} MB; CPU time, best of {args.repeat}\n")
    print("| parser | CPU | documents whose data differ from smi lint's | node locations |")
    print("|---|---:|---:|---|")
    for label, seconds, differ, locations in rows:
        print(f"| {label} | {seconds:.3f} s | {differ} | {locations} |")


def _differ(data: list[Any], reference: list[Any]) -> str:
    data = [d for d in data if d is not None]
    if len(data) != len(reference):
        return f"{len(data)} documents read, {len(reference)} expected"
    return str(sum(1 for a, b in zip(data, reference, strict=True) if a != b))


def _ryml_data(ryml: Any, raw: bytes) -> list[Any]:
    """Data from rapidyaml's tree: every scalar a string (its API gives no resolution, quotes or tags)."""
    tree = ryml.parse_in_arena(raw)
    none = ryml.NONE

    def build(node: int) -> Any:
        if tree.is_map(node):
            out: dict[str, Any] = {}
            child = tree.first_child(node)
            while child != none:
                out[bytes(tree.key(child)).decode()] = build(child)
                child = tree.next_sibling(child)
            return out
        if tree.is_seq(node):
            items = []
            child = tree.first_child(node)
            while child != none:
                items.append(build(child))
                child = tree.next_sibling(child)
            return items
        return bytes(tree.val(node)).decode()

    docs = []
    child = tree.first_child(tree.root_id())
    while child != none:
        docs.append(build(child))
        child = tree.next_sibling(child)
    return docs


if __name__ == "__main__":
    main()
