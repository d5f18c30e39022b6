"""How the split rules (and the gateway, which shares them) read a backend weight: exact numbers, v1alpha1
quantities only in v1alpha1, and nothing for what is no number."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from smi_conformance.lint.resources import Resource
from smi_conformance.lint.rules.split import weight_value
from smi_conformance.manifests import load_text


def _split(version: str) -> Resource:
    document = load_text(f"apiVersion: split.smi-spec.io/{version}\nkind: TrafficSplit\n").documents[0]
    return Resource(document, f"split.smi-spec.io/{version}", "TrafficSplit", document.data)


@pytest.mark.parametrize(
    ("version", "weight", "value"),
    [
        ("v1alpha4", 90, Fraction(90)),
        ("v1alpha4", 0.5, Fraction(1, 2)),
        ("v1alpha4", -10, Fraction(-10)),
        ("v1alpha4", "500m", None),  # a quantity only in v1alpha1
        ("v1alpha4", True, None),
        ("v1alpha4", float("nan"), None),
        ("v1alpha4", float("inf"), None),
        ("v1alpha4", None, None),
        ("v1alpha1", "500m", Fraction(1, 2)),
        ("v1alpha1", " 2k ", Fraction(2000)),
        ("v1alpha1", "many", None),
        ("v1alpha1", 3, Fraction(3)),
    ],
)
def test_a_weight_reads_as_an_exact_number_or_none(version: str, weight: Any, value: Fraction | None) -> None:
    read = weight_value(_split(version), weight)
    assert read == value and type(read) is type(value)
