"""CloudFront's header map ``{lower: [{"key", "value"}]}`` and raw header lists.

Raw headers are ``list[tuple[bytes, bytes]]`` as in ASGI. Repeated headers (two ``Set-Cookie``,
two ``Cookie`` lines) are never collapsed in either direction (spec lambda-edge.md §1.4).
CloudFront hands values to functions as text, reading the bytes as ISO-8859-1 (§1.4); values a
function did not change go back out as received, changed values go out as UTF-8. Validation
tells the two apart (it alone sees what a function was given): a value outside ASCII that a
function wrote becomes a :class:`FunctionText`, and :func:`encode_value` sends it as UTF-8.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sized
from functools import lru_cache
from typing import Any, TypeVar

from .limits import MAX_HEADER_BYTES
from .types import CFHeaders, HeaderEntry

RawHeaders = list[tuple[bytes, bytes]]

__all__ = [
    "CLOUDFRONT_ADDED",
    "DISALLOWED_HEADERS",
    "DISALLOWED_PREFIXES",
    "HOP_BY_HOP",
    "NAME_MEMO_COUNT",
    "NAME_MEMO_LENGTH",
    "TOO_BIG",
    "VALUE_CONTROLS",
    "VIEWER_DERIVED",
    "FunctionText",
    "RawHeaders",
    "capitalize",
    "connection_options",
    "drop_viewer_derived",
    "encode_value",
    "framed_by_length",
    "get_first",
    "headers_from_pairs",
    "headers_from_raw",
    "headers_to_pairs",
    "headers_to_raw",
    "is_disallowed",
    "lower_raw",
    "memo_keeps",
    "name_cache",
    "one_cookie",
    "raw_disallowed",
    "raw_get",
    "raw_header_problem",
    "replaced_by",
    "split_disallowed",
    "unchanged_raw",
    "with_length",
    "without",
]

#: Headers CloudFront never exposes to functions and rejects when a function adds them (§3.1),
#: plus every name starting with one of :data:`DISALLOWED_PREFIXES`.
DISALLOWED_HEADERS = frozenset(
    """connection expect keep-alive proxy-authenticate proxy-authorization proxy-connection
    trailer upgrade x-accel-buffering x-accel-charset x-accel-limit-rate x-accel-redirect
    x-amzn-auth x-amzn-cf-billing x-amzn-cf-id x-amzn-cf-xff x-amzn-errortype
    x-amzn-fle-profile x-amzn-header-count x-amzn-header-order x-amzn-lambda-integration-tag
    x-amzn-requestid x-cache x-forwarded-proto x-real-ip""".split()  # noqa: SIM905
)
DISALLOWED_PREFIXES = ("x-amz-cf-", "x-edge-")

#: Response headers that never reach a function or the viewer from the origin (§1.7, §5.2).
#: Headers CloudFront sets on every response to the viewer (replacing the origin's).
CLOUDFRONT_ADDED = frozenset({b"via", b"x-cache", b"x-amz-cf-pop", b"x-amz-cf-id"})
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"trailer",
        b"upgrade",
        b"proxy-authenticate",
        b"proxy-connection",
        b"te",
    }
)


#: Characters no header value may hold (RFC 9110 §5.5: VCHAR, obs-text, SP and HTAB only):
#: CR, LF and NUL would split or end the header; CloudFront rejects every other control too,
#: in a function's result (502 LambdaValidationError) and in an origin's response (502).
VALUE_CONTROLS = "\x00-\x08\x0a-\x1f\x7f"
_BAD_RAW_VALUE = re.compile(f"[{VALUE_CONTROLS}]".encode())
_RAW_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: the bytes a value may hold (``bytes.translate`` deletes them: what is left is a problem)
_VALUE_BYTES = bytes(c for c in range(256) if not _BAD_RAW_VALUE.match(bytes([c])))
#: raw header names seen to be tokens
_TOKEN_NAMES: set[bytes] = set()

#: Memos of per-header-name facts keep this many names at most, none longer than this: names
#: repeat from message to message, a hostile peer's are neither all nor long kept.
NAME_MEMO_COUNT = 4096
NAME_MEMO_LENGTH = 128

T = TypeVar("T")


def name_cache(maxsize: int) -> Callable[[Callable[[str], T]], Callable[[str], T]]:
    """``lru_cache(maxsize)`` for a function of one header name or environ key, kept only for
    names of at most :data:`NAME_MEMO_LENGTH` characters: a viewer that sends a new 12 KB
    name with each request made ``maxsize`` of them stay (118 MiB on the WSGI door)."""

    def wrap(func: Callable[[str], T]) -> Callable[[str], T]:
        cached = lru_cache(maxsize=maxsize)(func)

        @functools.wraps(func)
        def call(name: str) -> T:
            return cached(name) if len(name) <= NAME_MEMO_LENGTH else func(name)

        call.cache = cached  # type: ignore[attr-defined]
        return call

    return wrap


def memo_keeps(memo: Sized, name: Sized) -> bool:
    """Whether a memo of per-name facts (``memo``) has room for ``name``."""
    return len(memo) < NAME_MEMO_COUNT and len(name) <= NAME_MEMO_LENGTH


def raw_header_problem(raw: Iterable[tuple[bytes, bytes]]) -> str | None:
    """What makes a raw header list unfit for the wire (a name that is not a token, a value
    with a control character), or ``None``. Used on origin responses and on entries read back
    from a shared cache, which nothing else has checked. Headers over CloudFront's 20,480
    bytes (lambda-edge.md §3.2) are :data:`TOO_BIG`, found in the same pass: a name already
    known has at most NAME_MEMO_LENGTH characters, so only new ones are counted first."""
    try:  # an app may send anything: what is not (bytes, bytes) pairs is a problem too
        pairs = raw if isinstance(raw, list) else list(raw)
        known = _TOKEN_NAMES
        values = []
        new_names = 0
        for name, value in pairs:
            if name not in known:  # names repeat from answer to answer: each is checked once
                if not _RAW_TOKEN.fullmatch(name):
                    return f"the header name {name!r} is not a valid HTTP header name"
                new_names += len(name)
                if memo_keeps(known, name):
                    known.add(name)
            values.append(value)
        # one pass over all values: valid lists are the common case
        joined = b"".join(values)
        if not joined.translate(None, _VALUE_BYTES):
            bound = (NAME_MEMO_LENGTH + 4) * len(pairs) + new_names + len(joined)
            if bound <= MAX_HEADER_BYTES or _wire_size(pairs) <= MAX_HEADER_BYTES:
                return None
            return TOO_BIG
    except (TypeError, ValueError):
        return "the headers are not a list of (name, value) pairs a server could send"
    for name, value in pairs:
        bad = _BAD_RAW_VALUE.search(value)
        if bad is not None:
            shown = name.decode("latin-1")
            return f"invalid character '%{bad.group()[0]:02X}' in the value of header {shown}"
    return None  # pragma: no cover - the joined check found something the loop did not


#: :func:`raw_header_problem` for a header section over CloudFront's 20,480 bytes
TOO_BIG = "the header section is over 20,480 bytes"


def _wire_size(pairs: list[tuple[bytes, bytes]]) -> int:
    return sum(len(k) + len(v) + 4 for k, v in pairs)


def is_disallowed(lower: str) -> bool:
    """Whether a lower-case header name is on CloudFront's disallowed list (§3.1)."""
    return lower in DISALLOWED_HEADERS or lower.startswith(DISALLOWED_PREFIXES)


def raw_disallowed(name: bytes) -> bool:
    """:func:`is_disallowed` for a raw header name of any case (from the per-name memo)."""
    known = _RAW_NAMES.get(name)
    if known is None:
        known = _raw_name(name)
    return known[2]


def split_disallowed(headers: Iterable[tuple[bytes, bytes]]) -> tuple[RawHeaders, RawHeaders]:
    """``(shown, hidden)``: the headers a function may see, and the disallowed ones it never
    sees, which go out again unchanged (lambda-edge.md §3.1)."""
    shown: RawHeaders = []
    hidden: RawHeaders = []
    for pair in headers:
        (hidden if raw_disallowed(pair[0]) else shown).append(pair)
    return shown, hidden


def without(headers: Iterable[tuple[bytes, bytes]], *names: bytes) -> RawHeaders:
    """Raw headers minus every header whose lower-case name is in ``names``."""
    return [(k, v) for k, v in headers if k.lower() not in names]


#: ``Connection`` tokens that name no header to remove (RFC 9110 §7.6.1)
_CONNECTION_WORDS = frozenset({"close", "keep-alive"})


def connection_options(value: str) -> list[str]:
    """The header names a ``Connection`` value lists (lower case): hop-by-hop for this one
    connection, removed by whoever receives them (RFC 9110 §7.6.1), as CloudFront does."""
    names = (token.strip().lower() for token in value.split(","))
    return [name for name in names if name and name not in _CONNECTION_WORDS]


def replaced_by(raw: RawHeaders, extra: RawHeaders) -> RawHeaders:
    """``raw`` without the names ``extra`` sets, then ``extra`` (lower-case names in both):
    what CloudFront sets for the origin (its custom headers, ``X-Amz-Cf-Id``) replaces a
    viewer's header of the same name, never goes beside it (a viewer's ``X-Origin-Token``
    came first, and frameworks read the first)."""
    if not extra:
        return raw
    names = {name for name, _ in extra}
    for name, _ in raw:  # a loop: any() over a generator costs a call per header on 3.11
        if name in names:
            raw = [(name, value) for name, value in raw if name not in names]
            break
    return [*raw, *extra]


def with_length(headers: Iterable[tuple[bytes, bytes]], body: bytes) -> RawHeaders:
    """Raw headers with one ``Content-Length`` that matches ``body``."""
    out = without(headers, b"content-length")
    out.append((b"Content-Length", str(len(body)).encode()))
    return out


def framed_by_length(headers: CFHeaders, body: bytes) -> None:
    """Make an event's framing headers say ``body``'s length (a replaced body goes whole, a
    chunked one too), keeping a ``Content-Length`` key as it was written; no framing: none."""
    length = headers.get("content-length")
    if length is None and headers.pop("transfer-encoding", None) is None:
        return
    headers.pop("transfer-encoding", None)
    key = length[0]["key"] if length else "Content-Length"
    headers["content-length"] = [{"key": key, "value": str(len(body))}]


@name_cache(2048)  # header names repeat from request to request
def capitalize(name: str) -> str:
    """The ``key`` Lambda@Edge builds when a handler leaves it out (decisions.md #2):
    upper-case the first letter of each hyphen part and leave the rest as written."""
    return "-".join(p[:1].upper() + p[1:] for p in name.split("-"))


def headers_from_raw(
    raw: Iterable[tuple[bytes, bytes]], *, drop_disallowed: bool = False
) -> CFHeaders:
    """ASGI-style raw header pairs to the CloudFront map, keeping order and repeats; with
    ``drop_disallowed`` the names on CloudFront's disallowed list are left out (§3.1)."""
    out: CFHeaders = {}
    names = _RAW_NAMES
    for name_b, value_b in raw:
        known = names.get(name_b)
        if known is None:
            known = _raw_name(name_b)
        name, lower, disallowed = known
        if disallowed and drop_disallowed:
            continue
        entry: HeaderEntry = {"key": name, "value": value_b.decode("latin-1")}
        bucket = out.get(lower)
        if bucket is None:
            out[lower] = [entry]
        else:
            bucket.append(entry)
    return out


#: per raw header name: its text, its lower-case text, whether it is disallowed
_RAW_NAMES: dict[bytes, tuple[str, str, bool]] = {}


def _raw_name(name_b: bytes) -> tuple[str, str, bool]:
    name = name_b.decode("latin-1")
    lower = name.lower()
    known = (name, lower, is_disallowed(lower))
    if memo_keeps(_RAW_NAMES, name_b):
        _RAW_NAMES[name_b] = known
    return known


def headers_from_pairs(pairs: Iterable[tuple[str, str]]) -> CFHeaders:
    """``(Name, value)`` text pairs (WSGI ``start_response`` style) to the CloudFront map."""
    out: CFHeaders = {}
    for name, value in pairs:
        out.setdefault(name.lower(), []).append({"key": name, "value": value})
    return out


class FunctionText(str):
    """A header value a function set or changed, outside ASCII: it goes on the wire as UTF-8
    (lambda-edge.md §1.4, "changed values go as UTF-8"). Every other value in a header map is
    the ISO-8859-1 reading of the bytes it came as, and goes back out as those bytes.

    Only validation makes them (``core.validation_headers``), for the values a function's
    result does not share with the event it was given. It is a ``str`` in every other way: a
    later function sees the text the earlier one wrote."""

    __slots__ = ()


def encode_value(value: str) -> bytes:
    """A header value as it goes on the wire: a :class:`FunctionText` as UTF-8; any other
    value as the ISO-8859-1 bytes it was read from (so it round-trips unchanged), or as UTF-8
    when it holds a character ISO-8859-1 has not (text no wire gave: configuration)."""
    if type(value) is not FunctionText:
        try:
            return value.encode("latin-1")
        except UnicodeEncodeError:
            pass
    return value.encode("utf-8")


def headers_to_raw(headers: Mapping[str, list[HeaderEntry]]) -> RawHeaders:
    """The CloudFront map back to raw pairs; a missing ``key`` is capitalised from the name.

    Assumes the map was validated (string values without CR/LF/NUL).
    """
    out: RawHeaders = []
    for lower, entries in headers.items():
        for entry in entries:
            key = entry.get("key") or capitalize(lower)
            out.append((key.encode("latin-1", "replace"), encode_value(entry["value"])))
    return out


def lower_raw(headers: Mapping[str, list[HeaderEntry]]) -> RawHeaders:
    """:func:`headers_to_raw` with lower-case names (an ASGI scope's), taken from the map's
    own keys (a valid map's key is its entries' ``key`` in lower case)."""
    out: RawHeaders = []
    for lower, entries in headers.items():
        if not lower.isascii():  # (str and bytes lower-casing differ past ASCII)
            out.extend((k.lower(), v) for k, v in headers_to_raw({lower: entries}))
            continue
        name = lower.encode("ascii").lower()
        for entry in entries:
            out.append((name, encode_value(entry["value"])))
    return out


def one_cookie(raw: RawHeaders) -> RawHeaders:
    """The ``cookie`` lines as one, joined with ``"; "`` where the first was: a request over
    HTTP/1.1 carries one (RFC 6265 §5.4), as the WSGI door's ``HTTP_COOKIE`` does. A second
    one an origin-request function added reached the app apart, and Django's ASGI handler
    joins repeated headers with ``","``: the session cookie's value took the other cookie."""
    cookies = [value for name, value in raw if name == b"cookie"]
    out: RawHeaders = []
    for name, value in raw:
        if name != b"cookie":
            out.append((name, value))
        elif cookies:
            out.append((name, b"; ".join(cookies)))
            cookies = []
    return out


def unchanged_raw(
    headers: Mapping[str, list[HeaderEntry]],
    given: Mapping[str, list[HeaderEntry]],
    raw: RawHeaders,
) -> RawHeaders:
    """:func:`headers_to_raw` of a function's result ``headers``, taking ``raw`` as it is when
    the result is the map ``given`` was built from ``raw`` and every name occurs once (the
    round trip would give back the same pairs in the same order)."""
    if headers is given and len(given) == len(raw):
        return raw
    return headers_to_raw(headers)


def headers_to_pairs(headers: Mapping[str, list[HeaderEntry]]) -> list[tuple[str, str]]:
    """The CloudFront map to WSGI ``(Name, value)`` pairs (values as latin-1 text, PEP 3333)."""
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers_to_raw(headers)]


def get_first(headers: Mapping[str, list[HeaderEntry]], lower: str) -> str | None:
    """The first value of a header in the CloudFront map, or ``None``."""
    entries = headers.get(lower)
    if entries:
        return entries[0]["value"]
    return None


def raw_get(raw: Iterable[tuple[bytes, bytes]], lower: bytes) -> bytes | None:
    """The first value of a header in a raw list (``lower`` must be lower-case)."""
    for name, value in raw:
        if name.lower() == lower:
            return value
    return None


#: Scope keys an outer ASGI middleware derives from the viewer's cookies or credentials
#: (Starlette's ``SessionMiddleware`` and ``AuthenticationMiddleware``).
VIEWER_DERIVED = ("session", "user", "auth")


def drop_viewer_derived(origin: dict[str, Any], viewer: RawHeaders, sent: RawHeaders) -> None:
    """Blank :data:`VIEWER_DERIVED` keys in the origin's scope unless the headers they come
    from (``Cookie``, ``Authorization``) reach the origin as the viewer sent them: behind
    CloudFront the origin knows nothing of a cookie the behavior does not forward (a session
    read from it was cached under a key without it, and served to everyone). The origin gets
    an empty session and an unauthenticated user, as the same middleware gives a request
    without them."""
    if not ("session" in origin or "user" in origin or "auth" in origin):
        return
    for name in (b"cookie", b"authorization"):
        if [v for n, v in viewer if n.lower() == name] != [v for n, v in sent if n == name]:
            _blank_viewer_derived(origin)
            return


def _blank_viewer_derived(origin: dict[str, Any]) -> None:
    if "session" in origin:
        origin["session"] = {}
    if "user" in origin or "auth" in origin:
        try:
            from starlette.authentication import AuthCredentials, UnauthenticatedUser
        except ImportError:  # not Starlette's: nothing to stand for them
            origin.pop("user", None)
            origin.pop("auth", None)
            return
        origin["user"], origin["auth"] = UnauthenticatedUser(), AuthCredentials()
