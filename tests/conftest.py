"""Shared fixtures: where the SMI reference data (../shared/smi-spec) lives."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

#: ``--hypothesis-profile=mutation`` (benchmarks/mutation.py): the same examples on every run and no example
#: database, so whether a mutant is killed does not depend on luck or on the mutants before it.
settings.register_profile(
    "mutation", derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)

#: pytester runs pytest inside the tests (the conformance plugin is tested the way users run it).
pytest_plugins = ["pytester"]

REPO_ROOT = Path(__file__).resolve().parent.parent

# Tests send SIGINT to the commands they start, as Ctrl-C in a terminal does. A run started in the background
# without job control (`make test &` in a script, nohup) ignores SIGINT, and every process it starts inherits
# that: Python then installs no KeyboardInterrupt handler and Ctrl-C does nothing. Taking SIGINT here again
# gives the commands started by the tests what a terminal gives them (the default, reset on exec).
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def missing_input(reason: str) -> None:
    """A test's outside input (reference data, a schema, a browser) is missing: skip, saying why, except under
    CI=true, where the test fails with the same reason: CI installs every input, so a missing one is a broken
    set-up that a skip would hide."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true, and CI must run this test: {reason}", pytrace=False)
    pytest.skip(reason)


def shared_dir() -> Path:
    """The reference data folder: $SMI_SHARED_DIR, else ../shared beside the repository."""
    env = os.environ.get("SMI_SHARED_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def smi_spec_dir() -> Path:
    """../shared/smi-spec, or skip: the official CRDs and spec examples are reference data, not ours."""
    path = shared_dir() / "smi-spec"
    if not (path / "examples").is_dir():
        missing_input(f"SMI reference data not found at {path} (set SMI_SHARED_DIR)")
    return path


def kind_enabled(config: pytest.Config) -> bool:
    """Cluster tests run only when asked for: --kind or SMI_KIND=1 (they need Docker and a node image)."""
    return bool(config.getoption("--kind")) or os.environ.get("SMI_KIND") == "1"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--kind",
        action="store_true",
        help="run the tests marked 'kind' on a kind cluster (same as SMI_KIND=1; see ci/kind/, README)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if kind_enabled(config):
        return
    skip = pytest.mark.skip(
        reason="needs a kind cluster: pass --kind or set SMI_KIND=1 (README: Kubernetes (kind))"
    )
    for item in items:
        if item.get_closest_marker("kind") is not None:
            item.add_marker(skip)


#: Test modules that run whole in one worker process, in file order: their tests share a module-scoped set-up
#: in the kind cluster (an installation of the reference mesh; the SMI CRDs), and the two take turns on the
#: SMI CRDs (tests/kind/conftest.py: smi_crd_owner). Every other test is handed out one by one, as
#: ``--dist load`` does.
ONE_WORKER_MODULES = frozenset(
    {
        "tests/kind/test_reference_mesh.py",
        "tests/kind/test_smi_crds.py",
        "tests/kind/test_conformance_suite.py",
    }
)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``-n N`` (``--dist load``), except that a module of ONE_WORKER_MODULES is one unit of work. (xdist's
    own ``--dist loadgroup`` relies on renaming test ids, which pytest 9.2 no longer lets it do.)"""
    if config.getoption("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModulesInOneWorker(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module in ONE_WORKER_MODULES else nodeid

    return ModulesInOneWorker(config, log)
