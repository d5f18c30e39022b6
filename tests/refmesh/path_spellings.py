"""Random request paths and random spellings of them, and an independent reading of what they resolve to.

The oracle is written from RFC 3986 (5.2.4 dot segments, 6.2.2 percent-encoding) and the documented choices
(repeated slashes merged), not from ``reference_mesh/proxy/paths.py``: it resolves the *plain* path the
spelling was made from, with a stack, so it never sees a percent sign.
"""

from __future__ import annotations

import re
import string

from hypothesis import strategies as st

from reference_mesh.proxy.config import HttpMatch

#: Characters a plain path segment may hold: unreserved and sub-delims but ";" (dot segments with parameters
#: are refused, which the table tests cover), ":" and "@".
UNRESERVED = string.ascii_letters + string.digits + "-._~"
SEGMENT_CHARS = "abhe.-_~!$&'()*+,=:@"
WORDS = ["", ".", "..", "health", "admin", "a", "h"]
PATH_REGEXES = ["/health", "/admin", "/health/.*", "/h[a-z]*$", "/$", "/a", ".*/admin", "/[.]"]

segments = st.lists(
    st.one_of(st.sampled_from(WORDS), st.text(alphabet=SEGMENT_CHARS, min_size=1, max_size=4)), max_size=6
)
plain_paths = segments.map(lambda s: "/" + "/".join(s))


@st.composite
def spellings(draw: st.DrawFn, plain: str) -> str:
    """``plain`` with a random subset of its unreserved characters percent-encoded, hex digits in random
    case (sub-delims, ":" and "@" are left as they are: encoding them changes the path, RFC 3986 2.2)."""
    out = []
    for char in plain:
        if char in UNRESERVED and draw(st.integers(0, 2)) == 0:
            code = f"{ord(char):02x}"
            out.append("%" + "".join(c.upper() if draw(st.booleans()) else c for c in code))
        else:
            out.append(char)
    return "".join(out)


def resolve(plain: str) -> str:
    """RFC 3986 5.2.4 remove_dot_segments on an absolute path without percent signs, empty segments merged;
    a path ending in a dot segment or a slash keeps its trailing slash."""
    stack: list[str] = []
    parts = plain.split("/")[1:]
    for part in parts:
        if part == "..":
            if stack:
                stack.pop()
        elif part not in ("", "."):
            stack.append(part)
    trailing = bool(parts) and parts[-1] in ("", ".", "..")
    resolved = "/" + "/".join(stack)
    return resolved + "/" if trailing and resolved != "/" else resolved


def allows(regex: str, plain: str) -> bool:
    """pathRegex semantics (anchored at the start, not the end), on the resolved path."""
    return re.match(regex, resolve(plain)) is not None


def match(regex: str) -> HttpMatch:
    return HttpMatch(path_regex=regex)
