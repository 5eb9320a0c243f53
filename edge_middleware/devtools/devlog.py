"""What the dev server prints: the behaviors banner and one readable line per request.

::

    GET /static/app.js  /static/*  VReq 0.3ms ORes 0.1ms  Miss  200  4.1ms
        viewer-request | checking token for /static/app.js

Colour (ANSI) only when the output is a terminal. Secret header values (``Authorization``,
``Cookie``, ``Set-Cookie``, tokens ...) and secret-looking query parameters never appear unless
``log_secrets`` is on: they are masked even in what handlers print, in errors and tracebacks
(``masking.py``, the same function as the access log and the inspector).

Abbreviations: ``VReq``/``OReq``/``ORes``/``VRes`` are the viewer-request, origin-request,
origin-response and viewer-response functions with their run time; a ``!`` after one means it
failed. The word after them is the ``X-Cache`` the viewer got (``Hit``, ``Miss``,
``RefreshHit``, ``LambdaGeneratedResponse``, ``LambdaValidationError`` ...).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from ..config.model import Behavior, EdgeConfig
from ..core.types import EVENT_TYPES
from ..doors.middleware import RequestRecord
from ..pipeline.effects import Outcome, TraceStep
from .forwarding import FORWARD_EVERYTHING, forwarded_lines, removes_something, warnings
from .masking import Masker, mask_query, masker_for
from .tracebacks import handler_traceback

__all__ = ["ConsoleLog", "banner", "format_request"]

ABBREVIATIONS = {
    "viewer-request": "VReq",
    "origin-request": "OReq",
    "origin-response": "ORes",
    "viewer-response": "VRes",
}

_RESET = "\033[0m"
_BOLD = "\033[1m"
_DIM = "\033[2m"
_RED = "\033[31m"
_GREEN = "\033[32m"
_YELLOW = "\033[33m"
_CYAN = "\033[36m"


def _paint(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{_RESET}" if color else text


def _status_color(status: int) -> str:
    if status >= 500:
        return _RED
    if status >= 400:
        return _YELLOW
    if status >= 300:
        return _CYAN
    return _GREEN


def cache_result(outcome: Outcome) -> str:
    """The ``X-Cache`` word the viewer saw (Hit, Miss, LambdaValidationError, Error ...): the
    header itself when it was sent, so a generated 401 reads LambdaGeneratedResponse."""
    for name, value in outcome.headers:
        if name.lower() == b"x-cache":
            return value.decode("latin-1").removesuffix(" from cloudfront").strip()
    if outcome.error is not None:
        return outcome.error.error_name
    return outcome.result_type if outcome.status < 400 else "Error"


def request_masker(record: RequestRecord, *, log_secrets: bool = False) -> Masker:
    """The one masker (masking.py) for everything shown about a request: the viewer's
    headers and query, what each handler received and returned, the response headers."""
    outcome = record.outcome
    documents: list[Any] = [record.viewer_request, outcome.headers, outcome.origin_request]
    for step in outcome.steps:
        documents.extend((step.event, step.result))
    return masker_for(
        *documents,
        queries=[str(record.viewer_request.get("querystring") or "")],
        show_secrets=log_secrets,
    )


#: control characters (C0, DEL, C1) a viewer or a handler may put in what the console prints
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")


def _visible(text: str) -> str:
    """``text`` for the console: control characters as escapes (``\\x1b``, ``\\r``, ``\\n``),
    so that a viewer's query or a handler's output cannot send terminal escapes (a cleared
    screen, a new title) or forge a line that looks like a request's."""
    return _CONTROLS.sub(lambda m: repr(m.group())[1:-1], text)


def _step_label(step: TraceStep) -> str:
    name = ABBREVIATIONS.get(step.event_type, step.event_type) + ("(page)" if step.page else "")
    label = f"{name} {step.duration * 1000:.1f}ms"
    return label + "!" if step.error else label


def _step_name(step: TraceStep) -> str:
    """The event type, and the custom error page a call was for."""
    return f"{step.event_type} (error page {step.page})" if step.page else step.event_type


def format_request(
    record: RequestRecord, *, color: bool = False, log_secrets: bool = False
) -> list[str]:
    """The request line, then indented error and captured-output lines."""
    outcome = record.outcome
    request = record.viewer_request
    mask = request_masker(record, log_secrets=log_secrets)
    path = request.get("uri", "/")
    if request.get("querystring"):
        query = str(request["querystring"])
        path += "?" + (query if log_secrets else mask_query(query))
    ran = [s for s in outcome.steps if s.ran]
    triggers = " ".join(_step_label(s) for s in ran) or "-"
    pattern = outcome.behavior.path_pattern if outcome.behavior is not None else "-"
    result = cache_result(outcome)
    result_color = _GREEN if "Hit" in result else _RED if outcome.error else _YELLOW
    line = "  ".join(
        (
            _paint(_visible(f"{request.get('method', '?')} {mask.text(path)}"), _BOLD, color),
            _paint(pattern, _DIM, color),
            triggers,
            _paint(result, result_color, color),
            _paint(str(outcome.status), _status_color(outcome.status), color),
            f"{record.duration * 1000:.1f}ms",
        )
    )
    lines = [line]
    for step in outcome.steps:  # an origin group's failover: which origin failed, and how
        if not step.ran and step.skipped_because.startswith("origin group failover"):
            page = f" (error page {_visible(step.page)})" if step.page else ""
            lines.append(_paint(f"    ~ {step.skipped_because}{page}", _YELLOW, color))
    for step in ran:
        if step.output:
            for out in step.output.rstrip("\n").splitlines():
                lines.append(f"    {_visible(_step_name(step))} | {_visible(mask.text(out))}")
        if step.error:
            where = f" (at {step.error_field})" if step.error_field else ""
            error = _visible(mask.text(step.error))
            name = _visible(_step_name(step))
            lines.append(_paint(f"    ! {name}: {error}{where}", _RED, color))
    if outcome.error is not None and not any(s.error and not s.page for s in ran):
        lines.append(_paint(f"    ! {_visible(mask.text(outcome.error.reason))}", _RED, color))
    trace = handler_traceback(outcome.error)
    if trace:
        lines.extend(
            _paint(f"      {_visible(line)}", _DIM, color) for line in mask.text(trace).splitlines()
        )
    return lines


def _ttls(behavior: Behavior) -> str:
    c = behavior.cache
    ttl = f"TTL {c.min_ttl}/{c.default_ttl}/{c.max_ttl}s"
    return ttl + " (caching disabled)" if c.max_ttl == 0 else ttl


def banner(
    config: EdgeConfig, *, indent: str = "", origins: Mapping[str, object] | None = None
) -> list[str]:
    """The behaviors in evaluation order with origin, TTLs (min/default/max), functions and
    what reaches the origin (query strings, cookies, headers), then plain-words warnings.
    ``origins``: the middleware's own (an origin served by a URL shows it)."""
    lines = [f"distribution {config.distribution_id} ({config.distribution_domain_name})"]
    if config.default_root_object:
        lines.append(f"default root object: /{config.default_root_object}")
    lines.append("behaviors, first match wins:")
    for i, behavior in enumerate(config.all_behaviors, 1):
        origin = config.origin_for(behavior)
        name = behavior.path_pattern + ("  (default)" if behavior is config.default else "")
        target = f"origin {origin.id} ({origin.domain_name})"
        url = (origins or {}).get(origin.id)
        if isinstance(url, str):  # serve --origin, origins={id: URL}
            target = f"origin {origin.id} ({url})"
        group = config.origin_group_for(behavior)
        if group is not None:
            codes = ",".join(map(str, group.failover_status_codes))
            target = f"origin group {group.id}: {target}, failover to {group.members[1]} on {codes}"
        lines.append(f"{indent}{i}. {name}  -> {target}  {_ttls(behavior)}")
        policy = behavior.headers_policy
        if policy is not None:
            lines.append(f"{indent}     response headers policy {policy.name or '(custom)'}")
        for event_type in EVENT_TYPES:
            trig = behavior.trigger(event_type)
            if trig is None:
                continue
            body = ""
            # (a CloudFront Function has no IncludeBody: it never sees the body)
            function = getattr(trig.handler, "sets_viewer_response_body", False) or (
                ":cloudfront::" in trig.display_name  # its ARN (check: not mapped)
            )
            if event_type.endswith("request") and not function:
                body = f"  IncludeBody={'true' if trig.include_body else 'false'}"
            lines.append(f"{indent}     {event_type:<16} {trig.display_name}{body}")
        lines.extend(f"{indent}     {line}" for line in forwarded_lines(behavior))
    if any(removes_something(b) for b in config.all_behaviors):
        lines.append(
            "CloudFront removes what a behavior does not forward; to forward everything, "
            f"give the behavior {FORWARD_EVERYTHING}"
        )
    found = warnings(config)
    if found:
        lines.append("warnings:")
        lines.extend(f"{indent}! {text}" for text in found)
    return lines


class ConsoleLog:
    """A request observer that prints :func:`format_request` lines (one lock, flushed)."""

    def __init__(
        self,
        out: TextIO,
        *,
        color: bool = False,
        log_secrets: bool = False,
        credentials: Callable[[str], str] | None = None,
    ) -> None:
        self.out = out
        self.color = color
        self.log_secrets = log_secrets
        #: Masks the credentials of the server's own URLs (--redis, --origin) in every line:
        #: the banner shows them, an origin's failure quotes them (masking.credentials_masker).
        self.credentials = credentials
        self._lock = threading.Lock()

    def _emit(self, lines: list[str]) -> None:
        text = "".join(line + "\n" for line in lines)
        if self.credentials is not None and not self.log_secrets:
            text = self.credentials(text)
        with self._lock:
            self.out.write(text)
            self.out.flush()

    def __call__(self, record: RequestRecord) -> None:
        self._emit(format_request(record, color=self.color, log_secrets=self.log_secrets))

    def message(self, text: str, *, error: bool = False) -> None:
        self._emit([_paint(text, _RED if error else _CYAN, self.color)])

    def write_banner(self, lines: list[str]) -> None:
        self._emit(lines)
