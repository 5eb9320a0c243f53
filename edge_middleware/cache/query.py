"""Query strings as ``EdgeSettings.canonicalize_query`` keys them, and invalidation paths
read the same way (an object keyed ``v=a`` is invalidated by ``/a?v=a`` and ``/a?v=%61``)."""

from __future__ import annotations

from ..core.escapes import normalized_escapes

__all__ = ["canonical_invalidation_path", "canonical_query"]


def canonical_query(params: list[str]) -> str:
    """settings.canonicalize_query: percent-encoding normalised, empty parameters dropped,
    ``a`` read as ``a=``; order and repeats kept (CloudFront keys are order-sensitive)."""
    out = []
    for p in params:
        if not p:
            continue
        name, _, value = p.partition("=")
        out.append(f"{normalized_escapes(name)}={normalized_escapes(value)}")
    return "&".join(out)


def canonical_invalidation_path(path: str) -> str:
    """An invalidation path's query as an object keyed with ``canonicalize_query`` holds it
    (a trailing wildcard kept, and only its escapes normalised: ``v*`` is not ``v=*``)."""
    uri, sep, query = path.partition("?")
    if not sep:
        return path
    if query.endswith("*"):
        return f"{uri}?{normalized_escapes(query)}"
    return f"{uri}?{canonical_query(query.split('&') if query else [])}"
