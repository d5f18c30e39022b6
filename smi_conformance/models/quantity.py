"""Kubernetes resource Quantities, parsed exactly.

split.smi-spec.io/v1alpha1 weights are Quantities: ``1`` equals ``1000m`` and ``500m`` is half of ``1``.
Floating point would turn ``100m`` into 0.1000000000000000055..., so values are exact
:class:`fractions.Fraction` s.

Grammar (k8s.io/apimachinery/pkg/api/resource):
``<signedNumber><suffix>`` with a number like ``1``, ``1.5``, ``.5`` or ``1.``; suffix one of the binary-SI
``Ki Mi Gi Ti Pi Ei``, the decimal-SI ``n u m k M G T P E`` (or none), or a decimal exponent ``e3`` / ``E-2``.
Kubernetes caps magnitudes at 2^63-1 and rounds anything finer than 1n up; rather than round silently, such
values are rejected here.
"""

from __future__ import annotations

import re
from decimal import Decimal, localcontext
from fractions import Fraction
from functools import total_ordering
from typing import Any, ClassVar

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from smi_conformance.models._base import FORMAT, TYPE, VALUE, custom_error, plain_schema

_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_SUFFIX = r"(?:[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)"
QUANTITY_PATTERN = rf"^[+-]?{_NUMBER}{_SUFFIX}?$"
NONNEGATIVE_QUANTITY_PATTERN = rf"^\+?{_NUMBER}{_SUFFIX}?$"
_QUANTITY_RE = re.compile(rf"^([+-]?{_NUMBER})({_SUFFIX}?)$")

_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
MAX_QUANTITY = 2**63 - 1
_MAX_TEXT = 100  # longer strings are not quantities anyone writes; bounds parsing work
_EXAMPLES = "such as '1', '500m', '1.5' or '2k'"


@total_ordering
class Quantity:
    """An exact Kubernetes Quantity. Compares and hashes by value (``Quantity("1") == Quantity("1000m")``);
    keeps the representation it was written in (``original``) so documents round-trip unchanged."""

    __slots__ = ("original", "value")
    NONNEGATIVE: ClassVar[bool] = False

    original: int | str
    value: Fraction

    def __init__(self, original: int | str) -> None:
        self.original = original
        self.value = parse_quantity(original)

    def __repr__(self) -> str:
        return f"Quantity({self.original!r})"

    def __str__(self) -> str:
        return str(self.original)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Quantity):
            return self.value == other.value
        return NotImplemented

    def __lt__(self, other: object) -> bool:
        if isinstance(other, Quantity):
            return self.value < other.value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.value)

    def as_decimal(self) -> Decimal:
        """The exact value as a Decimal (exact: every Quantity is a multiple of 1e-9)."""
        with localcontext() as ctx:
            ctx.prec = 64
            return Decimal(self.value.numerator) / Decimal(self.value.denominator)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        validate = _validate_nonnegative_quantity if cls.NONNEGATIVE else _validate_quantity
        return plain_schema(validate, lambda q: q.original)

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return quantity_json_schema(nonnegative=cls.NONNEGATIVE)


class NonNegativeQuantity(Quantity):
    """A Quantity that must not be negative (v1alpha1 TrafficSplit weights)."""

    __slots__ = ()
    NONNEGATIVE = True


def quantity_json_schema(*, nonnegative: bool) -> JsonSchemaValue:
    """Integer or Quantity string: the shape Kubernetes calls int-or-string."""
    integer: dict[str, Any] = {"type": "integer", "maximum": MAX_QUANTITY}
    integer["minimum"] = 0 if nonnegative else -MAX_QUANTITY
    pattern = NONNEGATIVE_QUANTITY_PATTERN if nonnegative else QUANTITY_PATTERN
    return {"anyOf": [integer, {"type": "string", "pattern": pattern}]}


class QuantityError(ValueError):
    """Why a value is not a valid Kubernetes Quantity; ``str()`` reads "must be ..., got ..."."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def parse_quantity(text: int | str) -> Fraction:
    """The exact value of a Quantity written as ``text``; QuantityError when it is not one."""
    if isinstance(text, bool) or not isinstance(text, (int, str)):
        raise QuantityError(TYPE, f"must be a quantity: an integer or a string {_EXAMPLES}")
    if isinstance(text, int):
        value = Fraction(text)
    else:
        match = _QUANTITY_RE.match(text) if len(text) <= _MAX_TEXT else None
        if match is None:
            raise QuantityError(FORMAT, f"must be a Kubernetes quantity {_EXAMPLES}, got {text!r}")
        value = _exact_value(text, *match.groups())
    if abs(value) > MAX_QUANTITY:
        raise QuantityError(
            VALUE, f"must be at most 2^63-1 in magnitude (the Kubernetes limit), got {text!r}"
        )
    return value


def _exact_value(text: str, number: str, suffix: str) -> Fraction:
    with localcontext() as ctx:
        # Enough digits that no arithmetic below rounds: the number has at most _MAX_TEXT digits.
        ctx.prec = 2 * _MAX_TEXT
        ctx.Emax, ctx.Emin = 10**12, -(10**12)
        dec = Decimal(number)
        if not dec:
            return Fraction(0)
        if suffix in _BINARY:
            dec = dec * (2 ** _BINARY[suffix])
        else:
            exponent = _DECIMAL[suffix] if suffix in _DECIMAL else int(suffix[1:])
            if exponent > 10**6:
                raise QuantityError(
                    VALUE, f"must be at most 2^63-1 in magnitude (the Kubernetes limit), got {text!r}"
                )
            dec = dec.scaleb(max(exponent, -(10**6)))
        if abs(dec) > MAX_QUANTITY:
            raise QuantityError(
                VALUE, f"must be at most 2^63-1 in magnitude (the Kubernetes limit), got {text!r}"
            )
        nanos = dec.scaleb(9)
        if nanos != nanos.to_integral_value():
            raise QuantityError(
                VALUE,
                "must be a whole number of nano units (Kubernetes rounds anything finer than 1n up), "
                f"got {text!r}",
            )
        return Fraction(int(nanos), 10**9)


def _validate_quantity(value: Any) -> Quantity:
    return _build(Quantity, value)


def _validate_nonnegative_quantity(value: Any) -> Quantity:
    quantity = _build(NonNegativeQuantity, value)
    if quantity.value < 0 or (isinstance(value, str) and value.startswith("-")):
        raise custom_error(VALUE, f"must not be negative, got {value!r}")
    return quantity


def _build(cls: type[Quantity], value: Any) -> Quantity:
    if isinstance(value, Quantity):
        return value
    try:
        return cls(value)
    except QuantityError as exc:
        raise custom_error(exc.kind, str(exc)) from None


__all__ = ["MAX_QUANTITY", "NonNegativeQuantity", "Quantity", "QuantityError", "parse_quantity"]
