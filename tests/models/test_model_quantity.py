from __future__ import annotations

from fractions import Fraction

import pytest

from smi_conformance import models
from smi_conformance.models.quantity import MAX_QUANTITY, Quantity, QuantityError, parse_quantity


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1),
        ("1000m", 1),
        ("500m", Fraction(1, 2)),
        ("10m", Fraction(1, 100)),
        ("1500m", Fraction(3, 2)),
        ("0m", 0),
        ("1.5", Fraction(3, 2)),
        (".5", Fraction(1, 2)),
        ("1.", 1),
        ("+2", 2),
        ("-1", -1),
        ("1n", Fraction(1, 10**9)),
        ("3u", Fraction(3, 10**6)),
        ("2k", 2000),
        ("1M", 10**6),
        ("1G", 10**9),
        ("1T", 10**12),
        ("1P", 10**15),
        ("1E", 10**18),
        ("1Ki", 1024),
        ("1Mi", 1024**2),
        ("1Gi", 1024**3),
        ("1Ti", 1024**4),
        ("1Pi", 1024**5),
        ("1Ei", 1024**6),
        ("1e3", 1000),
        ("1E3", 1000),
        ("25e-3", Fraction(1, 40)),
        ("1e-9", Fraction(1, 10**9)),
        ("0.001k", 1),
        (7, 7),
        (0, 0),
        (str(MAX_QUANTITY), MAX_QUANTITY),
    ],
)
def test_quantities_parse_exactly(text: int | str, value: Fraction | int) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("", "smi_format"),
        ("abc", "smi_format"),
        ("1 ", "smi_format"),
        ("1.5.5", "smi_format"),
        ("1ki", "smi_format"),
        ("1K", "smi_format"),
        ("1e", "smi_format"),
        ("1e1.5", "smi_format"),
        ("--1", "smi_format"),
        ("1" * 200, "smi_format"),
        ("0.5n", "smi_value"),  # finer than 1n: Kubernetes would round it up
        ("1e-10", "smi_value"),
        ("9223372036854775808", "smi_value"),  # above 2^63-1
        ("1e400000000", "smi_value"),
        (2**63, "smi_value"),
        (1.5, "smi_type"),
        (True, "smi_type"),
        (None, "smi_type"),
    ],
)
def test_malformed_quantities_are_rejected(text: object, kind: str) -> None:
    with pytest.raises(QuantityError) as caught:
        parse_quantity(text)  # type: ignore[arg-type]
    assert caught.value.kind == kind
    assert str(caught.value).startswith("must ")


def test_quantities_compare_by_value_and_keep_their_spelling() -> None:
    assert Quantity("1") == Quantity("1000m") == Quantity(1)
    assert hash(Quantity("1")) == hash(Quantity("1000m"))
    assert Quantity("500m") < Quantity("1")
    assert Quantity("500m").value * 2 == Quantity("1").value
    assert Quantity("1000m").original == "1000m"
    assert str(Quantity("1000m")) == "1000m"
    assert Quantity("1.5").as_decimal() == Quantity("1500m").as_decimal()


def _split_v1alpha1(*weights: object) -> dict[str, object]:
    return {
        "apiVersion": "split.smi-spec.io/v1alpha1",
        "kind": "TrafficSplit",
        "metadata": {"name": "s"},
        "spec": {
            "service": "web",
            "backends": [{"service": f"b{i}", "weight": w} for i, w in enumerate(weights)],
        },
    }


def test_v1alpha1_weights_load_as_exact_quantities_and_dump_as_written() -> None:
    model = models.load(_split_v1alpha1("1", "500m", 2))
    weights = [b.weight for b in model.spec.backends]  # type: ignore[attr-defined]
    assert [w.value for w in weights] == [1, Fraction(1, 2), 2]
    assert [b["weight"] for b in models.dump(model)["spec"]["backends"]] == ["1", "500m", 2]


@pytest.mark.parametrize(
    ("weight", "kind", "text"),
    [
        ("-1", "value", "must not be negative"),
        (-1, "value", "must not be negative"),
        ("ten", "format", "must be a Kubernetes quantity"),
        (0.5, "type", "must be a quantity"),
        (True, "type", "must be a quantity"),
    ],
)
def test_invalid_v1alpha1_weights_are_located(weight: object, kind: str, text: str) -> None:
    (problem,) = models.validate(_split_v1alpha1("1", weight))
    assert problem.path == ("spec", "backends", 1, "weight")
    assert problem.kind == kind
    assert problem.message.startswith(f"weight {text}")
