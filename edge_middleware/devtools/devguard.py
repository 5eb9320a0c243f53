"""Who may use the dev server's own endpoints: the inspector (``/_edge/``) and
``POST /_edge/invalidate``, and whose per-request switches (``X-Forwarded-Proto`` with
``--trust-forwarded-proto``, ``X-Edge-Viewer``) count.

The TCP peer alone is not enough: behind a reverse proxy on the same machine every request
comes from loopback, and a page on another site can reach a loopback port through DNS
rebinding. So a request is the local developer's only when

- the peer is a loopback address (unless ``allow_remote``);
- its ``Host`` names this machine (``localhost``, ``*.localhost``, a loopback IP);
- it carries no proxy header (``Forwarded``, ``X-Forwarded-For``, ``X-Real-IP``) unless
  ``allow_proxied`` (``serve --edge-allow-proxied``);
- with a token set (``serve --edge-token TOKEN`` or ``EDGE_MIDDLEWARE_TOKEN``), it shows it:
  header ``X-Edge-Token``, cookie ``edge_token`` or query parameter ``edge_token``.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs

__all__ = ["PROXY_HEADERS", "TOKEN_COOKIE", "Guard", "is_loopback", "loopback_host"]

#: Headers a reverse proxy adds: their presence means the peer address is not the viewer.
PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")
TOKEN_HEADER = "x-edge-token"
TOKEN_COOKIE = "edge_token"


def is_loopback(host: str | None) -> bool:
    """Whether an address (``127.0.0.1``, ``::1``, ``::1%lo``) is a loopback one."""
    if not host:
        return False
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def loopback_host(host: str) -> bool:
    """A ``Host`` header naming this machine: ``localhost``, ``*.localhost`` or a loopback IP."""
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1:].partition("]")[0]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    name = name.rstrip(".")
    return name == "localhost" or name.endswith(".localhost") or is_loopback(name)


def _token_given(headers: Mapping[str, str], query: str) -> str:
    if headers.get(TOKEN_HEADER):
        return headers[TOKEN_HEADER]
    cookie = headers.get("cookie", "")
    if cookie:
        try:
            jar = SimpleCookie(cookie)
        except CookieError:
            jar = SimpleCookie()
        if TOKEN_COOKIE in jar:
            return jar[TOKEN_COOKIE].value
    values = parse_qs(query).get(TOKEN_COOKIE)
    return values[-1] if values else ""


@dataclass
class Guard:
    """The rules above; :meth:`refusal` says why a request is not the developer's."""

    allow_remote: bool = False
    allow_proxied: bool = False
    token: str | None = None

    def local(self, client: str | None, headers: Mapping[str, str]) -> bool:
        """A loopback peer, a loopback ``Host``, no proxy headers (switches need no token)."""
        return self.refusal(client, headers, "", need_token=False) is None

    def refusal(
        self,
        client: str | None,
        headers: Mapping[str, str],
        query: str,
        *,
        need_token: bool = True,
    ) -> str | None:
        """``None`` when allowed, else the reason (headers: lower-case names)."""
        if not self.allow_remote:
            if not is_loopback(client):
                return "answers loopback clients only"
            host = headers.get("host", "")
            if not loopback_host(host):
                return f"answers for loopback host names only, not {host!r}"
        if not self.allow_proxied:
            proxied = [name for name in PROXY_HEADERS if name in headers]
            if proxied:
                return (
                    f"refuses proxied requests ({', '.join(proxied)}): serve with "
                    "--edge-allow-proxied to reach it through a local proxy"
                )
        if need_token and self.token:
            given = _token_given(headers, query)
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return "needs the token (X-Edge-Token header or ?edge_token=)"
        return None


def asgi_headers(scope: Mapping[str, object]) -> dict[str, str]:
    """The scope's headers as ``{lower-case name: value}`` (repeats joined with ", ")."""
    out: dict[str, str] = {}
    raw = scope.get("headers") or []
    for name, value in raw:  # type: ignore[attr-defined]
        key = bytes(name).decode("latin-1").lower()
        text = bytes(value).decode("latin-1")
        out[key] = f"{out[key]}, {text}" if key in out else text
    return out


def wsgi_headers(environ: Mapping[str, object]) -> dict[str, str]:
    """The environ's headers as ``{lower-case name: value}``."""
    out: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_") and isinstance(value, str):
            out[key[5:].replace("_", "-").lower()] = value
    if isinstance(environ.get("CONTENT_TYPE"), str) and environ["CONTENT_TYPE"]:
        out["content-type"] = str(environ["CONTENT_TYPE"])
    return out
