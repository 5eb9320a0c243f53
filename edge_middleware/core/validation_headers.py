"""What every handler-result check shares: CloudFront's messages, typed field access, the
character rules, and the header-map checks (lambda-edge.md §1.4, §3.1; decisions.md #2, #3,
#16). Used by ``validation.py`` (results) and ``validation_origin.py`` (``request.origin``)."""

from __future__ import annotations

import re
from typing import Any

from ..config.settings import EdgeSettings
from ..exceptions import LambdaValidationError
from .headers import HOP_BY_HOP, VALUE_CONTROLS, FunctionText, capitalize, is_disallowed, memo_keeps
from .types import CFHeaders, EventType, HeaderEntry

__all__ = [
    "BAD_BODY",
    "BAD_HEADER_VALUE",
    "BAD_URI",
    "BLACKLISTED",
    "FAILED",
    "INVALID_JSON",
    "NOT_OBJECT",
    "NOT_PARSABLE",
    "READ_ONLY",
    "READ_ONLY_HEADERS",
    "SURROGATE_BODY",
    "is_disallowed_header",
    "read_only_headers",
]

INVALID_JSON = "The Lambda function returned invalid JSON: "
FAILED = "The Lambda function result failed validation: "
NOT_OBJECT = INVALID_JSON + "The JSON output must be an object type."
NOT_PARSABLE = INVALID_JSON + "The JSON output is not parsable."
READ_ONLY = FAILED + "The function tried to add, delete, or change a read-only header."
BLACKLISTED = FAILED + "The function tried to add a blacklisted header."
BAD_BODY = FAILED + "The body is not a string, is not an object, or exceeds the maximum size"
BAD_URI = FAILED + "invalid uri format"
#: A text body must be valid Unicode: a lone surrogate has no UTF-8 form.
SURROGATE_BODY = FAILED + "The body contains a lone surrogate, which is not valid UTF-8."
BAD_HEADER_VALUE = (
    FAILED + "the value of each header value must be of string or array of string type"
)


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


_RO_ORIGIN_REQUEST = (
    "accept-encoding content-length if-modified-since if-none-match if-range "
    "if-unmodified-since transfer-encoding via"
)
#: §3.1 read-only headers per event; "current" docs and the "2023" page (decisions.md #16).
READ_ONLY_HEADERS: dict[str, dict[EventType, frozenset[str]]] = {
    "current": {
        "viewer-request": _names("cdn-loop content-length host transfer-encoding via"),
        "origin-request": _names("cdn-loop " + _RO_ORIGIN_REQUEST),
        "origin-response": _names("transfer-encoding via"),
        "viewer-response": _names("warning via content-length content-encoding transfer-encoding"),
    },
    "2023": {
        "viewer-request": _names("content-length host transfer-encoding via"),
        "origin-request": _names(_RO_ORIGIN_REQUEST),
        "origin-response": _names("transfer-encoding via"),
        "viewer-response": _names("warning via"),
    },
}

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# No control character but HTAB (CloudFront rejects them all; CR, LF and NUL would also split
# the header on the wire); lone surrogates cannot be encoded at all.
_BAD_VALUE_CHAR = re.compile(f"[{VALUE_CONTROLS}\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# A uri is a path only (§1.3): "?" would start a query inside it and "#" a fragment, which
# in-process and URL origins then read differently; CloudFront: "invalid uri format" (§3.5).
_BAD_URI_CHAR = re.compile("[\x00-\x20\x7f?#\ud800-\udfff]")
_BAD_QUERY_CHAR = re.compile("[\x00-\x20\x7f#\ud800-\udfff]")
_BAD_REASON_CHAR = re.compile("[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")
_STATUS = re.compile(r"[0-9]{1,10}")
_TYPE_NAMES: dict[type, str] = {str: "a string", dict: "an object", list: "an array", int: "an int"}
_MISSING: Any = object()


#: The same rule under the name this module has always exported.
is_disallowed_header = is_disallowed


def read_only_headers(event_type: EventType, settings: EdgeSettings) -> frozenset[str]:
    """The read-only header names (lower-case) of one event (§3.1, decisions.md #16)."""
    return READ_ONLY_HEADERS[settings.readonly_header_list][event_type]


def _fail(reason: str, field: str) -> LambdaValidationError:
    return LambdaValidationError(FAILED + reason, field=field)


def _get(obj: dict[str, Any], key: str, typ: type, path: str, default: Any = _MISSING) -> Any:
    """``obj[key]`` checked to be of ``typ`` (bool is not an int); missing: ``default`` or 502."""
    if key not in obj:
        if default is _MISSING:
            raise _fail(f"The required field {path} is missing.", path)
        return default
    value = obj[key]
    if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
        raise _fail(f"The field {path} must be {_TYPE_NAMES[typ]}.", path)
    return value


#: header names and keys already seen to be valid tokens (names repeat from call to call)
_GOOD_TOKENS: set[str] = set()


def _token(name: str) -> bool:
    """Whether ``name`` is an HTTP token (a header name), remembering the valid ones."""
    if name in _GOOD_TOKENS:
        return True
    if _TOKEN.fullmatch(name) is None:
        return False
    if memo_keeps(_GOOD_TOKENS, name):
        _GOOD_TOKENS.add(name)
    return True


def _header_map(
    value: Any,
    path: str,
    settings: EdgeSettings,
    known: CFHeaders | None = None,
    *,
    mark: bool = False,
) -> CFHeaders:
    """A handler's header map checked and normalised (§1.4, decisions.md #2, #3).

    ``known`` is the map the handler was given (already normalised): a header whose entries
    are equal to it there is taken as it is, after the one check its values still need (a
    handler adding a few headers to a response pays for those, not for every header).
    ``mark``: the function's own values are marked (:func:`_mark_function_text`)."""
    if not isinstance(value, dict):
        raise _fail(f"The field {path} must be an object.", path)
    if known is not None:
        done = _unchanged_headers(value, known)
        if done is not None:
            if mark and not done[1]:
                _mark_function_text(done[0], known)
            return done[0]
    out = _checked_headers(value, path, settings)
    if mark:
        _mark_function_text(out, known)
    return out


def _checked_headers(value: dict[Any, Any], path: str, settings: EdgeSettings) -> CFHeaders:
    """:func:`_header_map`'s full check: each name, entry, key and value."""
    title = settings.key_capitalization == "title"
    by_entry_key = settings.header_identity == "entry-key"
    out: CFHeaders = {}
    for name, entries in value.items():
        if not _token(name):
            reason = f"The header name {name!r} is not a valid HTTP header name."
            raise _fail(reason, _hpath(path, name))
        if not isinstance(entries, list):
            raise LambdaValidationError(BAD_HEADER_VALUE, field=_hpath(path, name))
        lower = name.lower()
        default_key = (
            "-".join(p[:1].upper() + p[1:].lower() for p in name.split("-"))
            if title
            else capitalize(name)
        )
        for i, entry in enumerate(entries):
            val = entry.get("value") if isinstance(entry, dict) else None
            if not isinstance(val, str):
                field = f"{_hpath(path, name)}[{i}].value"
                raise LambdaValidationError(BAD_HEADER_VALUE, field=field)
            bad = _BAD_VALUE_CHAR.search(val)
            if bad:
                reason = f"invalid character '%{ord(bad.group()):02X}' in header value"
                raise _fail(reason, f"{_hpath(path, name)}[{i}].value")
            key = entry.get("key")
            if key is None:
                key = default_key
            elif not isinstance(key, str) or not _token(key):
                reason = f"The header key {key!r} is not a valid HTTP header name."
                raise _fail(reason, f"{_hpath(path, name)}[{i}].key")
            ident = key.lower() if by_entry_key else lower
            if key.lower() != ident:  # the dict key is the identity: it also gives the name
                key = default_key
            new: HeaderEntry = {"key": key, "value": val}
            bucket = out.get(ident)
            if bucket is None:
                out[ident] = [new]
            else:
                bucket.append(new)
    return out


def _unchanged_headers(value: dict[str, Any], known: CFHeaders) -> tuple[CFHeaders, bool] | None:
    """``value`` normalised when every header is either equal to ``known``'s (taken as it
    is: fresh JSON lists, normalised when ``known`` was) or new and plain (a token name,
    entries of a token ``key`` equal to the name but for case, and a ``value``), and whether
    all its values are ASCII; ``None`` when anything needs the full check (which then names
    the problem)."""
    out: CFHeaders = {}
    values: list[str] = []
    for name, entries in value.items():
        old = known.get(name)
        if old is not None and entries == old:
            out[name] = entries
            values.extend(e["value"] for e in entries)
            continue
        if not (type(entries) is list and entries and _token(name) and name.islower()):
            return None
        for entry in entries:
            key = entry.get("key") if type(entry) is dict else None
            val = entry.get("value") if type(entry) is dict else None
            # (a value may be a FunctionText: a later function returns an earlier one's text)
            if not (type(key) is str and isinstance(val, str) and len(entry) == 2):
                return None
            if key.lower() != name or not _token(key):
                return None
            values.append(val)
        out[name] = entries
    joined = "\t".join(values)
    if _BAD_VALUE_CHAR.search(joined):
        return None
    return out, joined.isascii()


def _hpath(path: str, name: str) -> str:
    """The field path of header ``name`` in an error (built only when there is an error)."""
    return f'{path}["{name.lower()}"]'


#: Hop-by-hop header names (RFC 9110 §7.6.1): PEP 3333 forbids them in an app's response and
#: CloudFront frames the viewer's response itself (§5.2), so none from a function goes on.
_HOP_BY_HOP_NAMES = frozenset(name.decode("ascii") for name in HOP_BY_HOP)
#: The read-only names judged in a generated response (see :func:`_check_headers`).
_GENERATED_READ_ONLY = frozenset({"transfer-encoding"})


def _check_headers(
    event_type: EventType,
    before: CFHeaders,
    after: CFHeaders,
    path: str,
    settings: EdgeSettings,
    read_only: bool,
) -> None:
    """Disallowed, read-only and CloudFront-Viewer-Country rules (§3.1); may restore deletions.

    ``read_only`` False: a generated response (no ``before``: each header is an add). §2.3 has
    §3.1 apply to it, and of the event's read-only names ``Transfer-Encoding`` is judged (it
    would reframe a body CloudFront frames itself); a ``Content-Length`` there is replaced by
    the body's length, as before."""
    for name in after:
        if name not in before and is_disallowed_header(name):
            raise LambdaValidationError(BLACKLISTED, field=f'{path}["{name}"]')
    country = "cloudfront-viewer-country"
    if event_type == "viewer-request" and country in after and not before.get(country):
        reason = "The function tried to add CloudFront-Viewer-Country in viewer-request."
        raise _fail(reason, f'{path}["cloudfront-viewer-country"]')
    names = read_only_headers(event_type, settings)
    if not read_only:
        names = names & _GENERATED_READ_ONLY
    for name in names:
        old, new = before.get(name), after.get(name)
        if new is None:
            if old:
                if settings.readonly_header_delete == "error":
                    raise LambdaValidationError(READ_ONLY, field=f'{path}["{name}"]')
                after[name] = [entry.copy() for entry in old]
        elif not old or [e["value"] for e in old] != [e["value"] for e in new]:
            raise LambdaValidationError(READ_ONLY, field=f'{path}["{name}"]')


def _drop_hop_by_hop(after: CFHeaders, before: CFHeaders) -> None:
    """Remove the hop-by-hop headers a function added to a response that no rule rejected
    (``TE``; ``Transfer-Encoding`` where the read-only list in use has not got it): they
    never reach the viewer (§1.7, §5.2). The others are disallowed: a 502 already."""
    for name in _HOP_BY_HOP_NAMES.intersection(after):
        if name not in before:
            del after[name]


def _mark_function_text(after: CFHeaders, known: CFHeaders | None) -> None:
    """§1.4: a value a function changed goes on the wire as UTF-8, one it did not as the bytes
    it came as. A value outside ASCII that is not among ``known``'s values of the same name
    (the map the function was given) becomes a :class:`FunctionText`; an equal one takes
    ``known``'s own object back, which says how it came in (a later function's result may
    hold an earlier function's text). ``after`` must not share entries with a handler."""
    for name, entries in after.items():
        old = known.get(name) if known else None
        given: dict[str, str] | None = None  # the given values by text, first one kept
        for entry in entries:
            value = entry["value"]
            if value.isascii() or type(value) is FunctionText:
                continue
            if given is None:  # (once per name: a scan per value was quadratic)
                given = {}
                for e in old or ():
                    given.setdefault(e["value"], e["value"])
            same = given.get(value)
            if same is None:
                entry["value"] = FunctionText(value)
            elif same is not value:
                entry["value"] = same
