"""The pytest plugin (entry point ``pytest11: smi_conformance``): options, fixtures and result collection.

    pytest --smi-mesh=reference                       # the whole suite against the reference mesh (embedded)
    pytest --pyargs smi_conformance.suite.tests --smi-mesh=reference --smi-test=split-two-backends
    pytest my_tests/ --smi-mesh=reference             # your own tests, using the fixtures below

Without ``--smi-mesh`` (or the ini key ``smi_mesh``) the plugin only adds its options and stays out of the
way. Fixtures: ``smi`` (a TestContext: checks with evidence), ``smi_cluster``, ``smi_mesh`` (MeshInfo),
``smi_traffic`` (send traffic from a client pod), ``smi_apply`` (apply objects, deleted after the test),
``smi_metrics`` (GET a Traffic Metrics API path). The run's state lives in
:class:`~smi_conformance.suite.session.SmiSession`, registered only when a mesh is given; the logic it wires
lives in :mod:`smi_conformance.suite`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from smi_conformance.cluster.base import Cluster
    from smi_conformance.mesh.adapter import MeshInfo
    from smi_conformance.suite.context import TestContext
    from smi_conformance.suite.session import SmiSession
    from smi_conformance.suite.settings import SuiteSettings
    from smi_conformance.suite.traffic import Traffic

SUITE_DIR = Path(__file__).parent / "suite" / "tests"
PLUGIN_NAME = "smi-conformance-run"

#: (flag, ini key, SuiteSettings field, kind, help). kind: str, int, float, list, flag.
OPTIONS: list[tuple[str, str, str, str, str]] = [
    (
        "--smi-mesh",
        "smi_mesh",
        "mesh",
        "str",
        "mesh adapter to certify (an installed adapter, e.g. reference)",
    ),
    (
        "--smi-mesh-option",
        "smi_mesh_options",
        "mesh_options",
        "list",
        "KEY=VALUE for the adapter (repeatable)",
    ),
    ("--smi-cluster", "smi_cluster", "cluster", "str", "embedded (default), kind or kubeconfig"),
    (
        "--smi-kube-context",
        "smi_kube_context",
        "kube_context",
        "str",
        "kubeconfig context (--smi-cluster=kubeconfig; required: the current context is never used)",
    ),
    (
        "--smi-kubeconfig",
        "smi_kubeconfig",
        "kubeconfig",
        "str",
        "kubeconfig file (--smi-cluster=kubeconfig; default $KUBECONFIG, else ~/.kube/config)",
    ),
    (
        "--smi-kind-cluster",
        "smi_kind_cluster",
        "kind_cluster",
        "str",
        "kind cluster to create or reuse (--smi-cluster=kind; default smi-conformance)",
    ),
    (
        "--smi-keep-cluster",
        "smi_keep_cluster",
        "keep_cluster",
        "flag",
        "keep the kind cluster this run created (a reused one is always kept)",
    ),
    (
        "--smi-image",
        "smi_image",
        "image",
        "str",
        "the suite's image on Kubernetes (default: built here for kind; this tree's image name otherwise)",
    ),
    ("--smi-profile", "smi_profiles", "profiles", "list", "core and/or extended (repeatable; default both)"),
    ("--smi-claim", "smi_claim", "claim", "list", "claim a feature beyond the adapter's (repeatable)"),
    ("--smi-exempt", "smi_exempt", "exempt", "list", "withdraw a feature the adapter claims (repeatable)"),
    ("--smi-test", "smi_tests", "only", "list", "run only this conformance test id (repeatable)"),
    ("--smi-skip", "smi_skip", "skip", "list", "skip this conformance test id (repeatable)"),
    ("--smi-alpha", "smi_alpha", "alpha", "float", "P(a correct split fails a weight check) (default 1e-6)"),
    ("--smi-beta", "smi_beta", "beta", "float", "P(a split off by >= tolerance passes) (default 1e-6)"),
    ("--smi-tolerance", "smi_tolerance", "tolerance", "float", "weight tolerance, as a share (default 0.05)"),
    ("--smi-max-samples", "smi_max_samples", "max_samples", "int", "cap on requests per weight check"),
    (
        "--smi-timeout",
        "smi_timeout",
        "consistency_timeout_s",
        "float",
        "maximum time to consistency, s (default 30)",
    ),
    (
        "--smi-consecutive",
        "smi_consecutive",
        "consecutive",
        "int",
        "agreeing probes that mean converged (default 3)",
    ),
    ("--smi-seed", "smi_seed", "seed", "int", "seed of the generated cases (fixed by default)"),
    ("--smi-examples", "smi_examples", "generated_examples", "int", "generated policies per generated test"),
    ("--smi-namespace", "smi_namespace", "namespace", "str", "namespace prefix of the standard topology"),
    (
        "--smi-report",
        "smi_reports",
        "reports",
        "list",
        "write the ConformanceReport here (.yaml or .json; repeatable)",
    ),
    ("--smi-html", "smi_html", "html", "str", "write the HTML report here (one self-contained file)"),
    ("--smi-junit", "smi_junit", "junit", "str", "write JUnit XML here (one test case per conformance test)"),
    ("--smi-artifacts", "smi_artifacts", "artifacts", "str", "folder for logs saved after failures"),
    (
        "--smi-keep",
        "smi_keep",
        "keep",
        "flag",
        "keep each test's objects (and a Kubernetes cluster) for debugging",
    ),
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("smi-conformance", "SMI conformance suite")
    for flag, ini, _, kind, help_text in OPTIONS:
        if kind == "flag":
            group.addoption(flag, action="store_true", default=None, dest=ini, help=help_text)
            parser.addini(ini, help_text, type="bool", default=None)
        elif kind == "list":
            group.addoption(flag, action="append", default=None, dest=ini, metavar="VALUE", help=help_text)
            parser.addini(ini, help_text, type="linelist", default=None)
        else:
            group.addoption(flag, default=None, dest=ini, metavar=kind.upper(), help=help_text)
            parser.addini(ini, help_text, type="string", default=None)


def settings_from(config: pytest.Config) -> SuiteSettings | None:
    """The run's settings (defaults < ini < flags), or None when no mesh is given; UsageError on bad
    values."""
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}  # field -> where its value came from, as the user wrote it
    # `smi-conformance run` passes its options on as --smi-*: errors name them as its user wrote them
    prefix = next(
        (p.smi_flag_prefix for p in config.pluginmanager.get_plugins() if hasattr(p, "smi_flag_prefix")),
        "--smi-",
    )
    for flag, ini, field, kind, _ in OPTIONS:
        flag = prefix + flag.removeprefix("--smi-")
        value = config.getoption(ini)
        shown = flag if kind in ("list", "flag") else f"{flag}={value}"
        if value is None:
            value = config.getini(ini)
            shown = f"{ini} (ini)" if kind in ("list", "flag") else f"{ini} = {value} (ini)"
        if value is None or value == [] or value == "":
            continue
        values[field] = value
        origin[field] = shown
    if "mesh" not in values:
        return None
    from pydantic import ValidationError

    from smi_conformance.mesh.loader import parse_options
    from smi_conformance.suite.features import parse_features, parse_profiles
    from smi_conformance.suite.settings import SuiteSettings

    try:
        if "mesh_options" in values:
            values["mesh_options"] = parse_options(values["mesh_options"])
        if "profiles" in values:
            values["profiles"] = parse_profiles(values["profiles"])
        for key in ("claim", "exempt"):
            if key in values:
                values[key] = parse_features(values[key])
        for key in ("only", "skip", "reports"):
            if key in values:
                values[key] = tuple(values[key])
        return SuiteSettings.model_validate(values)
    except ValueError as exc:
        if isinstance(exc, ValidationError):
            lines = [
                f"{origin.get(str(e['loc'][0]), '.'.join(map(str, e['loc'])))}: {e['msg']}"
                for e in exc.errors(include_url=False)
            ]
            raise pytest.UsageError("smi-conformance: " + "; ".join(lines)) from None
        raise pytest.UsageError(f"smi-conformance: {exc}") from None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "smi_conformance(id): an SMI conformance test (see `smi-conformance list`)"
    )
    settings = settings_from(config)
    if settings is None:
        return
    from smi_conformance.mesh.adapter import AdapterError
    from smi_conformance.suite.registry import load_suite
    from smi_conformance.suite.run import ConformanceRun
    from smi_conformance.suite.session import SmiSession

    unknown = [t for t in (*settings.only, *settings.skip) if t not in load_suite()]
    if unknown:
        raise pytest.UsageError(
            f"smi-conformance: unknown test id(s) {', '.join(unknown)}; see `smi-conformance list`"
        )
    try:
        run = ConformanceRun(settings)
    except AdapterError as exc:
        raise pytest.UsageError(f"smi-conformance: {exc}") from None
    if config.args_source == pytest.Config.ArgsSource.INVOCATION_DIR:
        config.args[:] = [str(SUITE_DIR)]  # no paths, no testpaths: run the suite itself
    config.pluginmanager.register(SmiSession(run), PLUGIN_NAME)


def _session(request: pytest.FixtureRequest) -> SmiSession:
    session: SmiSession | None = request.config.pluginmanager.get_plugin(PLUGIN_NAME)
    if session is None:
        pytest.skip("no mesh to test: give --smi-mesh (or the ini key smi_mesh)")
    return session


@pytest.fixture(scope="session")
def smi_cluster(request: pytest.FixtureRequest) -> Cluster:
    """The running cluster with the standard topology and the mesh (started on first use)."""
    return _session(request).cluster()


@pytest.fixture(scope="session")
def smi_mesh(request: pytest.FixtureRequest) -> MeshInfo:
    """What the mesh claims (API versions, features, denial forms, metrics)."""
    return _session(request).run.mesh


@pytest.fixture(scope="session")
def smi_settings(request: pytest.FixtureRequest) -> SuiteSettings:
    return _session(request).run.settings


@pytest.fixture()
def smi(request: pytest.FixtureRequest) -> Iterator[TestContext]:
    """A conformance test's context; for a registered test, its objects are applied before and deleted
    after."""
    session = _session(request)
    node = request.node
    ctx = session.context(node)
    objects = session.prepare(node, ctx)
    try:
        yield ctx
    finally:
        session.finish(ctx, objects)


@pytest.fixture()
def smi_traffic(smi: TestContext) -> Traffic:
    """Send traffic from a client pod's driver: ``smi_traffic.http("client", "web", count=10)``."""
    return smi.traffic


@pytest.fixture()
def smi_apply(
    smi_cluster: Cluster, smi_settings: SuiteSettings
) -> Iterator[Callable[[Sequence[Mapping[str, Any]]], None]]:
    """``smi_apply(docs)``: apply objects; they are deleted after the test (unless --smi-keep)."""
    applied: list[Sequence[Mapping[str, Any]]] = []

    def apply(docs: Sequence[Mapping[str, Any]]) -> None:
        smi_cluster.apply(docs)
        applied.append(docs)

    yield apply
    if not smi_settings.keep:
        for docs in reversed(applied):
            smi_cluster.delete(docs)


@pytest.fixture()
def smi_metrics(smi_cluster: Cluster) -> Callable[..., Any]:
    """``smi_metrics(path, params)``: GET a Traffic Metrics API path; None for a 404."""
    return smi_cluster.metrics_get
