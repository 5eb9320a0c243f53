"""Apps mounted under a path prefix: what part of the mount a request target lacks (ASGI's
``root_path``, WSGI's ``SCRIPT_NAME``), so the uri is the path the viewer asked for."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

__all__ = ["PATH_SAFE", "at_or_below", "missing_mount", "quote_latin1"]

#: what a uri keeps unescaped (``core.convert``'s path quoting)
PATH_SAFE = "/:@!$&'()*+,;=-._~"


def quote_latin1(text: str, safe: str) -> str:
    return quote(text.encode("latin-1", "replace"), safe=safe)


def missing_mount(mount: str, full: str, decoded: str, encode: Callable[..., str]) -> str:
    """What a request target (``decoded``) lacks of the app's full path ``full`` (``mount``
    and what follows, as PEP 3333 builds the URL), percent-encoded: the front part (ProxyFix
    ``x_prefix`` before a DispatcherMiddleware lacks ``/p`` of ``/p/app``; ``/api/users``
    under a stripped ``/api`` is ``/api/api/users``); nothing when the target is the path."""
    if decoded == full:
        return ""
    if full.endswith(decoded):  # (a target that only starts with the mount lacks it too)
        return encode(full[: len(full) - len(decoded)], safe=PATH_SAFE)
    # the server normalised its path (a double slash, a dot segment): the mount, if lacking
    return "" if at_or_below(decoded, mount) else encode(mount.rstrip("/"), safe=PATH_SAFE)


def at_or_below(path: str, root: str) -> bool:
    """Whether ``path`` is the mount point ``root`` or below it."""
    root = root.rstrip("/")
    return not root or path == root or path.startswith(root + "/")
