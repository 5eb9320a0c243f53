"""What a behavior lets through to the origin, and the traps in it, in plain words.

CloudFront removes from the request whatever the behavior's cache policy and origin request
policy do not name: by default the query string, every cookie and nearly every header. An app
behind it that reads ``request.args`` or a session cookie just looks broken. The dev server's
banner and ``edge-middleware check`` print, per behavior, :func:`forwarded_lines`, and
:func:`warnings` for settings that leak or can be abused (issue 16.10):

- caching while the origin gets ``Authorization`` or cookies that are not in the cache key:
  one visitor's private page is served to the next;
- a cookie list in the cache key: the origin's ``Set-Cookie`` is stored with the object and
  replayed to every visitor who gets it from the cache;
- ``If-Match`` always reaches the origin but is not in the key, and a custom error response
  caches ``412``: one request with a bogus ``If-Match`` denies the object to all.

The rules are those of ``cache/rules.py`` (``forwarded_to_origin``), told for people.
"""

from __future__ import annotations

from ..config.model import Behavior, CachePolicy, EdgeConfig, OriginRequestPolicy
from ..core.headers import capitalize

__all__ = ["FORWARD_EVERYTHING", "forwarded_lines", "removes_something", "warnings"]

#: The one line (TOML, under ``[default]`` or a behavior) that forwards everything.
FORWARD_EVERYTHING = 'origin_request_policy = "AllViewer"'

#: Sent to the origin whatever the policies say (CloudFront's custom-origin table).
ALWAYS = ("Content-Type", "Content-Length", "Range", "If-Match", "If-Range")


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(names)


def _header_names(names: tuple[str, ...]) -> str:
    return ", ".join(capitalize(n) for n in names)


def _select(mode: str, names: tuple[str, ...]) -> tuple[str, frozenset[str]]:
    return mode, frozenset(names)


def _union(a: tuple[str, frozenset[str]], b: tuple[str, frozenset[str]]) -> str:
    """The union of two none/whitelist/allExcept/all selections, in words."""
    modes = {a[0], b[0]}
    if "all" in modes:
        return "all"
    excepts = [s for m, s in (a, b) if m == "allExcept"]
    lists = frozenset().union(*(s for m, s in (a, b) if m == "whitelist"))
    if excepts:
        removed = frozenset.intersection(*excepts) - lists
        return f"all except {_names(tuple(sorted(removed)))}" if removed else "all"
    if lists:
        return f"only {_names(tuple(sorted(lists)))}"
    return "none (removed)"


def _orp(behavior: Behavior) -> OriginRequestPolicy:
    return behavior.origin_request_policy or OriginRequestPolicy()


def _headers(behavior: Behavior) -> str:
    if behavior.forward_all_headers:
        return "all (legacy Headers: *)"
    orp = _orp(behavior)
    keyed = tuple(behavior.cache.headers)
    if orp.headers in ("allViewer", "allViewerAndWhitelistCloudFront"):
        return "all the viewer's"
    if orp.headers == "allExcept":
        removed = [h for h in orp.header_names if h not in keyed]
        return f"all the viewer's except {_header_names(tuple(removed))}" if removed else "all"
    named = tuple(
        dict.fromkeys((*keyed, *(orp.header_names if orp.headers == "whitelist" else ())))
    )
    always = f"only {_header_names(named)} and" if named else "only"
    # (on OPTIONS too unless OPTIONS answers are cached: cache/forwarding.py)
    options = "" if _caches_options(behavior) else "OPTIONS/"
    auth = (
        ""
        if "authorization" in named
        else f"; Authorization only on {options}POST/PUT/PATCH/DELETE"
    )
    return f"{always} {_names(ALWAYS)}{auth}"


def _caches_options(behavior: Behavior) -> bool:
    return "OPTIONS" in behavior.cached_methods and behavior.cache.max_ttl > 0


def forwarded_lines(behavior: Behavior) -> list[str]:
    """``query strings: ...``, ``cookies: ...``, ``headers: ...`` as the origin gets them."""
    cache, orp = behavior.cache, _orp(behavior)
    qs = _union(
        _select(cache.query_strings, cache.query_string_names),
        _select(orp.query_strings, orp.query_string_names),
    )
    cookies = _union(
        _select(cache.cookies, cache.cookie_names), _select(orp.cookies, orp.cookie_names)
    )
    return [
        f"to the origin: query strings {qs}; cookies {cookies}",
        f"               headers {_headers(behavior)}",
    ]


def removes_something(behavior: Behavior) -> bool:
    """Whether the origin misses part of what the viewer sent (query, cookies or headers)."""
    lines = forwarded_lines(behavior)
    return "all the viewer's" not in lines[1] or "removed" in lines[0] or "only" in lines[0]


def _caches(policy: CachePolicy) -> bool:
    return not policy.caching_disabled


def _cookies_unkeyed(behavior: Behavior) -> bool:
    orp = _orp(behavior)
    return orp.cookies != "none" and behavior.cache.cookies == "none"


def _authorization_unkeyed(behavior: Behavior) -> bool:
    if "authorization" in behavior.cache.headers:
        return False
    orp = _orp(behavior)
    if behavior.forward_all_headers:
        return False  # legacy Headers: * disables caching
    if orp.headers in ("allViewer", "allViewerAndWhitelistCloudFront"):
        return True
    return orp.headers == "allExcept" and "authorization" not in orp.header_names


def warnings(config: EdgeConfig) -> list[str]:
    """Plain-words warnings about what a behavior caches while forwarding (issue 16.10)."""
    out = []
    caching = []
    for behavior in config.all_behaviors:
        if not _caches(behavior.cache) or behavior.forward_all_headers:
            continue
        where = behavior.path_pattern
        caching.append(where)
        if _authorization_unkeyed(behavior):
            out.append(
                f"{where}: caches responses while the origin gets the viewer's Authorization "
                "header, which is not in the cache key: a page made for one signed-in visitor "
                "can be served to the next. Put Authorization in the cache policy, or use "
                "CachingDisabled."
            )
        if _cookies_unkeyed(behavior):
            out.append(
                f"{where}: caches responses while the origin gets the viewer's cookies, which "
                "are not in the cache key: a page made for one visitor's session can be served "
                "to the next. Key on the cookies, or use CachingDisabled."
            )
        if behavior.cache.cookies in ("whitelist", "allExcept", "all"):
            out.append(
                f"{where}: cookies are in the cache key, so the origin's Set-Cookie is stored "
                "with the object and sent again to every visitor who gets that object from the "
                'cache (CloudFront does the same). Send Cache-Control: no-cache="Set-Cookie" '
                "with cacheable responses that set cookies."
            )
    custom_412 = config.error_response_for(412)
    exposed = [
        b.path_pattern
        for b in config.all_behaviors
        if b.path_pattern in caching and "if-match" not in b.cache.headers
    ]
    if exposed and custom_412 is not None and custom_412.error_caching_min_ttl > 0:
        out.append(
            f"{', '.join(exposed)}: If-Match always reaches the origin and is not in the cache "
            f"key, and 412 answers are cached ({custom_412.error_caching_min_ttl} s): one "
            "request with a wrong If-Match can deny the object to everyone until it expires. "
            "Set ErrorCachingMinTTL 0 for 412, or key on If-Match."
        )
    return out
