"""``edge-middleware invoke``: run one handler on one event, print the event and the validated
result as JSON, and exit 2 (result CloudFront would reject) or 3 (handler raised or timed out)."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from pathlib import Path
from typing import Any

from ..core.types import EVENT_TYPES
from ..exceptions import (
    CloudFrontError,
    ConfigurationError,
    EventError,
    LambdaExecutionError,
    LambdaValidationError,
)
from .cli_base import EXIT_FAILED, EXIT_HANDLER_RAISED, EXIT_INVALID_RESULT, EXIT_OK, _fail


def _read_body(value: str | None) -> bytes | None:
    if value is None:
        return None
    if value.startswith("@"):
        return Path(value[1:]).read_bytes()
    return value.encode("utf-8")


#: The options that build an event, as ``argparse`` names them, and how the user spells them:
#: none of them is used with ``--event`` (the file is the whole event).
_BUILDING = {
    "path": "--path",
    "method": "--method",
    "header": "--header",
    "querystring": "--querystring",
    "status": "--status",
    "response_header": "--response-header",
    "body": "--body",
}


def _headers(values: list[str] | None, option: str) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for item in values or ():
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise ConfigurationError(option, item, "'Name: value'")
        headers.append((name.strip(), value.strip()))
    return headers


def _read_event(args: argparse.Namespace) -> dict[str, Any]:
    from ..testing import EventBuilder

    for attr, option in _BUILDING.items():
        if getattr(args, attr) is not None:
            raise ConfigurationError("--event", args.event, f"no {option} with it")
    try:
        doc = json.loads(Path(args.event).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError("--event", args.event, f"a readable file ({exc})") from exc
    except ValueError as exc:
        raise ConfigurationError("--event", args.event, f"a JSON file ({exc})") from exc
    if not isinstance(doc, dict):
        raise ConfigurationError("--event", args.event, "a JSON object")
    # Events from `sam local generate-event cloudfront` have no config.eventType: it comes
    # from --event-type or the event's shape, and what CloudFront always sends is filled in.
    return EventBuilder().complete(doc, args.event_type)  # EventError names the field


def _build_event(args: argparse.Namespace) -> dict[str, Any]:
    from ..testing import EventBuilder

    if args.event is not None:
        return _read_event(args)
    if not args.event_type:
        raise ConfigurationError(
            "--event-type", None, f"--event FILE, or --event-type {' | '.join(EVENT_TYPES)}"
        )
    headers = _headers(args.header, "--header")
    response_headers = _headers(args.response_header, "--response-header")
    path = args.path or "/"
    if args.querystring:
        path = f"{path.partition('?')[0]}?{args.querystring.removeprefix('?')}"
    is_response = args.event_type.endswith("response")
    body = _read_body(args.body)
    if is_response and body is not None:
        raise ConfigurationError("--body", args.body, "no body for a response event")
    if not is_response:
        for value, option in (
            (args.status, "--status"),
            (args.response_header and args.response_header[0], "--response-header"),
        ):
            if value is not None:
                raise ConfigurationError(option, value, f"no {option} for a request event")
    kwargs: dict[str, Any] = {"method": args.method or "GET", "headers": headers or None}
    if is_response:
        kwargs["status"] = 200 if args.status is None else args.status
        if response_headers:
            kwargs["response_headers"] = response_headers
    else:
        kwargs["body"] = body
        if args.include_body:
            kwargs["include_body"] = True
    try:
        return EventBuilder().event(args.event_type, path, **kwargs)
    except EventError as exc:  # the option that built the refused field, and its value
        option, value = {
            "method": ("--method", args.method),
            "status": ("--status", args.status),
            "body": ("--body", args.body),
        }.get(exc.field, ("--path", path))
        expected = exc.expected.rpartition(", not ")[0] or exc.expected  # the value is named
        raise ConfigurationError(option, value, expected) from exc


_NOTHING = object()


def _not_json(value: Any) -> str:
    """A value of a rejected result that JSON cannot hold (bytes, objects): shown as repr."""
    return f"<not JSON: {type(value).__name__}> {value!r}"


def _trace(prepared: Any) -> dict[str, Any]:
    """What a handler object left in its context's trace (a CloudFront Function: its own
    event and result, which it validates itself), or nothing (``None``: never prepared)."""
    return (prepared.runner.trace or {}) if prepared is not None else {}


def _invoke(args: argparse.Namespace) -> int:
    from ..testing.trigger import _Prepared

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        event = _build_event(args)
        from ..core.handlers import load_handler
        from ..js.loading import JS_SUFFIXES, load_js

        if args.handler.endswith(JS_SUFFIXES):  # a CloudFront Function or a Node.js handler
            handler: Any = load_js(args.handler, args.runtime)
        elif ":" not in args.handler and "." in args.handler:
            # Lambda's Handler setting for Node.js ("handlers/auth.handler"), as serve takes it
            from ..js import NodeHandler

            handler = NodeHandler(args.handler)
        else:
            handler = load_handler(args.handler, "HANDLER")
    except (ConfigurationError, EventError, OSError) as exc:
        return _fail(str(exc))
    only = getattr(handler, "event_types", None)  # a CloudFront Function: viewer events only
    event_type = event.get("Records", [{}])[0].get("cf", {}).get("config", {}).get("eventType")
    if only is not None and event_type not in only:
        return _fail(
            f"{args.handler}: a CloudFront Function runs on {' and '.join(only)}, not {event_type}"
        )
    include_body = True if args.include_body else None
    result: dict[str, Any] | None = None
    returned: Any = _NOTHING
    error: CloudFrontError | None = None
    prepared: Any = None
    # What the handler prints goes to stderr, so stdout stays one JSON document.
    with contextlib.redirect_stdout(sys.stderr):
        try:
            prepared = _Prepared(handler, event, None, include_body)
            returned = prepared.runner.call_sync(
                prepared.event, prepared.request_id, prepared.timeout
            )
            result = prepared.finish(returned)
        except CloudFrontError as exc:
            error = exc
        except ValueError as exc:  # not a CloudFront event
            return _fail(str(exc))
    rename = getattr(handler, "validation_error", None)  # FunctionValidationError
    if error is not None and rename is not None:
        error = rename(error)
    out: dict[str, Any] = {"event": event}
    if result is not None:
        out["result"] = result
    elif isinstance(error, LambdaValidationError) and returned is not _NOTHING:
        out["rejected_result"] = returned  # what the handler returned, as CloudFront got it
    elif isinstance(error, LambdaValidationError) and "result" in (shown := _trace(prepared)):
        out["rejected_result"] = shown["result"]  # a CloudFront Function's, in its own shape
    print(json.dumps(out, indent=2, ensure_ascii=False, default=_not_json))
    if error is None:
        return EXIT_OK
    print(f"{error.error_name}: {error.reason}", file=sys.stderr)
    if error.field:
        print(f"  field: {error.field}", file=sys.stderr)
    if isinstance(error, LambdaValidationError):
        return EXIT_INVALID_RESULT
    if isinstance(error, LambdaExecutionError):
        return EXIT_HANDLER_RAISED
    return EXIT_FAILED
