"""Where the SMI spec can be read more than one way, and how the oracle follows every reading at once.

The oracle does not guess. Each open question (:class:`Question`) has the readings a careful implementer
could defend; the oracle's decision code asks a :class:`Chooser` for the reading only at the point where
the readings would actually lead to different results for the request at hand (a ``pathRegex`` whose
start-anchored and full-match results differ for *this* path, a TrafficTarget that mixes TCPRoute and
HTTPRouteGroup rules, ...). :func:`explore` then runs the decision once per combination of the readings
it asked about, depth first, so a request that touches no open question is decided exactly once.

A real mesh implements one reading of each question, consistently; so outcomes that agree under every
combination are what the spec requires, and outcomes that differ are left open (``None``) with the
readings that lead to each of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = [
    "ABSENT_HEADER",
    "CROSS_NAMESPACE_ROOT",
    "DUPLICATE_BACKEND",
    "EMPTY_METHODS",
    "EMPTY_RULE_MATCHES",
    "HEADER_REGEX",
    "L4_MATCH_NAMES",
    "PATH_ANCHORING",
    "QUESTIONS",
    "SPLIT_EMPTY_MATCHES",
    "SPLIT_MATCHES_FOR_L4",
    "SPLIT_MISSING_BACKEND",
    "SPLIT_NO_WEIGHT",
    "SPLIT_UNRESOLVED_GROUP",
    "TCP_RULES_FOR_HTTP",
    "Chooser",
    "Leaf",
    "Question",
    "Reading",
    "describe",
    "duplicate_root",
    "explore",
]

T = TypeVar("T")

#: The choices one run of a decision made, in the order it asked: ((question key, option), ...).
Reading = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Question:
    """An open question of the spec: a stable key, what is unclear, and each reading with what it means.

    Options are listed in the order they are explored; none is preferred: wherever they lead to different
    results the oracle answers ``None`` and names the readings.
    """

    key: str
    text: str
    options: Mapping[str, str]

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(self.options)


PATH_ANCHORING = Question(
    "path-anchoring",
    "how far a pathRegex must match the path",
    {
        "start": "pathRegex anchored at the start of the path only (the spec: 'anchored (^) to the beginning "
        "of the URI')",
        "full": "pathRegex matching the whole path (OSM and Envoy: full-match RE2)",
    },
)
HEADER_REGEX = Question(
    "header-regex",
    "how a header filter's regex must match the header value",
    {
        "full": "a header regex must match the whole value (Envoy's safe_regex)",
        "search": "a header regex may match anywhere in the value (Go's regexp.MatchString)",
    },
)
ABSENT_HEADER = Question(
    "absent-header",
    "what a header filter does with a request that lacks the header",
    {
        "no-match": "a header filter never matches a request without that header (Envoy)",
        "empty-value": "a missing header is read as the empty value (Go's Header.Get)",
    },
)
EMPTY_METHODS = Question(
    "empty-methods",
    "what `methods: []` means",
    {
        "any": "`methods: []` means any method, as when the field is absent (a length check cannot tell "
        "them apart)",
        "none": "`methods: []` lists no method, so the match matches nothing",
    },
)
EMPTY_RULE_MATCHES = Question(
    "empty-rule-matches",
    "what a TrafficTarget rule with `matches: []` covers",
    {
        "all": "a rule with `matches: []` covers every match of its route, as when the field is absent",
        "none": "a rule with `matches: []` names no match, so it allows nothing",
    },
)
TCP_RULES_FOR_HTTP = Question(
    "tcp-rules-for-http",
    "what a TrafficTarget's TCPRoute rules mean for HTTP requests (smi-spec#206)",
    {
        "separate": "TCPRoute rules say nothing about HTTP requests; HTTPRouteGroup rules allow them on any "
        "port (SPEC-NOTES: rules are a union of allows)",
        "restrict": "a TrafficTarget's TCPRoute rules limit its HTTPRouteGroup rules to their ports (the "
        "access v1alpha3 example, which replaced destination.port with a TCPRoute)",
    },
)
L4_MATCH_NAMES = Question(
    "l4-match-names",
    "whether a rule's `matches` names apply to a TCPRoute or UDPRoute",
    {
        "honoured": "a rule's `matches` select a TCPRoute/UDPRoute's named port match, as for an "
        "HTTPRouteGroup",
        "ignored": "match names in a rule select HTTPRouteGroup matches only",
    },
)
SPLIT_MATCHES_FOR_L4 = Question(
    "split-matches-for-l4",
    "where TCP or UDP traffic goes when its TrafficSplit has HTTP `matches`",
    {
        "split": "HTTP `matches` do not apply to TCP/UDP traffic, which is split by weight",
        "root": "TCP/UDP traffic cannot match HTTP filters and goes to the root Service",
    },
)
SPLIT_EMPTY_MATCHES = Question(
    "split-empty-matches",
    "what a TrafficSplit with `matches: []` splits",
    {
        "all": "a TrafficSplit with `matches: []` splits every request, as when the field is absent",
        "none": "a TrafficSplit with `matches: []` selects no request; all go to the root Service",
    },
)
SPLIT_UNRESOLVED_GROUP = Question(
    "split-unresolved-group",
    "what a TrafficSplit `matches` entry naming a missing HTTPRouteGroup does",
    {
        "matches-nothing": "a missing HTTPRouteGroup matches no request",
        "split-ignored": "the TrafficSplit is not applied at all",
        "matches-ignored": "the TrafficSplit applies to every request, as without `matches`",
    },
)
SPLIT_MISSING_BACKEND = Question(
    "split-missing-backend",
    "what happens to a backend Service that does not exist",
    {
        "excluded": "a backend Service that does not exist is left out and the others share its traffic",
        "fails": "a backend Service that does not exist keeps its share, and those requests fail",
    },
)
SPLIT_NO_WEIGHT = Question(
    "split-no-weight",
    "where traffic goes when no backend can take it (all weights zero, no backend with the port)",
    {
        "root": "with no weight to split by, requests go to the root Service as plain Kubernetes sends them",
        "fails": "with no weight to split by, requests fail",
    },
)
CROSS_NAMESPACE_ROOT = Question(
    "cross-namespace-root",
    "whether a TrafficSplit whose root names a Service in another namespace applies",
    {
        "ignored": "a TrafficSplit only splits a root Service of its own namespace",
        "applies": "a TrafficSplit splits the named Service's traffic over backends in its own namespace",
    },
)
DUPLICATE_BACKEND = Question(
    "duplicate-backend",
    "what a backend listed twice in one TrafficSplit weighs",
    {
        "summed": "a backend listed twice gets the sum of its weights",
        "first": "a backend listed twice gets its first weight",
        "last": "a backend listed twice gets its last weight",
    },
)

QUESTIONS: tuple[Question, ...] = (
    PATH_ANCHORING,
    HEADER_REGEX,
    ABSENT_HEADER,
    EMPTY_METHODS,
    EMPTY_RULE_MATCHES,
    TCP_RULES_FOR_HTTP,
    L4_MATCH_NAMES,
    SPLIT_MATCHES_FOR_L4,
    SPLIT_EMPTY_MATCHES,
    SPLIT_UNRESOLVED_GROUP,
    SPLIT_MISSING_BACKEND,
    SPLIT_NO_WEIGHT,
    CROSS_NAMESPACE_ROOT,
    DUPLICATE_BACKEND,
)
"""Every fixed open question (the duplicate-root question's readings depend on the splits: duplicate_root)."""


def duplicate_root(splits: Sequence[str]) -> Question:
    """The question two or more TrafficSplits for one root raise: which of them applies, if any."""
    options = {name: f"only TrafficSplit {name} applies" for name in splits}
    options["none"] = "none of them applies (the root Service is used as plain Kubernetes)"
    text = f"which of the TrafficSplits {', '.join(splits)} for one root applies"
    return Question("duplicate-root", text, options)


class Chooser:
    """Hands a decision the reading of each question it asks about: fixed ones as given, new ones the first
    option, remembering the branches (other options) still to explore."""

    def __init__(self, fixed: Mapping[str, str]) -> None:
        self._fixed = dict(fixed)
        self._taken: list[tuple[str, str]] = []
        self._questions: dict[str, Question] = {}
        self.branches: list[dict[str, str]] = []

    def __call__(self, question: Question) -> str:
        known = self._questions.setdefault(question.key, question)
        if known.choices != question.choices:
            raise ValueError(f"question {question.key!r} asked with different readings in one decision")
        if question.key in self._fixed:
            choice = self._fixed[question.key]
        else:
            choice = question.choices[0]
            for other in reversed(question.choices[1:]):  # popped last-in first: options in their order
                self.branches.append({**self._fixed, question.key: other})
            self._fixed[question.key] = choice
        if all(key != question.key for key, _ in self._taken):
            self._taken.append((question.key, choice))
        return choice

    @property
    def reading(self) -> Reading:
        return tuple(self._taken)

    @property
    def questions(self) -> Mapping[str, Question]:
        return self._questions


@dataclass(frozen=True)
class Leaf(Generic[T]):
    """One run of a decision: the readings it asked about and what it decided under them."""

    reading: Reading
    value: T
    questions: Mapping[str, Question]


#: Upper bound on the runs of one decision; far above what the fixed questions can produce (3 * 2**12).
MAX_LEAVES = 50_000


def explore(decide: Callable[[Chooser], T]) -> list[Leaf[T]]:
    """Run ``decide`` under every combination of the readings it asks about (depth first; the first leaf is
    the run with every question's first reading)."""
    leaves: list[Leaf[T]] = []
    pending: list[dict[str, str]] = [{}]
    while pending:
        if len(leaves) >= MAX_LEAVES:
            raise RuntimeError(f"more than {MAX_LEAVES} readings to explore; a decision asks in a loop")
        chooser = Chooser(pending.pop())
        value = decide(chooser)
        pending.extend(chooser.branches)  # the last question asked is varied first
        leaves.append(Leaf(chooser.reading, value, dict(chooser.questions)))
    return leaves


def describe(leaf: Leaf[Any], *, against: Sequence[Leaf[Any]] = ()) -> str:
    """The readings of ``leaf`` as ``question=reading`` (see QUESTIONS for what each means); only those that
    differ from some leaf of ``against`` when given."""
    mine = dict(leaf.reading)
    differing = {key for other in against for key, choice in other.reading if mine.get(key) != choice}
    parts = [f"{key}={choice}" for key, choice in leaf.reading if not against or key in differing]
    return ", ".join(parts) if parts else "every reading"
