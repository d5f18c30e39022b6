"""Service names as SMI objects write them: the one reading of a TrafficSplit root that the linter and the
reference mesh share (pure, no imports: the linter loads it at start-up)."""

from __future__ import annotations

__all__ = ["split_root"]


def split_root(service: str, namespace: str) -> str:
    """The name of the Service a TrafficSplit's ``spec.service`` names in the split's ``namespace``: ``web``,
    ``web.<ns>``, ``web.<ns>.svc`` and ``web.<ns>.svc.<cluster domain>`` all name ``web``. A name in another
    namespace stays as written (it names no Service of this namespace)."""
    if "." not in service:  # most names: nothing to strip
        return service
    name, _, rest = service.partition(".")
    if rest == namespace or rest.startswith(f"{namespace}.svc"):
        return name
    return service
