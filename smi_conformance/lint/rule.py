"""The rule framework: what a rule is, what it yields, how bad it is.

A rule is a small class: a stable ``code`` (``SMI203``), a readable ``name`` (``all-weights-zero``) usable
wherever a code is, a default ``severity``, a one-line ``summary``, and a docstring that *is* its
documentation (what it checks, why, a bad and a good example); ``smi lint --explain`` prints it and
``docs/rules.md`` is generated from it. ``check`` looks at one object of the linted set (with the whole set
at hand through the context) and yields :class:`Hit` s; it never decides whether a hit is reported:
selection and suppression happen apart, in the engine.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from smi_conformance.manifests import NodePath

if TYPE_CHECKING:
    from smi_conformance.lint.resources import LintContext, Resource

__all__ = ["Hit", "Rule", "Severity"]


class Severity(enum.IntEnum):
    """How bad a finding is; ``--fail-on`` compares against it."""

    INFO = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown severity {text!r}; expected one of: error, warning, info") from None


@dataclass(frozen=True)
class Hit:
    """One problem a rule found: a one-line message and the node it is about (path inside the object).

    ``key=True`` points at the mapping key rather than its value (for example an unknown field).
    """

    message: str
    path: NodePath = ()
    key: bool = False


class Rule:
    """Base class of every rule. Subclasses set the class attributes and usually override ``check``."""

    code: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity]
    summary: ClassVar[str]
    #: Former names, still accepted wherever a name is (configuration, suppression annotations, --explain):
    #: renaming a rule must not break the files that name it.
    aliases: ClassVar[tuple[str, ...]] = ()
    #: SMI kinds whose objects ``check`` is called for; empty for rules the engine emits itself.
    kinds: ClassVar[frozenset[str]] = frozenset()
    #: When this rule reports a node, a generic schema finding about the same node is dropped (the rule says
    #: more precisely what is wrong).
    replaces_schema: ClassVar[bool] = False
    #: The rule looks up other objects that may come later in the input (references): it runs once every
    #: object is read, on what the engine keeps of them (``resources.kept_data``). Other rules run while
    #: the input streams by and may only look back (``LintContext.first``, earlier splits of a root).
    deferred: ClassVar[bool] = False
    #: Deferred rules: kinds of which the linted set must hold an object (any one) for the rule to find
    #: anything, as when it checks against the Services it names; empty: no such condition. Once every
    #: object is in, the engine runs the rule only if one of them is there.
    evidence: ClassVar[frozenset[str]] = frozenset()

    def applies(self, obj: Resource) -> bool:
        """May ``check`` find anything on objects of ``obj``'s kind and apiVersion? The engine asks once
        per kind and apiVersion and runs the rule only where it may, so this reads nothing but ``kind``,
        ``api_version`` (``group``, ``version``) and ``info``, which are the same for all those objects."""
        return True

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        """Yield what is wrong with ``obj``; the default (engine-emitted rules) yields nothing."""
        return iter(())

    @classmethod
    def explanation(cls) -> str:
        """The rule's documentation: its docstring, dedented."""
        return inspect.cleandoc(cls.__doc__ or cls.summary)
