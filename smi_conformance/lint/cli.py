"""``smi lint``: check SMI manifests for pre-commit and CI.

Exit codes, the same in every output format: 0 no finding at or above ``--fail-on``; 1 findings at or above
it; 2 usage errors, unreadable or empty input, invalid configuration.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from smi_conformance.lint.config import FORMATS, ConfigError, LintConfig, discover, load_config

EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def _fail(message: str) -> None:
    click.echo(f"smi lint: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _explain(code: str) -> None:
    from smi_conformance.lint.registry import rule

    try:
        found = rule(code)
    except KeyError:
        from smi_conformance.gateway.cli import explain as explain_conversion

        if explain_conversion(code):  # GWxxx: what smi convert --to gateway-api reports
            return
        _fail(f"unknown rule {code!r} (see smi lint --list-rules)")
        return
    former = f"; formerly {', '.join(found.aliases)}" if found.aliases else ""
    click.echo(f"{found.code} {found.name} ({found.severity.label}{former})\n\n{found.summary}\n")
    click.echo(found.explanation())


def _list_rules() -> None:
    from smi_conformance.lint.registry import RULES

    for code, r in RULES.items():
        click.echo(f"{code}  {r.name:<32} {r.severity.label:<8} {r.summary}")


def _list_kinds() -> None:
    from smi_conformance.models import kinds

    for info in kinds():
        click.echo(f"{info.api_version:<36} {info.kind:<20} {info.status}")


@click.command("lint")
@click.argument("paths", nargs=-1, metavar="PATH...")
@click.option("--format", "fmt", type=click.Choice(FORMATS), help="Output format (default: text).")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), help="Write the report here."
)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning", "info"]),
    help="Exit 1 when a finding is at least this severe (default: error).",
)
@click.option(
    "--select", multiple=True, metavar="CODES", help="Only these rules (codes, names, prefixes; ALL)."
)
@click.option("--ignore", multiple=True, metavar="CODES", help="Skip these rules (codes, names or prefixes).")
@click.option(
    "--exclude", multiple=True, metavar="GLOB", help="Skip walked files matching GLOB (**: any depth)."
)
@click.option("--max-bytes", type=click.IntRange(min=1), help="Report, do not parse, larger inputs (16 MiB).")
@click.option(
    "--config", "config_path", type=click.Path(exists=True, dir_okay=False), help="Configuration file."
)
@click.option("--isolated", is_flag=True, help="Ignore configuration files.")
@click.option(
    "--color/--no-color", default=None, help="Colour text output (default: when stdout is a terminal)."
)
@click.option("--explain", metavar="CODE", help="Explain a rule (code or name) and exit.")
@click.option("--list-rules", is_flag=True, help="List every rule and exit.")
@click.option(
    "--list-kinds", is_flag=True, help="List every SMI apiVersion and kind the linter knows, and exit."
)
def lint_command(
    paths: tuple[str, ...],
    fmt: str | None,
    output: str | None,
    fail_on: str | None,
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    exclude: tuple[str, ...],
    max_bytes: int | None,
    config_path: str | None,
    isolated: bool,
    color: bool | None,
    explain: str | None,
    list_rules: bool,
    list_kinds: bool,
) -> None:
    """Check SMI manifests: files, directories (recursively: .yaml, .yml, .json) or - for stdin.

    \b
    Exit codes (every format): 0 no finding at or above --fail-on,
    1 findings at or above it, 2 usage error or unreadable/empty input.
    Settings: defaults < .smi-lint.toml or [tool.smi-lint] in pyproject.toml < flags.
    """
    if explain is not None:
        _explain(explain)
        return
    if list_rules:
        _list_rules()
        return
    if list_kinds:
        _list_kinds()
        return
    if not paths:
        _fail("give at least one PATH (a file, a directory, or - for stdin); see smi lint --help")
    try:
        config = LintConfig() if isolated else load_config(Path(config_path) if config_path else discover())
        config = config.with_flags(
            format=fmt, fail_on=fail_on, select=select, ignore=ignore, exclude=exclude, max_bytes=max_bytes
        )
    except ConfigError as exc:
        _fail(str(exc))
        return
    sys.exit(run(paths, config, output=output, color=color))


def run(paths: tuple[str, ...], config: LintConfig, *, output: str | None, color: bool | None) -> int:
    """Lint, write the report, return the exit code. Never lets a traceback reach the user."""
    try:
        with _few_collections():
            return _run(paths, config, output=output, color=color)
    except Exception as exc:  # a bug: say so plainly; SMI_LINT_DEBUG=1 shows the traceback
        if os.environ.get("SMI_LINT_DEBUG"):
            import traceback

            traceback.print_exc()
        click.echo(f"smi lint: internal error: {type(exc).__name__}: {exc} (please report it)", err=True)
        return EXIT_USAGE


@contextmanager
def _few_collections() -> Iterator[None]:
    """The cyclic collector tuned for one lint run, as mypy's command line does: the modules and objects
    loaded so far are frozen out of its scans, and it runs once per 50,000 new objects instead of 700.
    Nearly all of a run's objects are freed by reference counting, so this saves scans (about 3% of a
    10,000-document run), not memory. Restored afterwards: the command is also run in-process."""
    threshold, ours = gc.get_threshold(), gc.get_freeze_count() == 0  # a caller's own freeze is theirs
    if ours:
        gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        if ours:
            gc.unfreeze()


def _run(paths: tuple[str, ...], config: LintConfig, *, output: str | None, color: bool | None) -> int:
    from smi_conformance.lint.engine import InputError, lint
    from smi_conformance.lint.reporters import Options, blocks

    try:
        result = lint(paths, config, stdin=sys.stdin.buffer)
    except InputError as exc:
        click.echo(f"smi lint: {exc}", err=True)
        return EXIT_USAGE
    to_stdout = output in (None, "-")
    if color is None:
        color = to_stdout and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    # Written as it is made: a large input's findings are read back from disk one at a time.
    report = blocks(
        config.format, result, Options(fail_on=config.fail_on, color=color and config.format == "text")
    )
    if to_stdout:
        for block in report:
            click.echo(block, nl=False, color=color)
    else:
        assert output is not None
        try:
            with Path(output).open("w", encoding="utf-8") as out:
                for block in report:
                    out.write(block)
        except OSError as exc:
            click.echo(f"smi lint: cannot write {output}: {exc.strerror}", err=True)
            return EXIT_USAGE
    return EXIT_FINDINGS if result.failed(config.fail_on) else EXIT_CLEAN
