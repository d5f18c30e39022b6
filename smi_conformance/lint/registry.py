"""Every rule, keyed by its stable code; selection by code, alias (rule name) or code prefix."""

from __future__ import annotations

from collections.abc import Iterable

from smi_conformance.lint.rule import Rule
from smi_conformance.lint.rules import (
    access,
    access_workloads,
    inputs,
    portability,
    references,
    routes,
    schema,
    split,
    split_services,
    versions,
)

__all__ = ["ALIASES", "RULES", "resolve", "rule"]

_ALL: tuple[type[Rule], ...] = (
    *inputs.RULES,
    *schema.RULES,
    *split.RULES,
    *split_services.RULES,
    *references.RULES,
    *access.RULES,
    *access_workloads.RULES,
    *routes.RULES,
    *versions.RULES,
    *portability.RULES,
)

#: code -> rule instance, in code order.
RULES: dict[str, Rule] = {cls.code: cls() for cls in sorted(_ALL, key=lambda cls: cls.code)}
#: readable name (current or former) -> code.
ALIASES: dict[str, str] = {
    name: code for code, r in RULES.items() for name in (r.name, *r.aliases)
}  # fmt: skip

if len(RULES) != len(_ALL) or len(ALIASES) != sum(1 + len(r.aliases) for r in RULES.values()):
    # pragma: no cover - caught by the registry test
    raise RuntimeError("duplicate rule code or name")


def rule(code_or_name: str) -> Rule:
    """The rule with this code (``SMI203``, any case) or name (``all-weights-zero``); KeyError if none."""
    key = code_or_name.strip()
    code = ALIASES.get(key.lower(), key.upper())
    return RULES[code]


def resolve(selectors: Iterable[str]) -> set[str]:
    """Codes selected by codes, names, prefixes (``SMI7`` = every portability rule) or ``ALL``.

    Raises ValueError naming the selector that matches nothing, so typos in configuration are loud.
    """
    codes: set[str] = set()
    for selector in selectors:
        key = selector.strip()
        if not key:
            continue
        if key.upper() == "ALL":
            codes.update(RULES)
        elif key.lower() in ALIASES:
            codes.add(ALIASES[key.lower()])
        else:
            matched = {code for code in RULES if code.startswith(key.upper())}
            if not matched or not key.upper().startswith("SMI"):
                raise ValueError(f"unknown rule {selector!r} (see smi lint --list-rules)")
            codes.update(matched)
    return codes
