"""One RE2 compiler for the linter, the oracle, the schema checker and the reference mesh: the same verdict
and the same words everywhere."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from reference_mesh.proxy.config import HttpMatch
from smi_conformance.lint.rules.routes import regex_error
from smi_conformance.regex import RegexError, compile_re2
from smi_conformance.suite.oracle import Oracle, OracleError
from smi_conformance.suite.topology import standard_topology


def test_a_pattern_re2_takes_compiles_once() -> None:
    assert compile_re2("/api/.*") is compile_re2("/api/.*")  # cached
    assert compile_re2("/api/.*").match("/api/v1") is not None


def test_a_pattern_re2_rejects_says_why_in_words() -> None:
    with pytest.raises(RegexError) as caught:
        compile_re2("(?=x)y")
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.pattern == "(?=x)y"
    assert error.reason and not error.reason.startswith("b'")  # RE2's bytes, decoded
    assert str(error) == f"RE2 rejects '(?=x)y': {error.reason}"


def test_every_user_reports_the_same_reason() -> None:
    with pytest.raises(RegexError) as caught:
        compile_re2("a(?<=b)")
    reason = caught.value
    assert regex_error("a(?<=b)") == (reason.reason, True)  # Python's re takes a lookbehind
    with pytest.raises(ValueError, match=re.escape(str(reason))):
        HttpMatch(path_regex="a(?<=b)")
    group = {
        "apiVersion": "specs.smi-spec.io/v1alpha4",
        "kind": "HTTPRouteGroup",
        "metadata": {"name": "g", "namespace": "shop"},
        "spec": {"matches": [{"name": "m", "pathRegex": "a(?<=b)"}]},
    }
    with pytest.raises(OracleError, match=re.escape(f"pathRegex: {reason}")):
        Oracle(standard_topology(), [group])


def test_linting_without_route_groups_never_loads_re2() -> None:
    code = (
        "import sys; from smi_conformance.lint import engine, registry;"
        "import smi_conformance.lint.rules.routes; print('re2' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"
