"""CloudFront's standard access log (the legacy W3C format, lambda-edge.md §7) as an observer.

Each finished request becomes one tab-separated line of the 33 fields in :data:`FIELDS`, after
the two header lines ``#Version: 1.0`` and ``#Fields: ...``, so tools written for real
CloudFront logs (Athena tables, GoAccess, awk one-liners) read ours too. Example::

    from edge_middleware.devtools.accesslog import AccessLog

    log = AccessLog("access.log")
    app = EdgeMiddleware(app, config=config)
    app.add_observer(log)

What CloudFront measures and we cannot (TLS, field-level encryption) is ``-``; byte counts
include the status line and headers as CloudFront's do, counted from what we send.
``time-to-first-byte`` is when the answer's head went to the server. A viewer that went while
the answer streamed (the server told: uvicorn's disconnect, a WSGI server closing the body
early) is ``Error``/``ClientCommError``; one that went before the answer is ``000`` only when
the door heard it (the app's own ``receive()``): nothing listens for the viewer while a
function or the origin works, so a viewer that left then is logged as served.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from typing import Any, TextIO

from ..core.headers import encode_value
from ..core.limits import DEFAULT_DISTRIBUTION_DOMAIN
from ..doors.middleware import RequestRecord
from ..exceptions import (
    ConfigurationError,
    FunctionExecutionError,
    FunctionValidationError,
    LambdaExecutionError,
    OriginError,
    OriginHeaderTooBigError,
    OriginTimeoutError,
    ViewerError,
)
from ..pipeline.effects import Outcome
from .masking import mask_query, masker_for

__all__ = ["FIELDS", "HEADER", "AccessLog", "format_record", "log_encode"]

#: The 33 fields in CloudFront's order.
FIELDS: tuple[str, ...] = (
    "date",
    "time",
    "x-edge-location",
    "sc-bytes",
    "c-ip",
    "cs-method",
    "cs(Host)",
    "cs-uri-stem",
    "sc-status",
    "cs(Referer)",
    "cs(User-Agent)",
    "cs-uri-query",
    "cs(Cookie)",
    "x-edge-result-type",
    "x-edge-request-id",
    "x-host-header",
    "cs-protocol",
    "cs-bytes",
    "time-taken",
    "x-forwarded-for",
    "ssl-protocol",
    "ssl-cipher",
    "x-edge-response-result-type",
    "cs-protocol-version",
    "fle-status",
    "fle-encrypted-fields",
    "c-port",
    "time-to-first-byte",
    "x-edge-detailed-result-type",
    "sc-content-type",
    "sc-content-len",
    "sc-range-start",
    "sc-range-end",
)

HEADER = "#Version: 1.0\n#Fields: " + " ".join(FIELDS) + "\n"


# §7: bytes 0-32, >= 127 and these characters are percent-encoded.
_SPECIAL = frozenset(b"<>\"#%{}|\\^~[]`' ")
_ENCODED = tuple(
    f"%{b:02X}" if b <= 32 or b >= 127 or b in _SPECIAL else chr(b) for b in range(256)
)


def log_encode(value: str | None) -> str:
    """A field value as CloudFront logs it: percent-encoded per §7, ``-`` when empty.

    Header values go back to their wire bytes first (ISO-8859-1, or UTF-8 for text a handler
    wrote), so a byte is encoded once however it was decoded. ``%`` itself is encoded, so an
    already percent-encoded path shows as ``%2520`` as in CloudFront's logs.
    """
    if not value:
        return "-"
    raw = encode_value(value)
    return "".join([_ENCODED[b] for b in raw])


def _header(headers: dict[str, Any], lower: str, sep: str = ",") -> str | None:
    entries = headers.get(lower)
    if not entries:
        return None
    return sep.join(e["value"] for e in entries)


def _raw_header(raw: Iterable[tuple[bytes, bytes]], lower: bytes) -> str | None:
    for name, value in raw:
        if name.lower() == lower:
            return value.decode("latin-1")
    return None


def _protocol_version(protocol: str) -> str:
    version = protocol.removeprefix("HTTP/") or "1.1"
    if "." not in version:
        version += ".0"  # ASGI says "2", CloudFront logs "HTTP/2.0"
    return f"HTTP/{version}"


def _result_types(outcome: Outcome) -> tuple[str, str]:
    """(x-edge-result-type, x-edge-detailed-result-type).

    decisions.md #49: Lambda failures are logged as ``Error``; any 4xx/5xx is ``Error``;
    CloudFront Functions' failures by their names (``FunctionExecutionError`` ...).
    """
    err = outcome.error
    if err is None:
        if outcome.status >= 400:
            return "Error", "Error"
        return outcome.result_type, outcome.result_type
    if isinstance(err, OriginTimeoutError):
        return "Error", "OriginCommError"
    if isinstance(err, OriginHeaderTooBigError):
        return "Error", "OriginHeaderTooBigError"
    if isinstance(err, OriginError):
        return "Error", "OriginConnectError" if "connect" in err.reason else "OriginError"
    if isinstance(err, ViewerError):
        if "method" in err.reason:
            return "Error", "InvalidRequestMethod"
        return "Error", "InvalidRequest"
    if isinstance(err, FunctionExecutionError | FunctionValidationError):
        # CloudFront Functions' errors are named in the log (docs/cloudfront-functions.md)
        return "Error", err.error_name
    if isinstance(err, LambdaExecutionError):
        return "Error", "Error"
    return "Error", "Error"


def _response_bytes(outcome: Outcome, sent: int, protocol: str) -> int:
    head = len(f"{_protocol_version(protocol)} {outcome.status} {outcome.reason}\r\n") + 2
    head += sum(len(k) + len(v) + 4 for k, v in outcome.headers)
    return head + sent


def _request_bytes(request: dict[str, Any], received: int, protocol: str) -> int:
    qs = request.get("querystring", "")
    line = f"{request.get('method', 'GET')} {request.get('uri', '/')}"
    line += f"?{qs}" if qs else ""
    size = len(line) + len(_protocol_version(protocol)) + 3 + 2
    for entries in request.get("headers", {}).values():
        for entry in entries:
            size += len(entry.get("key", "")) + len(entry["value"]) + 4
    return size + received


def _range(outcome: Outcome) -> tuple[str, str]:
    if outcome.status != 206:
        return "-", "-"
    value = _raw_header(outcome.headers, b"content-range") or ""
    unit, _, rest = value.partition(" ")
    first, _, last = rest.partition("/")[0].partition("-")
    if unit != "bytes" or not first.isdigit() or not last.isdigit():
        return "-", "-"
    return first, last


def _referer(value: str, log_secrets: bool) -> str:
    if log_secrets or "?" not in value:
        return value
    base, _, query = value.partition("?")
    return f"{base}?{mask_query(query)}"


def format_record(
    record: RequestRecord,
    *,
    domain_name: str = DEFAULT_DISTRIBUTION_DOMAIN,
    log_secrets: bool = False,
) -> str:
    """One log line (no newline) for a finished request; the 33 fields of :data:`FIELDS`.

    :param domain_name: the distribution's ``*.cloudfront.net`` name (``cs(Host)``).
    :param log_secrets: log the ``Cookie`` header; otherwise ``cs(Cookie)`` is ``-``.
    """
    outcome = record.outcome
    request = record.viewer_request
    headers: dict[str, Any] = request.get("headers", {})
    finished = time.gmtime(record.finished_at)
    taken = f"{record.duration:.3f}"
    result, detailed = _result_types(outcome)
    status = f"{outcome.status:03d}"
    if record.viewer_left:  # it went before the answer (000) or while it was sent
        result, detailed = "Error", "ClientCommError"
        if record.viewer_left == "before":
            status = "000"
    first_byte = taken if record.first_byte is None else f"{record.first_byte:.3f}"
    cookie = _header(headers, "cookie", "; ") if log_secrets else None
    # the one masking function (masking.py): secret query parameters, values in the Referer
    mask = masker_for(
        request, queries=[str(request.get("querystring") or "")], show_secrets=log_secrets
    )
    query = request.get("querystring")
    if isinstance(query, str) and not log_secrets:
        query = mask_query(query)
    referer = _header(headers, "referer")
    range_start, range_end = _range(outcome)
    values = (
        time.strftime("%Y-%m-%d", finished),
        time.strftime("%H:%M:%S", finished),
        _raw_header(outcome.headers, b"x-amz-cf-pop"),
        str(_response_bytes(outcome, record.bytes_sent, record.protocol)),
        request.get("clientIp"),
        request.get("method"),
        domain_name,
        request.get("uri"),
        status,
        mask.text(_referer(referer, log_secrets)) if referer else referer,
        mask.text(_header(headers, "user-agent") or "") or None,
        query,
        cookie,
        result,
        outcome.request_id,
        _header(headers, "host"),
        record.scheme,
        str(_request_bytes(request, record.bytes_received, record.protocol)),
        taken,
        _header(headers, "x-forwarded-for", ", "),
        None,  # ssl-protocol: TLS ends before the app
        None,  # ssl-cipher
        result,
        _protocol_version(record.protocol),
        None,  # fle-status
        None,  # fle-encrypted-fields
        str(record.client_port) if record.client_port else None,
        first_byte,  # time-to-first-byte: when the head was sent
        detailed,
        _raw_header(outcome.headers, b"content-type"),
        _raw_header(outcome.headers, b"content-length"),
        range_start,
        range_end,
    )
    return "\t".join(log_encode(v) for v in values)


class AccessLog:
    """An observer writing CloudFront standard access log lines to a file.

    Thread-safe (one lock around each write) and flushed after every line, so ``tail -f``
    shows requests as they finish. The header lines are written when the file is empty.

    :param file: a path (opened for appending) or an open text stream.
    :param domain_name: the distribution's ``*.cloudfront.net`` name for ``cs(Host)``.
    :param log_secrets: log ``Cookie`` values (off by default; the field is ``-``).

    Example::

        log = AccessLog("access.log", domain_name=config.distribution_domain_name)
        middleware.add_observer(log)
        ...
        log.close()
    """

    def __init__(
        self,
        file: str | os.PathLike[str] | TextIO,
        *,
        domain_name: str = DEFAULT_DISTRIBUTION_DOMAIN,
        log_secrets: bool = False,
    ) -> None:
        self.domain_name = domain_name
        self.log_secrets = log_secrets
        self._lock = threading.Lock()
        self._owned = isinstance(file, str | os.PathLike)
        if isinstance(file, str | os.PathLike):
            try:
                self._stream: TextIO = open(  # noqa: SIM115 - closed in close()
                    file, "a", encoding="utf-8", newline="\n"
                )
            except OSError as exc:  # a missing directory, a directory, no permission
                raise ConfigurationError(
                    "access log", os.fspath(file), f"a file that can be written ({exc.strerror})"
                ) from None
        else:
            self._stream = file
        try:
            empty = self._stream.tell() == 0
        except (OSError, ValueError):
            empty = True
        if empty:
            self._write(HEADER)

    def _write(self, text: str) -> None:
        with self._lock:
            self._stream.write(text)
            self._stream.flush()

    def __call__(self, record: RequestRecord) -> None:
        if record.outcome.oversized:  # CloudFront does not log these (lambda-edge.md §3.2, §7)
            return
        line = format_record(record, domain_name=self.domain_name, log_secrets=self.log_secrets)
        self._write(line + "\n")

    def close(self) -> None:
        with self._lock:
            if self._owned and not self._stream.closed:
                self._stream.close()
