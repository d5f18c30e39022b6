"""``smi lint``: rules beyond the schema for SMI manifests, with stable codes, for pre-commit and CI.

>>> from smi_conformance.lint import lint
>>> result = lint(["examples/"])            # doctest: +SKIP
>>> [(f.code, str(f.location)) for f in result.findings]   # doctest: +SKIP

Layers (imports only go down): ``cli`` -> ``reporters`` -> ``engine`` -> ``config``/``suppression`` ->
``registry`` -> ``rules`` -> ``resources``/``rule`` -> ``smi_conformance.manifests``.
"""

from smi_conformance.lint.config import LintConfig
from smi_conformance.lint.engine import EmptyInputError, Finding, InputError, LintResult, lint, lint_documents
from smi_conformance.lint.rule import Hit, Rule, Severity

__all__ = [
    "EmptyInputError",
    "Finding",
    "Hit",
    "InputError",
    "LintConfig",
    "LintResult",
    "Rule",
    "Severity",
    "lint",
    "lint_documents",
]
