"""The dev server's invalidation endpoint (``POST /_edge/invalidate``): the request's paths
checked, every edge served invalidated, and what the answer says."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from ..exceptions import ConfigurationError

__all__ = ["INVALIDATE_PATH", "every_edge", "invalidate_request", "invalidated_words"]

logger = logging.getLogger("edge_middleware.server")

#: Answered for loopback clients only; anything else goes to the app as usual.
INVALIDATE_PATH = "/_edge/invalidate"


def invalidate_request(
    method: str,
    content_type: str,
    body: bytes,
    invalidate: Callable[[list[str]], int],
    counts: str = "objects",
) -> tuple[int, dict[str, Any]]:
    """Handle ``POST /_edge/invalidate``: ``["/path", "/images/*"]`` or ``{"paths": [...]}``.

    A JSON content type is required, so a web page cannot trigger it with a simple
    cross-site form post."""
    if method != "POST":
        return 405, {"error": "use POST"}
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        return 415, {"error": "send Content-Type: application/json"}
    try:
        doc = json.loads(body or b"null")
    except ValueError:
        return 400, {"error": "the body is not JSON"}
    paths = doc.get("paths") if isinstance(doc, dict) else doc
    if (
        not isinstance(paths, list)
        or not paths
        or not all(isinstance(p, str) and p.startswith("/") for p in paths)
    ):
        return 400, {"error": 'expected a JSON list of paths, e.g. ["/index.html", "/img/*"]'}
    try:
        count = invalidate(paths)
    except ConfigurationError as exc:  # a "*" inside a path, a path over 4,000 characters
        return 400, {"error": str(exc)}
    doc = {"invalidated": count, "counts": counts, "paths": paths}
    logger.info("%s", invalidated_words(doc))
    return 200, doc


def every_edge(edges: list[Any]) -> tuple[Callable[[list[str]], int], str]:
    """One invalidation over every edge served (the middleware, and those of apps mounted in
    the app it wraps: only the first was purged), and what its count counts: the objects the
    in-process edges dropped, or (with every edge on a shared storage) the paths recorded,
    once however many edges recorded them (a sum of both kinds said "5 path(s)" for one)."""
    objects = any(edge.options.invalidation_counts == "objects" for edge in edges)

    def invalidate(paths: list[str]) -> int:
        dropped = recorded = 0
        for edge in edges:
            count = edge.invalidate(paths)
            if edge.options.invalidation_counts == "objects":
                dropped += count
            else:
                recorded = max(recorded, count)
        return dropped if objects else recorded

    return invalidate, "objects" if objects else "paths"


def invalidated_words(doc: dict[str, Any]) -> str:
    """What an invalidation answer says: objects dropped, or paths recorded (Redis, a delay)."""
    paths = " ".join(doc.get("paths", []))
    if doc.get("counts", "objects") == "paths":
        return f"invalidation recorded for {doc.get('invalidated', 0)} path(s): {paths}"
    return f"invalidated {doc.get('invalidated', 0)} cached object(s) for {paths}"


def _invalidate_message(status: int, doc: dict[str, Any]) -> str:
    if status != 200:
        return f"POST {INVALIDATE_PATH}: {status} {doc.get('error')}"
    return invalidated_words(doc)


def _invalidate_refused(reason: str) -> tuple[int, dict[str, Any]]:
    return 403, {"error": f"{INVALIDATE_PATH} {reason}"}
