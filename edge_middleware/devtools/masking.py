"""One masking function for everything the dev tools show: the console log, the access log and
the inspector (issue 16.6).

A value is secret when it is the value of

- a header whose name is secret (:data:`SECRET_HEADERS`, or a name containing ``token``,
  ``secret``, ``password``, ``api-key``, ``signature``, ``credential`` or ``session``),
  wherever the header came from: the viewer's request, what a handler added or returned, the
  origin's response (``Set-Cookie``);
- a query parameter whose name looks secret (``token``, ``key``, ``secret``, ``password``,
  ``signature``, ``X-Amz-*`` ..., see :func:`secret_param`).

:func:`collect` finds those values in any mix of CloudFront dicts, raw header pairs and query
strings; a :class:`Masker` then replaces each (the whole value, each cookie's value and the
credentials after ``Bearer``/``Basic``) with ``[redacted]`` in any text or nested data, so a
secret a handler printed, put in an exception or copied into another header is masked too.
Nothing is masked with ``--log-secrets`` (``show_secrets``).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, unquote_plus, urlsplit

__all__ = [
    "MASK",
    "SECRET_HEADERS",
    "Masker",
    "collect",
    "credentials_masker",
    "mask_query",
    "masker_for",
    "secret_header",
    "secret_param",
]

MASK = "[redacted]"
#: Header names (lower-case) whose values are always secret.
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "x-amz-security-token",
        "x-edge-token",
    }
)
_SECRET_HEADER_WORDS = (
    "token",
    "secret",
    "password",
    "api-key",
    "signature",
    "credential",
    "session",
)
_SECRET_PARAMS = frozenset(
    {
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "key",
        "api_key",
        "apikey",
        "secret",
        "client_secret",
        "password",
        "passwd",
        "pwd",
        "signature",
        "sig",
        "edge_token",
    }
)
_SECRET_PARAM_WORDS = ("token", "secret", "password", "signature")


def secret_header(name: str) -> bool:
    """Whether a header's values are secret, by its name."""
    lower = name.lower()
    return lower in SECRET_HEADERS or any(word in lower for word in _SECRET_HEADER_WORDS)


def secret_param(name: str) -> bool:
    """Whether a query parameter's values are secret, by its name."""
    lower = unquote_plus(name).lower()
    return (
        lower in _SECRET_PARAMS
        or lower.startswith("x-amz-")
        or any(word in lower for word in _SECRET_PARAM_WORDS)
    )


def _query_values(query: str) -> Iterable[str]:
    for part in query.split("&"):
        name, sep, value = part.partition("=")
        if sep and value and secret_param(name):
            yield value
            yield unquote_plus(value)


def mask_query(query: str) -> str:
    """``a=1&token=abc`` to ``a=1&token=[redacted]``."""
    if not query:
        return query
    out = []
    for part in query.split("&"):
        name, sep, value = part.partition("=")
        out.append(f"{name}={MASK}" if sep and value and secret_param(name) else part)
    return "&".join(out)


def _entry_values(value: Any) -> Iterable[str]:
    """The strings under a header name: ``[{"key", "value"}]``, a string, or bad shapes."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        for entry in value:
            if isinstance(entry, Mapping):
                inner = entry.get("value")
                if isinstance(inner, str):
                    yield inner
            else:
                yield from _entry_values(entry)
    elif isinstance(value, Mapping):
        for inner in value.values():
            yield from _entry_values(inner)


def _walk(value: Any, found: set[str], depth: int = 0) -> None:
    if depth > 64:
        return
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if isinstance(key, str) and key in ("querystring", "query_string"):
                if isinstance(inner, str):
                    found.update(_query_values(inner))
            elif isinstance(key, str) and secret_header(key):
                found.update(_entry_values(inner))
            elif isinstance(key, str) and key.lower() == "referer":
                for url in _entry_values(inner):  # the page's query, as the access log masks it
                    found.update(_query_values(url.partition("?")[2]))
            else:
                _walk(inner, found, depth + 1)
    elif isinstance(value, list | tuple):
        if len(value) == 2 and all(isinstance(v, bytes | str) for v in value):
            name, inner = (v.decode("latin-1") if isinstance(v, bytes) else v for v in value)
            if secret_header(name):
                found.add(inner)
            elif name.lower() == "referer":
                found.update(_query_values(inner.partition("?")[2]))
            return
        for inner in value:
            _walk(inner, found, depth + 1)


def _expand(values: Iterable[str]) -> list[str]:
    """Whole values, each cookie's value, the credentials after ``Bearer``/``Basic`` and what
    ``Basic`` credentials decode to (``user:password``, and the password: an auth handler
    that decodes them and prints what it found printed the password in clear): longest
    first, so the longest match is masked."""
    out: set[str] = set()
    for value in values:
        out.add(value)
        for part in value.split(";"):
            name, sep, inner = part.partition("=")
            if sep and name.strip().lower() not in ("path", "domain", "expires", "max-age"):
                inner = inner.strip()
                out.add(inner)
                if len(inner) > 1 and inner[0] == inner[-1] == '"':  # a quoted cookie value,
                    out.add(inner[1:-1])  # as a cookie parser gives it (RFC 6265 §4.1.1)
        scheme, _, credentials = value.strip().partition(" ")
        out.add(credentials.strip())
        if scheme.lower() == "basic":
            out.update(_basic(credentials.strip()))
    # and as a handler that decodes them prints them (express-session's "s%3A..." cookie,
    # printed as "s:..."), as query values are masked in both forms
    out.update([unquote(s) for s in out] + [unquote_plus(s) for s in out])
    # and as a handler's print(json.dumps(event)) shows them, escaped: a quote with a
    # backslash, what is not ASCII as a \u escape (a quoted cookie was shown in clear). Only
    # values long enough to be masked at all: a short one's escape is no secret ("é" is
    # "\u00e9", and a print of "José" showed "Jos" and the mask)
    kept = {s for s in out if len(s) >= 4}
    kept.update(
        [json.dumps(s)[1:-1] for s in kept]
        + [json.dumps(s, ensure_ascii=False)[1:-1] for s in kept]
    )
    return sorted(kept, key=len, reverse=True)


def _basic(credentials: str) -> list[str]:
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):  # (binascii.Error is a ValueError)
        return []
    return [decoded, decoded.partition(":")[2]]


def collect(*documents: Any, queries: Iterable[str] = ()) -> list[str]:
    """The secret values in ``documents`` (CloudFront events, requests, responses, results,
    raw header pairs) and in the query strings ``queries``, ready for :class:`Masker`."""
    found: set[str] = set()
    for doc in documents:
        _walk(doc, found)
    for query in queries:
        found.update(_query_values(query))
    return _expand(found)


class Masker:
    """Replaces the secret values with ``[redacted]`` in text and nested data; headers with
    secret names and secret query parameters are masked whatever their value."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = list(secrets)
        self.pattern = re.compile("|".join(map(re.escape, self.secrets))) if self.secrets else None

    def text(self, value: str) -> str:
        return self.pattern.sub(MASK, value) if self.pattern is not None else value

    def header_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return [
                {k: (MASK if k == "value" else v) for k, v in e.items()}
                if isinstance(e, dict)
                else MASK
                for e in value
            ]
        return MASK

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if isinstance(k, str) and secret_header(k):
                    out[k] = self.header_value(v)
                elif k in ("querystring", "query_string") and isinstance(v, str):
                    out[k] = self.text(mask_query(v))
                else:
                    out[k] = self(v)
            return out
        if isinstance(value, list):
            return [self(v) for v in value]
        return value

    def header_pairs(self, pairs: Iterable[tuple[str, str]]) -> list[list[str]]:
        return [[name, MASK if secret_header(name) else self.text(value)] for name, value in pairs]


class _Nothing(Masker):
    def text(self, value: str) -> str:
        return value

    def __call__(self, value: Any) -> Any:
        return value

    def header_pairs(self, pairs: Iterable[tuple[str, str]]) -> list[list[str]]:
        return [[name, value] for name, value in pairs]


def _url_credentials(url: str) -> dict[str, str]:
    """What to replace for the credentials in ``url``: the userinfo (``user:password@`` to
    ``user:[redacted]@``, a userinfo without a password whole), the password alone (as written
    and percent-decoded: a message may quote it either way) and a ``password=`` query value."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return {}
    out: dict[str, str] = {}
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at and userinfo:
        user, colon, password = userinfo.partition(":")
        out[userinfo + "@"] = f"{user}:{MASK}@" if colon else f"{MASK}@"
        out.update({p: MASK for p in (password, unquote(password)) if len(p) >= 4})
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if secret_param(name) and len(value) >= 4:
            out[value] = MASK
    return out


def credentials_masker(*urls: str | None) -> Callable[[str], str]:
    """Masks in text the credentials of URLs the dev server was given (``--redis``,
    ``--origin``): its banner and every line it prints show the URLs and what failed on them."""
    replace: dict[str, str] = {}
    for url in urls:
        if url:
            replace.update(_url_credentials(url))
    if not replace:
        return lambda text: text
    pattern = re.compile("|".join(map(re.escape, sorted(replace, key=len, reverse=True))))
    return lambda text: pattern.sub(lambda m: replace[m.group()], text)


def masker_for(*documents: Any, queries: Iterable[str] = (), show_secrets: bool = False) -> Masker:
    """A :class:`Masker` for the secrets in ``documents``; one that masks nothing with
    ``show_secrets`` (``--log-secrets``)."""
    if show_secrets:
        return _Nothing()
    return Masker(collect(*documents, queries=queries))
