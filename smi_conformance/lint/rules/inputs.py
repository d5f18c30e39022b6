"""SMI0xx: the input itself could not be read, or a suppression is malformed. Emitted by the engine."""

from __future__ import annotations

from smi_conformance.lint.rule import Rule, Severity


class SyntaxError_(Rule):
    """The file is not valid YAML or JSON, so nothing in the failing document is checked.

    Why: `kubectl apply` and every mesh controller reject the whole file. The location is where the parser
    gave up, which is usually at or just after the mistake (an unclosed bracket, a tab used for indentation,
    a key without a colon). Helm or Kustomize templates are not YAML until rendered: lint their output
    (`helm template . | smi lint -`) and exclude the template folders. An input whose first character
    (after blanks) is `{` is read as JSON, anything else as YAML, whatever the file is called: kubectl
    decides the same way, and a file and the same bytes on stdin get the same verdict.

    Bad:
    ```yaml
    spec:
      backends: [{service: web-v1, weight: 90}
    ```

    Good:
    ```yaml
    apiVersion: split.smi-spec.io/v1alpha4
    kind: TrafficSplit
    metadata: {name: web-canary}
    spec:
      service: web
      backends: [{service: web-v1, weight: 90}, {service: web-v2, weight: 10}]
    ```
    """

    code = "SMI001"
    name = "syntax-error"
    severity = Severity.ERROR
    summary = "the input is not valid YAML or JSON"


class DuplicateKey(Rule):
    """A mapping has the same key twice.

    Why: YAML forbids duplicate keys, but most parsers (PyYAML, and Kubernetes' own decoder in lenient
    mode) silently keep the last value, so the first one is lost without a word. It usually means a merge
    went wrong or two edits collided.

    Bad:
    ```yaml
    spec:
      service: web
      service: website
    ```

    Good:
    ```yaml
    apiVersion: split.smi-spec.io/v1alpha4
    kind: TrafficSplit
    metadata: {name: website-canary}
    spec:
      service: website
      backends: [{service: website-v1, weight: 100}]
    ```
    """

    code = "SMI002"
    name = "duplicate-key"
    severity = Severity.ERROR
    summary = "a mapping repeats a key; only the last value would be used"


class Encoding(Rule):
    """The file is not valid UTF-8 (nor UTF-16/32 with a byte order mark), as YAML requires.

    Why: the bytes mean different things to different tools; Kubernetes rejects them. The location points
    at the first byte that cannot be decoded, typically Latin-1 text (an accented letter) saved by an old
    editor. Re-save the file as UTF-8.
    """

    code = "SMI003"
    name = "invalid-encoding"
    severity = Severity.ERROR
    summary = "the file is not valid UTF-8"


class BinaryFile(Rule):
    """The input contains NUL bytes: it is a binary file, not a manifest.

    Why: an archive, image or compiled file matched the lint paths. Exclude it (`exclude` in the
    configuration) or narrow the paths you pass.
    """

    code = "SMI004"
    name = "binary-file"
    severity = Severity.ERROR
    summary = "the input is a binary file"


class TooLarge(Rule):
    """The input is larger than the size limit (16 MiB by default), so it is not parsed.

    Why: the limit keeps a stray dump or log file from stalling pre-commit or CI. A single Kubernetes
    object cannot exceed about 1.5 MiB anyway (etcd's request limit). Raise the limit with `--max-bytes`
    or `max-bytes` in the configuration if you really lint such a file.
    """

    code = "SMI005"
    name = "input-too-large"
    severity = Severity.ERROR
    summary = "the input exceeds the size limit and was not parsed"


class TooComplex(Rule):
    """The document nests too deeply, or its YAML aliases expand it to an enormous size.

    Why: no real manifest nests more than a few dozen levels; a document that expands to millions of nodes
    through aliases (the "billion laughs" attack) would exhaust the memory of any tool that reads it, the
    Kubernetes API server included. The document is not checked.

    Bad:
    ```yaml
    a: &a [x, x, x, x, x, x, x, x, x]
    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
    # ... and so on
    ```

    Good (an anchor used where the same value repeats, a few times):
    ```yaml
    apiVersion: specs.smi-spec.io/v1alpha4
    kind: HTTPRouteGroup
    metadata: {name: api-routes}
    spec:
      matches:
      - name: books
        methods: &read [GET, HEAD]
        pathRegex: /books/.*
      - name: authors
        methods: *read
        pathRegex: /authors/.*
    ```
    """

    code = "SMI006"
    name = "too-complex"
    severity = Severity.ERROR
    summary = "the document nests too deeply or is an alias bomb"


class UnsupportedTag(Rule):
    """A YAML tag such as `!!python/object` or `!custom` appears in the document.

    Why: Kubernetes manifests are plain data; tags have no meaning there and some tools try to build objects
    from them. The linter never constructs anything from a tag: it reads the value as plain data and reports
    the tag.

    Bad:
    ```yaml
    metadata:
      name: !!python/object:os.system echo
    ```

    Good:
    ```yaml
    apiVersion: split.smi-spec.io/v1alpha4
    kind: TrafficSplit
    metadata:
      name: web
    spec:
      service: website
      backends: [{service: website-v1, weight: 100}]
    ```
    """

    code = "SMI007"
    name = "unsupported-tag"
    severity = Severity.ERROR
    summary = "a YAML tag that has no meaning in a Kubernetes manifest"


class InvalidSuppression(Rule):
    """A suppression annotation has no reason, or names a rule that does not exist.

    Why: a suppression is a decision someone made; the reason tells the next reader why, and keeps
    "make the linter quiet" from becoming a habit. A suppression without a reason is not honoured. Write
    `CODES: reason`, several separated by `;`.

    Bad:
    ```yaml
    metadata:
      annotations:
        lint.smi-conformance.io/ignore: SMI203
    ```

    Good:
    ```yaml
    apiVersion: split.smi-spec.io/v1alpha4
    kind: TrafficSplit
    metadata:
      name: website-canary
      annotations:
        lint.smi-conformance.io/ignore: "SMI203: the canary starts dark until the release job promotes it"
    spec:
      service: website
      backends: [{service: website-v1, weight: 0}, {service: website-v2, weight: 0}]
    ```
    """

    code = "SMI008"
    name = "invalid-suppression"
    severity = Severity.ERROR
    summary = "a suppression annotation without a reason, or naming an unknown rule"


class UnusedSuppression(Rule):
    """A suppression annotation names a rule that reports nothing on this object.

    Why: the problem it silenced has been fixed (or was never there); the stale annotation would hide the
    problem if it came back. Remove the code from the annotation.

    Good (the suppression silences a finding the object has):
    ```yaml
    apiVersion: split.smi-spec.io/v1alpha4
    kind: TrafficSplit
    metadata:
      name: website-canary
      annotations:
        lint.smi-conformance.io/ignore: "SMI203: the canary starts dark until the release job promotes it"
    spec:
      service: website
      backends: [{service: website-v1, weight: 0}, {service: website-v2, weight: 0}]
    ```
    """

    code = "SMI009"
    name = "unused-suppression"
    severity = Severity.INFO
    summary = "a suppression annotation that suppresses nothing"


class NotAnObject(Rule):
    """A document names an SMI `kind` but has no `apiVersion`, or one without an API group
    (`apiVersion: v1alpha1`).

    Why: `kubectl apply` rejects an object without `apiVersion`; the SMI docs leave it out of many
    examples, which is easy to copy by accident. The linter cannot tell which version was meant, so it
    checks nothing else in the document.

    Bad:
    ```yaml
    kind: TrafficSplit
    metadata:
      name: web
    ```

    Good:
    ```yaml
    apiVersion: split.smi-spec.io/v1alpha4
    kind: TrafficSplit
    metadata:
      name: web
    spec:
      service: website
      backends: [{service: website-v1, weight: 100}]
    ```
    """

    code = "SMI010"
    name = "missing-api-version"
    severity = Severity.ERROR
    summary = "an SMI kind without apiVersion, or without the API group in it"


RULES = (
    SyntaxError_,
    DuplicateKey,
    Encoding,
    BinaryFile,
    TooLarge,
    TooComplex,
    UnsupportedTag,
    InvalidSuppression,
    UnusedSuppression,
    NotAnObject,
)
