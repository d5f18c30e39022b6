"""``smi convert --to gateway-api``: the command's flow, apart from the version conversion's.

Reads the inputs as ``smi lint`` does, converts, reports findings with the linter's reporters (to stderr,
or ``--report FILE``), and writes the objects only when no finding is at or above ``--fail-on``: to stdout,
or one file per input file under ``-o DIR`` (``--write`` is refused: the input keeps its SMI objects).
Exit codes as in ``smi lint``: 0 nothing at or above ``--fail-on``, 1 findings at or above it (nothing
written), 2 usage error or unreadable input.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import click

from smi_conformance.gateway.context import Generated, Mesh, Options
from smi_conformance.gateway.output import ordered, output_name, render
from smi_conformance.lint.rule import Severity
from smi_conformance.manifests import LoadResult, load_paths

__all__ = ["GatewayArgs", "explain", "run"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@dataclass(frozen=True)
class GatewayArgs:
    files: tuple[str, ...]
    authz: Mesh | None = None
    services: tuple[str, ...] = ()
    output_dir: str | None = None
    write: bool = False
    fail_on: Severity = Severity.ERROR
    format: str = "text"
    report: str | None = None
    trust_domain: str = "cluster.local"


def explain(code: str) -> bool:
    """Print the explanation of a conversion finding; False when no such code or name exists."""
    from smi_conformance.gateway.findings import conversion_rule

    try:
        found = conversion_rule(code)
    except KeyError:
        return False
    click.echo(f"{found.code} {found.name} ({found.severity.label})\n\n{found.summary}\n")
    click.echo(found.explanation())
    return True


def _load(paths: tuple[str, ...], what: str) -> LoadResult | None:
    loaded = load_paths(paths, stdin=sys.stdin.buffer)
    problems = [f"{path}: {reason}" for path, reason in loaded.unreadable]
    problems += [f"{issue.location}: error: {issue.message}" for issue in loaded.issues]
    if problems:
        for problem in problems:
            click.echo(problem if ": error: " in problem else f"smi convert: {problem}", err=True)
        click.echo(f"smi convert: {what} cannot be read; nothing converted", err=True)
        return None
    if not loaded.documents:
        click.echo(f"smi convert: no YAML or JSON documents in {', '.join(paths)}", err=True)
        return None
    return loaded


def run(args: GatewayArgs) -> int:
    """Convert, report, write; the exit code."""
    from smi_conformance.gateway.convert import convert
    from smi_conformance.gateway.findings import RULES
    from smi_conformance.lint.engine import LintResult
    from smi_conformance.lint.reporters import Options as ReportOptions
    from smi_conformance.lint.reporters import render as render_report

    if args.write:
        click.echo(
            "smi convert: --to gateway-api does not rewrite the input in place; write the new objects with "
            "-o DIR (one file per input file) or to stdout, then remove the SMI objects",
            err=True,
        )
        return EXIT_USAGE
    loaded = _load(args.files, "the input")
    if loaded is None:
        return EXIT_USAGE
    context = _load(args.services, "--services") if args.services else LoadResult()
    if context is None:
        return EXIT_USAGE
    conv, objects = convert(
        loaded.documents, context.documents, Options(authz=args.authz, trust_domain=args.trust_domain)
    )
    result = LintResult(
        findings=conv.findings(),
        files=len(loaded.sources),
        documents=len(loaded.documents),
        smi_objects=len(objects),
        skipped=len(loaded.documents) - len(objects),
        rules=list(RULES.values()),
    )
    report = render_report(args.format, result, ReportOptions(fail_on=args.fail_on))
    if args.report:
        try:
            Path(args.report).write_text(report, encoding="utf-8")
        except OSError as exc:
            click.echo(f"smi convert: cannot write {args.report}: {exc.strerror}", err=True)
            return EXIT_USAGE
    else:
        click.echo(report, nl=False, err=True)
    if result.failed(args.fail_on):
        click.echo(
            f"smi convert: findings at or above {args.fail_on.label}; nothing written "
            "(--fail-on sets the threshold)",
            err=True,
        )
        return EXIT_FAILED
    generated = ordered(conv.generated, loaded.sources)
    if args.output_dir is None:
        text = render(generated)
        if text:
            click.echo(text, nl=False)
        return EXIT_OK
    return _write_dir(Path(args.output_dir), loaded, generated)


def _write_dir(root: Path, loaded: LoadResult, generated: list[Generated]) -> int:
    """One file per input file that yielded objects, under ``root`` (see ``output_name``)."""
    by_source: dict[int, list[Generated]] = {}
    for gen in generated:
        by_source.setdefault(id(gen.sources[0].document.source), []).append(gen)
    for source in loaded.sources:
        items = by_source.get(id(source))
        if not items:
            continue
        path = root / output_name(source)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(items), encoding="utf-8")
        except OSError as exc:
            click.echo(f"smi convert: cannot write {path}: {exc.strerror}", err=True)
            return EXIT_USAGE
        click.echo(f"wrote {len(items)} object(s) to {path}", err=True)
    return EXIT_OK
