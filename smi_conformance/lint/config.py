"""Linter settings: defaults < configuration file < command-line flags.

The configuration file is the first of ``.smi-lint.toml`` (top-level keys) or ``pyproject.toml`` (a
``[tool.smi-lint]`` table) found from the current directory upward, or the file given with ``--config``::

    [tool.smi-lint]
    select = ["ALL"]                 # codes, names or prefixes ("SMI7")
    ignore = ["superseded-version"]
    fail-on = "warning"              # error (default) | warning | info
    format = "text"                  # text | json | sarif | github | junit
    exclude = ["charts/*/templates/**"]
    max-bytes = 16777216
    severity = { SMI203 = "error" }  # per-rule severity override

    [[tool.smi-lint.suppress]]       # targeted ignores; every given criterion must match
    codes = ["SMI301"]               # omit for every code
    paths = ["legacy/**"]            # globs, relative to the configuration file's folder
    kinds = ["TrafficSplit"]
    names = ["canary-*"]             # metadata.name, or namespace/name
    reason = "routes live in the platform repository"

Paths in the file are relative to its folder; globs support ``*``, ``?`` and ``**`` (any depth).
"""

from __future__ import annotations

import fnmatch
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from smi_conformance.lint.registry import RULES, resolve
from smi_conformance.lint.rule import Severity
from smi_conformance.manifests import DEFAULT_MAX_BYTES

__all__ = ["FORMATS", "ConfigError", "LintConfig", "Suppress", "discover", "load_config"]

FORMATS = ("text", "json", "sarif", "github", "junit")
CONFIG_NAMES = (".smi-lint.toml", "pyproject.toml")


class ConfigError(ValueError):
    """The configuration (file or flags) is invalid; the message names the file and key."""


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob with ``**`` (any number of folders), ``*`` and ``?`` (within one folder), as a regex."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


@dataclass(frozen=True)
class Suppress:
    """A targeted ignore from the configuration file."""

    codes: frozenset[str] = frozenset()
    paths: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    reason: str = ""

    def matches(
        self, code: str, rel_path: str | None, kind: str | None, name: str | None, ns: str | None
    ) -> bool:
        if self.codes and code not in self.codes:
            return False
        if self.paths and (rel_path is None or not any(glob_regex(p).match(rel_path) for p in self.paths)):
            return False
        if self.kinds and kind not in self.kinds:
            return False
        if self.names:
            if name is None:
                return False
            full = f"{ns}/{name}"
            if not any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(full, p) for p in self.names):
                return False
        return True


@dataclass(frozen=True)
class LintConfig:
    """Effective settings for one run."""

    select: frozenset[str] = field(default_factory=lambda: frozenset(RULES))
    ignore: frozenset[str] = frozenset()
    severity: Mapping[str, Severity] = field(default_factory=dict)
    fail_on: Severity = Severity.ERROR
    format: str = "text"
    exclude: tuple[str, ...] = ()
    max_bytes: int = DEFAULT_MAX_BYTES
    suppress: tuple[Suppress, ...] = ()
    #: The file the settings came from (None: defaults only), and the folder its paths are relative to.
    path: Path | None = None
    root: Path = field(default_factory=Path.cwd)

    @cached_property
    def enabled(self) -> frozenset[str]:
        return self.select - self.ignore

    def severity_of(self, code: str) -> Severity:
        return self.severity.get(code, RULES[code].severity)

    def relative(self, file: str) -> str | None:
        """``file`` relative to the configuration root, with ``/`` separators (None for stdin)."""
        if file.startswith("<"):
            return None
        path = Path(file).absolute()
        try:
            return path.relative_to(self.root.absolute()).as_posix()
        except ValueError:
            return path.as_posix()

    def excluded(self, file: Path) -> bool:
        if not self.exclude:  # the usual case: no path to work out for each file
            return False
        rel = self.relative(str(file))
        return rel is not None and any(glob_regex(p).match(rel) for p in self.exclude)

    def with_flags(self, **flags: Any) -> LintConfig:
        """Apply command-line flags (None means "not given") over these settings."""
        changes: dict[str, Any] = {}
        for key, value in flags.items():
            if value is None or value == ():
                continue
            if key in ("select", "ignore"):
                changes[key] = frozenset(_codes(value, f"--{key}"))
            elif key == "fail_on":
                changes[key] = _severity(value, "--fail-on")
            elif key == "format":
                changes[key] = _format(value, "--format")
            elif key == "exclude":
                changes[key] = tuple(value)
                changes["root"] = Path.cwd()
            else:
                changes[key] = value
        if "select" in changes and "ignore" not in changes:
            changes["ignore"] = (
                frozenset()
            )  # --select on the command line replaces the file's selection whole
        return replace(self, **changes)


def discover(start: Path | None = None) -> Path | None:
    """The nearest ``.smi-lint.toml``, or ``pyproject.toml`` with a ``[tool.smi-lint]`` table, upward."""
    here = (start or Path.cwd()).absolute()
    for folder in (here, *here.parents):
        for name in CONFIG_NAMES:
            candidate = folder / name
            if candidate.is_file() and (name != "pyproject.toml" or _has_tool_table(candidate)):
                return candidate
    return None


def _has_tool_table(path: Path) -> bool:
    try:
        raw: bytes | None = path.read_bytes()
    except OSError:
        raw = None
    if raw is not None and b"smi-lint" not in raw and b"\\" not in raw:
        # Without these bytes no key can name the table (a quoted key could spell it with escapes): most
        # projects' pyproject.toml is not parsed (pre-commit in a Python repository meets one each run).
        return False
    try:
        return "smi-lint" in _read_toml(path).get("tool", {})
    except ConfigError:
        return "[tool.smi-lint" in path.read_text(errors="replace")  # a broken file with our table: report it


def _read_toml(path: Path) -> dict[str, Any]:
    # imported here: most runs find no configuration file (the TOML parser is about 2 ms of imports)
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]
    try:
        with path.open("rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
            return data
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def load_config(path: Path | None) -> LintConfig:
    """Settings from ``path`` (defaults when None)."""
    if path is None:
        return LintConfig()
    data = _read_toml(path)
    table = data.get("tool", {}).get("smi-lint", {}) if path.name == "pyproject.toml" else data
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.smi-lint] must be a table")
    return _parse(table, path)


_KEYS = {"select", "ignore", "fail-on", "format", "exclude", "max-bytes", "severity", "suppress"}


def _parse(table: Mapping[str, Any], path: Path) -> LintConfig:
    where = str(path)
    unknown = set(table) - _KEYS
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(_KEYS))}"
        )
    config = LintConfig(path=path, root=path.parent)
    changes: dict[str, Any] = {}
    if "select" in table:
        changes["select"] = frozenset(
            _codes(_strings(table["select"], f"{where}: select"), f"{where}: select")
        )
    if "ignore" in table:
        changes["ignore"] = frozenset(
            _codes(_strings(table["ignore"], f"{where}: ignore"), f"{where}: ignore")
        )
    if "fail-on" in table:
        changes["fail_on"] = _severity(table["fail-on"], f"{where}: fail-on")
    if "format" in table:
        changes["format"] = _format(table["format"], f"{where}: format")
    if "exclude" in table:
        changes["exclude"] = tuple(_strings(table["exclude"], f"{where}: exclude"))
    if "max-bytes" in table:
        value = table["max-bytes"]
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ConfigError(f"{where}: max-bytes must be a positive integer")
        changes["max_bytes"] = value
    if "severity" in table:
        overrides = table["severity"]
        if not isinstance(overrides, dict):
            raise ConfigError(f'{where}: severity must be a table of CODE = "error|warning|info"')
        changes["severity"] = {
            code: _severity(level, f"{where}: severity.{key}")
            for key, level in overrides.items()
            for code in _codes([key], f"{where}: severity")
        }
    if "suppress" in table:
        entries = table["suppress"]
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise ConfigError(f"{where}: suppress must be an array of tables ([[tool.smi-lint.suppress]])")
        changes["suppress"] = tuple(
            _suppress(entry, f"{where}: suppress[{i}]") for i, entry in enumerate(entries)
        )
    return replace(config, **changes)


def _suppress(entry: Mapping[str, Any], where: str) -> Suppress:
    unknown = set(entry) - {"codes", "paths", "kinds", "names", "reason"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    if not any(entry.get(k) for k in ("codes", "paths", "kinds", "names")):
        raise ConfigError(f"{where}: give at least one of codes, paths, kinds, names")
    reason = entry.get("reason", "")
    if not isinstance(reason, str) or not reason.strip():
        raise ConfigError(f"{where}: every suppression needs a reason")
    return Suppress(
        codes=frozenset(_codes(_strings(entry.get("codes", []), f"{where}.codes"), f"{where}.codes")),
        paths=tuple(_strings(entry.get("paths", []), f"{where}.paths")),
        kinds=tuple(_strings(entry.get("kinds", []), f"{where}.kinds")),
        names=tuple(_strings(entry.get("names", []), f"{where}.names")),
        reason=reason.strip(),
    )


def _strings(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a list of strings")
    return value


def _codes(selectors: Iterable[str], where: str) -> set[str]:
    expanded = [part for s in selectors for part in s.split(",")]
    try:
        return resolve(expanded)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _severity(value: Any, where: str) -> Severity:
    try:
        return Severity.parse(str(value))
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _format(value: Any, where: str) -> str:
    if value not in FORMATS:
        raise ConfigError(f"{where}: unknown format {value!r}; expected one of: {', '.join(FORMATS)}")
    return str(value)
