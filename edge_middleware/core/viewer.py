"""What CloudFront says about the viewer: its address, always an IP, and its HTTP version as
``Via`` and ``CloudFront-Viewer-Http-Version`` give it."""

from __future__ import annotations

import ipaddress

__all__ = ["viewer_http_version", "viewer_ip"]

_SEEN_IPS: dict[str, str] = {}


def viewer_ip(value: object) -> str:
    """The viewer's address as CloudFront gives it, always an IP: what a server or test client
    puts there instead (Starlette's TestClient ``"testclient"``, ``""``, a unix socket's name)
    is ``127.0.0.1``; a handler that parsed it failed with a 503."""
    if type(value) is not str:
        return "127.0.0.1"
    known = _SEEN_IPS.get(value)
    if known is None:
        try:
            ipaddress.ip_address(value)
            known = value
        except ValueError:
            known = "127.0.0.1"
        if len(_SEEN_IPS) >= 4096:  # a few clients at a time: no unbounded growth
            _SEEN_IPS.clear()
        _SEEN_IPS[value] = known
    return known


def viewer_http_version(http_version: str) -> str:
    """``CloudFront-Viewer-Http-Version``, and the first token of ``Via``: 1.0, 1.1, 2.0 or
    3.0 (lambda-edge.md §1.3, §5.2)."""
    major = http_version[:1]
    if major in ("2", "3"):
        return f"{major}.0"
    return "1.0" if http_version == "1.0" else "1.1"
