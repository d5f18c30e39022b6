"""``smi convert --to VERSION FILE...``: rewrite SMI objects in another API version of their kind.

Only documents whose kind the ``--to`` versions name are rewritten; every other document (other kinds,
Services, comments between documents) is copied byte for byte. A conversion that would lose information
(a port the target cannot express, a header filter an old version lacks) stops with the reason and the
location in the source file. With ``--write`` files are replaced atomically, and only when every document
of every file converted: nothing is ever half-written.

Exit codes: 0 converted (or nothing to convert), 1 some document cannot be converted (nothing written),
2 usage error or unreadable input.
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import yaml

from smi_conformance.manifests import Document, LoadResult, Source, load_paths

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Dumper(yaml.CSafeDumper):
    """Block-style YAML, keys in the order the models give, never anchors/aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(data: Any) -> str:
    text: str = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return text


@dataclass
class _FileResult:
    source: Source
    text: str = ""
    changed: int = 0
    errors: list[str] = field(default_factory=list)


def _target(targets: tuple[str, ...], api_version: str) -> str | None:
    """Which ``--to`` applies to a document of ``api_version`` (a full apiVersion beats a bare version)."""
    group = api_version.rpartition("/")[0]
    for target in targets:
        if "/" in target and target.rpartition("/")[0] == group:
            return target
    for target in targets:
        if "/" not in target:
            return target
    return None


def _convert_data(doc: Document, data: Any, targets: tuple[str, ...], out: _FileResult) -> Any:
    """``data`` converted where a target applies; records errors (located) in ``out``."""
    from smi_conformance.models import ConversionError, SMIValidationError, convert, lookup

    if not isinstance(data, dict):
        return data
    api_version, kind = data.get("apiVersion"), data.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str) or lookup(api_version, kind) is None:
        return data
    target = _target(targets, api_version)
    if target is None or target in (api_version, api_version.rpartition("/")[2]):
        return data
    try:
        converted = convert(data, target)
    except (ConversionError, SMIValidationError) as exc:
        what = "cannot be converted" if isinstance(exc, ConversionError) else "is not valid, so not converted"
        for problem in exc.problems:
            location = doc.locate(tuple(problem.path), key=problem.kind == "unknown-field")
            out.errors.append(f"{location}: {kind} {what} to {target}: {problem.message}")
        return data
    except LookupError as exc:
        out.errors.append(f"{doc.locate(('apiVersion',))}: {exc}")
        return data
    out.changed += 1
    return converted


def convert_source(source: Source, documents: list[Document], targets: tuple[str, ...]) -> _FileResult:
    """The converted text of one input: untouched documents keep their exact text."""
    out = _FileResult(source)
    pieces: list[str] = []
    position = 0
    by_chunk: dict[int, list[Document]] = {}
    for doc in documents:
        by_chunk.setdefault(doc.start, []).append(doc)
    for start, docs in sorted(by_chunk.items()):
        first = docs[0]
        before = out.changed
        if first.base:  # members of a List: convert the items, re-dump the whole list
            container = _container(first)
            items = [_convert_data(d, d.data, targets, out) for d in docs]
            new: Any = {**container, "items": items}
        else:
            new = _convert_data(first, first.data, targets, out)
        if out.changed == before:
            continue
        pieces.append(source.text[position:start])
        pieces.append(_leading_lines(source.text[start : first.end]) + dump_yaml(new))
        position = first.end
    pieces.append(source.text[position:])
    out.text = "".join(pieces)
    return out


def _leading_lines(chunk: str) -> str:
    """The ``---`` marker and the comment lines before a document's content: kept when it is rewritten."""
    kept: list[str] = []
    for line in chunk.splitlines(keepends=True):
        stripped = line.strip()
        if (stripped == "---" and not kept) or not stripped or stripped.startswith("#"):
            kept.append(line if line.endswith("\n") else line + "\n")
        else:
            break
    return "".join(kept)


def _container(member: Document) -> dict[str, Any]:
    """The List document a member belongs to."""
    parent = member.parent
    return dict(parent) if isinstance(parent, dict) else {}


GATEWAY_API = "gateway-api"


@click.command("convert")
@click.argument("files", nargs=-1, metavar="FILE...")
@click.option(
    "--to",
    "targets",
    multiple=True,
    metavar="VERSION",
    help="Target apiVersion, e.g. split.smi-spec.io/v1alpha4 (repeat for several groups), a bare version, "
    "or gateway-api.",
)
@click.option(
    "-w", "--write", is_flag=True, help="Rewrite the files in place (atomically) instead of printing."
)
@click.option(
    "--authz",
    type=click.Choice(["linkerd", "istio"]),
    help="gateway-api: convert TrafficTargets into this mesh's authorization resources.",
)
@click.option(
    "--services",
    multiple=True,
    metavar="FILE",
    help="gateway-api: Services and workloads to read (not convert): their ports and labels.",
)
@click.option(
    "-o", "--output-dir", metavar="DIR", help="gateway-api: write one file per input file under DIR."
)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning", "info"]),
    default="error",
    show_default=True,
    help="gateway-api: exit 1 and write nothing when a finding is at least this severe.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif", "github", "junit"]),
    default="text",
    show_default=True,
    help="gateway-api: format of the findings report.",
)
@click.option(
    "--report", metavar="FILE", help="gateway-api: write the findings report here (default: stderr)."
)
@click.option(
    "--trust-domain",
    default="cluster.local",
    show_default=True,
    help="gateway-api --authz istio: the trust domain of the principals.",
)
@click.option("--explain", metavar="CODE", help="Explain a finding code (GW101, or its name) and exit.")
def convert_command(
    files: tuple[str, ...],
    targets: tuple[str, ...],
    write: bool,
    authz: str | None,
    services: tuple[str, ...],
    output_dir: str | None,
    fail_on: str,
    fmt: str,
    report: str | None,
    trust_domain: str,
    explain: str | None,
) -> None:
    """Convert SMI objects in FILE... (or - for stdin) to another API version of their kind, or to
    Gateway API (--to gateway-api).

    \b
    Between SMI versions: other documents are copied unchanged; comments inside a converted document are
    not kept. Exit codes: 0 converted, 1 a document cannot be converted (nothing written), 2 usage or
    unreadable input.
    \b
    --to gateway-api: TrafficSplits become HTTPRoutes, TrafficTargets (with --authz) the mesh's
    authorization resources; every loss of meaning is a finding (smi convert --explain CODE). Exit codes
    as in smi lint: 0 nothing at or above --fail-on, 1 findings at or above it (nothing written), 2 usage
    error or unreadable input. See docs/migrating-to-gateway-api.md.
    """
    from smi_conformance.lint.rule import Severity

    if explain is not None:
        from smi_conformance.gateway.cli import explain as explain_code

        if not explain_code(explain):
            click.echo(f"smi convert: unknown finding code {explain!r} (see docs/rules.md)", err=True)
            sys.exit(EXIT_USAGE)
        return
    if not targets:
        click.echo("smi convert: give --to VERSION (or --to gateway-api); see smi convert --help", err=True)
        sys.exit(EXIT_USAGE)
    if not files:
        click.echo("smi convert: give at least one FILE (or - for stdin)", err=True)
        sys.exit(EXIT_USAGE)
    gateway = GATEWAY_API in targets
    if gateway and len(targets) > 1:
        click.echo("smi convert: --to gateway-api cannot be combined with other --to targets", err=True)
        sys.exit(EXIT_USAGE)
    given = [
        name
        for name, value in (
            ("--authz", authz), ("--services", services), ("-o", output_dir), ("--report", report),
            ("--fail-on", fail_on != "error"), ("--format", fmt != "text"),
            ("--trust-domain", trust_domain != "cluster.local"),
        )
        if value
    ]  # fmt: skip
    if given and not gateway:
        click.echo(f"smi convert: {', '.join(given)} only apply to --to gateway-api", err=True)
        sys.exit(EXIT_USAGE)
    if write and "-" in files:
        click.echo("smi convert: --write cannot rewrite stdin", err=True)
        sys.exit(EXIT_USAGE)
    try:
        if gateway:
            from smi_conformance.gateway.cli import GatewayArgs
            from smi_conformance.gateway.cli import run as run_gateway

            code = run_gateway(
                GatewayArgs(
                    files, authz=authz, services=services, output_dir=output_dir,  # type: ignore[arg-type]
                    write=write, fail_on=Severity.parse(fail_on), format=fmt, report=report,
                    trust_domain=trust_domain,
                )
            )  # fmt: skip
        else:
            code = run(files, targets, write=write)
    except Exception as exc:  # a bug: say so plainly; SMI_LINT_DEBUG=1 shows the traceback
        if os.environ.get("SMI_LINT_DEBUG"):
            traceback.print_exc()
        click.echo(f"smi convert: internal error: {type(exc).__name__}: {exc} (please report it)", err=True)
        code = EXIT_USAGE
    sys.exit(code)


def unknown_targets(targets: tuple[str, ...]) -> list[str]:
    """The ``--to`` values no SMI kind has: a full apiVersion must be a known group/version, a bare version
    a version of some kind."""
    from smi_conformance.models import kinds

    known = kinds()
    api_versions = {info.api_version for info in known}
    versions = {info.version for info in known}
    return [t for t in targets if t not in (api_versions if "/" in t else versions)]


def run(files: tuple[str, ...], targets: tuple[str, ...], *, write: bool) -> int:
    """Convert, then print or write; the exit code."""
    if bad := unknown_targets(targets):
        from smi_conformance.models import kinds

        known = ", ".join(sorted({info.api_version for info in kinds()}))
        click.echo(f"smi convert: unknown --to {', '.join(map(repr, bad))} (known: {known})", err=True)
        return EXIT_USAGE
    loaded: LoadResult = load_paths(files, stdin=sys.stdin.buffer)
    if loaded.unreadable:
        for path, reason in loaded.unreadable:
            click.echo(f"smi convert: {path}: {reason}", err=True)
        return EXIT_USAGE
    if not loaded.documents and not loaded.issues:
        click.echo(f"smi convert: no YAML or JSON documents in {', '.join(files)}", err=True)
        return EXIT_USAGE
    if loaded.issues:
        for issue in loaded.issues:
            click.echo(f"{issue.location}: error: {issue.message}", err=True)
        click.echo("smi convert: input is not valid YAML/JSON; nothing converted", err=True)
        return EXIT_USAGE
    results = [
        convert_source(source, [d for d in loaded.documents if d.source is source], targets)
        for source in loaded.sources
    ]
    errors = [e for r in results for e in r.errors]
    if errors:
        for error in errors:
            click.echo(error, err=True)
        click.echo(
            f"smi convert: {len(errors)} problem(s); nothing {'written' if write else 'converted'}", err=True
        )
        return EXIT_FAILED
    if write:
        for r in results:
            if r.changed:
                _replace(Path(r.source.name), r.text)
                click.echo(f"converted {r.changed} object(s) in {r.source.name}", err=True)
        return EXIT_OK
    several = len(results) > 1
    for r in results:
        if several:
            click.echo(f"# Source: {r.source.name}")
        text = r.text if r.text.endswith("\n") or not r.text else r.text + "\n"
        click.echo(text, nl=False)
        if several and r is not results[-1]:
            click.echo("---")
    return EXIT_OK


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, keeping its permissions."""
    mode = path.stat().st_mode
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.chmod(tmp, mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
