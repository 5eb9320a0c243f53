"""Range requests answered from a cached object: one range → ``206`` with ``Content-Range``,
several → ``206 multipart/byteranges`` (caching.md §1.14, docs/distributions.md "Byte
ranges", RFC 9110 §14.1.2 and §14.6).

Ranges that are invalid, not in ascending order or overlapping get the full ``200``; a range
that starts past the end is dropped, and when none is left the answer is ``416``.
"""

from __future__ import annotations

import hashlib
import itertools

from ..core.headers import RawHeaders, raw_get

__all__ = ["byte_range_response", "honoured_range", "parse_byte_ranges"]


def _digits(text: str) -> bool:
    """Only ASCII digits, or nothing (``int()`` would take signs, spaces, ``_`` and other
    scripts' digits)."""
    return text.isascii() and (text == "" or text.isdigit())


def parse_byte_ranges(value: str, size: int) -> list[tuple[int, int]] | None:
    """The ``(start, end)`` pairs (inclusive) a ``Range`` header asks for in an object of
    ``size`` bytes, in the order given; ``None`` when the header is not a valid bytes range
    set. A range starting at or past the end is kept as ``(start, start - 1)``: unsatisfiable."""
    unit, _, spec = value.partition("=")
    if unit.strip().lower() != "bytes" or not spec.strip():
        return None
    out: list[tuple[int, int]] = []
    for part in spec.split(","):
        part = part.strip(" \t")
        if not part:  # an empty list member (RFC 9110 §5.6.1) counts for nothing
            continue
        first, dash, last = part.partition("-")
        if not dash or not _digits(first + last) or (first == last == ""):
            return None  # signs, spaces, "_" or other digits: not a range (a full 200)
        if first == "":
            start, end = max(0, size - int(last)), size - 1
        else:
            start = int(first)
            end = min(int(last), size - 1) if last else size - 1
            if last and int(last) < start:
                return None
        out.append((start, end) if start < size else (start, start - 1))
    if not out:
        return None
    return out


def _in_order(ranges: list[tuple[int, int]]) -> bool:
    """Ascending, with no overlap (caching.md §1.14: others get the whole object)."""
    return all(s2 > max(e1, s1) for (s1, e1), (s2, _) in itertools.pairwise(ranges))


#: an object size no answer reaches, for judging a ``Range`` before the object is known
_ANY_SIZE = 2**62


def honoured_range(value: str) -> bool:
    """Whether the edge answers ``Range: value`` with part of the object (a valid bytes range
    set, ascending, no overlap); any other gets the whole object, so a miss asks the origin for
    the whole object (the origin's 400, 416 or its own merged 206 reached the viewer, where a
    hit gave the 200)."""
    ranges = parse_byte_ranges(value, _ANY_SIZE)
    if ranges is None or not _in_order(ranges):
        return False
    # several ranges with a suffix one (``-500``): whether they overlap depends on the object's
    # size, unknown before it comes (``0-600,-500`` does in 1,000 bytes): the whole is asked for
    return len(ranges) == 1 or not any(
        part.strip(" \t").startswith("-") for part in value.partition("=")[2].split(",")
    )


def _content_type(headers: RawHeaders) -> bytes | None:
    return raw_get(headers, b"content-type")


def byte_range_response(
    value: str, body: bytes, headers: RawHeaders
) -> tuple[int, bytes, RawHeaders]:
    """``(status, body, headers)`` for a ``Range`` request on a cached ``200`` object."""
    size = len(body)
    ranges = parse_byte_ranges(value, size)
    if ranges is None:
        return 200, body, headers
    satisfiable = [(s, e) for s, e in ranges if s <= e]
    if not _in_order(ranges):  # caching.md §1.14: out of order or overlapping: the whole
        return 200, body, headers
    rest = [(k, v) for k, v in headers if k.lower() != b"content-length"]
    if not satisfiable:
        rest.append((b"Content-Range", f"bytes */{size}".encode()))
        rest.append((b"Content-Length", b"0"))
        return 416, b"", rest
    if len(satisfiable) == 1:
        start, end = satisfiable[0]
        part = body[start : end + 1]
        rest.append((b"Content-Range", f"bytes {start}-{end}/{size}".encode()))
        rest.append((b"Content-Length", str(len(part)).encode()))
        return 206, part, rest
    # Several ranges: one multipart/byteranges body (RFC 9110 §14.6), each part with the
    # object's Content-Type and its own Content-Range. The boundary depends on the object
    # only, so repeated requests get identical bytes.
    boundary = "CloudFront-" + hashlib.sha1(body, usedforsecurity=False).hexdigest()[:24]
    ctype = _content_type(headers)
    chunks: list[bytes] = []
    for start, end in satisfiable:
        chunks.append(f"--{boundary}\r\n".encode())
        if ctype is not None:
            chunks.append(b"Content-Type: " + ctype + b"\r\n")
        chunks.append(f"Content-Range: bytes {start}-{end}/{size}\r\n\r\n".encode())
        chunks.append(body[start : end + 1])
        chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    multipart = b"".join(chunks)
    out = [(k, v) for k, v in rest if k.lower() != b"content-type"]
    out.append((b"Content-Type", f"multipart/byteranges; boundary={boundary}".encode()))
    out.append((b"Content-Length", str(len(multipart)).encode()))
    return 206, multipart, out
