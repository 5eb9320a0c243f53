"""The ``edge-middleware`` command (also ``python -m edge_middleware``).

::

    edge-middleware serve APP --config FILE [--host 127.0.0.1] [--port 8000] [--reload]
                              [--redis URL] [--access-log FILE] [--log-secrets]
                              [--policies FILE] [--tls | --cert FILE --key FILE]
                              [--trust-forwarded-proto] [--edge-token T] [--edge-allow-proxied]
    edge-middleware serve --origin URL --config FILE ...        (proxy-only, no APP)
    edge-middleware invoke HANDLER (--event FILE [--event-type TYPE] | --event-type TYPE --path P)
                           [--runtime cloudfront-js-2.0|nodejs20.x]   (HANDLER may be a .js)
    edge-middleware check FILE [--handler ARN=module:function ...] [--policies FILE ...]
    edge-middleware invalidate PATH... (--redis URL | --server http://127.0.0.1:8000)
    edge-middleware --version

Exit codes: 0 success; 1 bad arguments, bad configuration, a port that cannot be bound
(before "listening" is printed) or a failed command; for ``invoke`` 2 when CloudFront would
reject the handler's result (502 LambdaValidationError) and 3 when the handler raised or timed
out (503 LambdaExecutionError).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from ..core.types import EVENT_TYPES
from ..exceptions import (
    CloudFrontError,
    ConfigurationError,
    EventError,
    HandlerLoadError,
    LambdaExecutionError,
    LambdaValidationError,
)

__all__ = ["main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID_RESULT = 2
EXIT_HANDLER_RAISED = 3


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 1: ``invoke`` gives 2 and 3 their own meanings."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_FAILED, f"{self.prog}: error: {message}\n")


def _mapping(values: Sequence[str] | None, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or ():
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise ConfigurationError(option, item, "ARN_OR_NAME=module:function")
        out[key.strip()] = value.strip()
    return out


def _fail(message: str, code: int = EXIT_FAILED) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


# -- serve -----------------------------------------------------------------------------------


def _handler_failures_shown_with_the_request(record: logging.LogRecord) -> bool:
    """A handler's exception is printed under its request line, masked and with the
    handler's own frames (devlog.py); its unmasked log record would repeat it on stderr."""
    return record.name != "edge_middleware.handlers"


def _serve(args: argparse.Namespace) -> int:
    from ..core import capture
    from .server import DevServer, ServeOptions

    # Handler output is shown under its request line, not interleaved with other requests'.
    capture.install(passthrough=False)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not args.log_secrets:
        for handler in logging.getLogger().handlers:
            handler.addFilter(_handler_failures_shown_with_the_request)
    if args.reload:
        sys.dont_write_bytecode = True  # a reloaded module must be read from its source
    options = ServeOptions(
        app=args.app,
        tls=args.tls,
        cert=args.cert,
        key=args.key,
        trust_forwarded_proto=args.trust_forwarded_proto,
        origin=args.origin,
        policies=args.policies,
        edge_token=args.edge_token or os.environ.get("EDGE_MIDDLEWARE_TOKEN") or None,
        edge_allow_proxied=args.edge_allow_proxied,
        config=args.config,
        handlers=_mapping(args.handler, "--handler"),
        host=args.host,
        port=args.port,
        reload=args.reload,
        reload_interval=args.reload_interval,
        redis=args.redis,
        access_log=args.access_log,
        log_secrets=args.log_secrets,
        interface=args.interface,
        logical_id=args.logical_id,
        inspector=not args.no_inspector,
    )
    try:
        server = DevServer(options)
    except (ConfigurationError, ImportError) as exc:
        return _fail(str(exc))
    try:
        server.serve()
    except OSError as exc:  # the port is taken, the address is not ours ...
        return _fail(f"cannot serve on {args.host}:{args.port}: {exc}")
    return EXIT_OK


# -- invoke ----------------------------------------------------------------------------------


def _read_body(value: str | None) -> bytes | None:
    if value is None:
        return None
    if value.startswith("@"):
        return Path(value[1:]).read_bytes()
    return value.encode("utf-8")


def _build_event(args: argparse.Namespace) -> dict[str, Any]:
    from ..testing import EventBuilder

    if args.event is not None:
        if args.path:
            raise ConfigurationError("--event", args.event, "no --path with it")
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
    if not args.event_type:
        raise ConfigurationError("--event-type", None, f"one of {', '.join(EVENT_TYPES)}")
    headers: list[tuple[str, str]] = []
    for item in args.header or ():
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise ConfigurationError("--header", item, "'Name: value'")
        headers.append((name.strip(), value.strip()))
    path = args.path or "/"
    if args.querystring:
        path = f"{path.partition('?')[0]}?{args.querystring.removeprefix('?')}"
    is_response = args.event_type.endswith("response")
    body = _read_body(args.body)
    if is_response and body is not None:
        raise ConfigurationError("--body", args.body, "no body for a response event")
    kwargs: dict[str, Any] = {"method": args.method, "headers": headers or None}
    if is_response:
        kwargs["status"] = args.status
        if args.response_header:
            kwargs["response_headers"] = [
                (n.strip(), v.strip())
                for n, _, v in (h.partition(":") for h in args.response_header)
            ]
    else:
        kwargs["body"] = body
        if args.include_body:
            kwargs["include_body"] = True
    try:
        return EventBuilder().event(args.event_type, path, **kwargs)
    except ValueError as exc:
        raise ConfigurationError("event", path, str(exc)) from exc


_NOTHING = object()


def _not_json(value: Any) -> str:
    """A value of a rejected result that JSON cannot hold (bytes, objects): shown as repr."""
    return f"<not JSON: {type(value).__name__}> {value!r}"


def _invoke(args: argparse.Namespace) -> int:
    from ..testing.trigger import _Prepared

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        event = _build_event(args)
        from ..core.handlers import load_handler
        from ..js.loading import JS_SUFFIXES, load_js

        if args.handler.endswith(JS_SUFFIXES):  # a CloudFront Function or a Node.js handler
            handler: Any = load_js(args.handler, args.runtime)
        else:
            handler = load_handler(args.handler, "HANDLER")
    except (ConfigurationError, EventError, OSError) as exc:
        return _fail(str(exc))
    include_body = True if args.include_body else None
    result: dict[str, Any] | None = None
    returned: Any = _NOTHING
    error: CloudFrontError | None = None
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


# -- check -----------------------------------------------------------------------------------


def _placeholder(event: dict[str, Any], context: Any) -> None:
    """Stands in for a function that has no local handler in ``check``."""
    raise RuntimeError("edge-middleware check: no local handler for this function")


def _load_for_check(
    path: str,
    handlers: dict[str, str],
    logical_id: str | None,
    policy_files: Sequence[str] | None = None,
) -> tuple[Any, list[str], list[tuple[str, str]], str]:
    """Load with every unmapped function given a placeholder and every unknown policy id a
    default policy, so the structure is checked; returns them too, and the error the
    middleware would raise for the first unmapped function."""
    from ..config.loaders import load_config, read_source
    from ..config.loaders.policy_files import missing_policy_ids, read_policies
    from ..config.model import CachePolicy, OriginRequestPolicy
    from ..config.response_headers import ResponseHeadersPolicy

    doc = read_source(path)
    policies: dict[str, Any] = dict(read_policies(policy_files)) if policy_files else {}
    missing_policies = missing_policy_ids(doc, policies)
    for kind, policy_id in missing_policies:
        if kind == "CachePolicyId":
            policies[policy_id] = CachePolicy()
        elif kind == "OriginRequestPolicyId":
            policies[policy_id] = OriginRequestPolicy()
        elif kind == "ResponseHeadersPolicyId":
            policies[policy_id] = ResponseHeadersPolicy()
    mapping: dict[str, Any] = dict(handlers)
    missing: list[str] = []
    first_error = ""
    while True:
        try:
            config = load_config(
                path, handlers=mapping, logical_id=logical_id, policies=policies or None
            )
            return config, missing, missing_policies, first_error
        except ConfigurationError as exc:
            value = exc.value
            retry = (
                not isinstance(exc, HandlerLoadError)
                and "handler" in exc.expected
                and isinstance(value, str)
                and value not in mapping
                and len(missing) < 1000
            )
            if not retry:
                raise
            first_error = first_error or str(exc)
            mapping[value] = _placeholder
            missing.append(value)


def _config_error(file: str, exc: ConfigurationError) -> str:
    """The file named once, and the problem in its own words (a JSON error is the problem)."""
    if exc.field == str(Path(file)) and str(exc.expected).startswith("valid "):
        kind = str(exc.expected).removeprefix("valid ").upper()
        return f"{file} is not valid {kind}: {exc.value}"
    if exc.field == "source" and exc.value in (file, str(Path(file))):
        return f"{file}: cannot use it, expected {exc.expected}"
    if exc.field == str(Path(file)):
        return f"{file}: {exc.value}; expected {exc.expected}"
    return f"{file}: {exc}"


def _check(args: argparse.Namespace) -> int:
    from ..pipeline import Pipeline
    from .devlog import banner

    try:
        config, missing, missing_policies, unmapped_error = _load_for_check(
            args.file, _mapping(args.handler, "--handler"), args.logical_id, args.policies
        )
        Pipeline(config)  # imports every "module:function" handler
    except ConfigurationError as exc:
        return _fail(_config_error(args.file, exc))
    complete = not missing_policies and not missing
    print(f"{args.file}: OK" if complete else f"{args.file}: structure OK")
    for line in banner(config, indent="  "):
        print(line)
    if missing:
        print("functions without a local handler (map them with --handler ARN=module:function):")
        for name in missing:
            print(f"  {name}")
        # The middleware refuses such a config; check says so with the same text.
        _fail(unmapped_error)
    if missing_policies:
        print(
            "policies that are neither managed nor in --policies (checked with defaults; get "
            "them with aws cloudfront get-cache-policy / get-origin-request-policy / "
            "get-response-headers-policy --id ID > FILE, then --policies FILE):"
        )
        for kind, policy_id in missing_policies:
            print(f"  {kind} {policy_id}")
    return EXIT_OK if complete else EXIT_FAILED


# -- invalidate ------------------------------------------------------------------------------


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _invalidate(args: argparse.Namespace) -> int:
    paths: list[str] = args.paths
    bad = [p for p in paths if not p.startswith("/")]
    if bad:
        return _fail(f"paths must start with '/': {bad}")
    if bool(args.redis) == bool(args.server):
        return _fail("give exactly one of --redis URL or --server URL")
    if args.redis:
        from ..cache.redis import storage_from_url

        warnings = _Warnings()
        cache_logger = logging.getLogger("edge_middleware.cache")
        cache_logger.addHandler(warnings)
        try:
            storage = storage_from_url(args.redis)
            count = storage.invalidate(paths)
            close = getattr(storage, "close", None)
            if close is not None:
                close()
        except (ConfigurationError, ImportError) as exc:
            return _fail(str(exc))
        finally:
            cache_logger.removeHandler(warnings)
        if warnings.messages:
            return _fail("; ".join(warnings.messages))
        print(f"invalidated {count} cached object(s) for {' '.join(paths)}")
        return EXIT_OK
    from .server import INVALIDATE_PATH

    url = args.server.rstrip("/") + INVALIDATE_PATH
    headers = {"Content-Type": "application/json"}
    token = args.edge_token or os.environ.get("EDGE_MIDDLEWARE_TOKEN")
    if token:
        headers["X-Edge-Token"] = token
    request = urllib.request.Request(
        url, data=json.dumps(paths).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=args.timeout) as response:
            doc = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return _fail(f"{url}: {exc.code} {exc.read().decode('utf-8', 'replace')}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return _fail(f"{url}: {exc}")
    print(f"invalidated {doc.get('invalidated', 0)} cached object(s) for {' '.join(paths)}")
    return EXIT_OK


# -- the parser ------------------------------------------------------------------------------


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("edge-middleware")
    except PackageNotFoundError:  # run from a source tree that is not installed
        from .. import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="edge-middleware",
        description="Run CloudFront Lambda@Edge handlers and the edge cache locally.",
        epilog="Exit codes: 0 ok, 1 error; invoke: 2 invalid result (502), 3 handler raised (503).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    serve = sub.add_parser("serve", help="serve an ASGI/WSGI app behind the edge")
    serve.add_argument(
        "app",
        metavar="APP",
        nargs="?",
        help="module:attribute of the ASGI or WSGI app (none with --origin)",
    )
    serve.add_argument(
        "--config", help="distribution JSON, CloudFormation template, TOML, or module:attribute"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--reload", action="store_true", help="rebuild on changes to the config or handlers"
    )
    serve.add_argument("--reload-interval", type=float, default=0.5, help=argparse.SUPPRESS)
    serve.add_argument("--redis", metavar="URL", help="cache in Redis (RedisStorage)")
    serve.add_argument("--access-log", metavar="FILE", help="CloudFront standard access log")
    serve.add_argument(
        "--log-secrets", action="store_true", help="log Authorization/Cookie values (off)"
    )
    serve.add_argument(
        "--handler", action="append", metavar="ARN=module:function", help="map a function ARN"
    )
    serve.add_argument(
        "--interface", choices=("auto", "asgi", "wsgi"), default="auto", help="default: detect"
    )
    serve.add_argument("--logical-id", help="which distribution of a CloudFormation template")
    serve.add_argument(
        "--no-inspector", action="store_true", help="no request inspector at /_edge/ (on)"
    )
    serve.add_argument(
        "--origin",
        metavar="URL",
        help="proxy-only: no APP, every origin is this running server (http://127.0.0.1:9000)",
    )
    serve.add_argument(
        "--policies",
        action="append",
        metavar="FILE",
        help="aws cloudfront get-/list-*-policies output for custom policy ids (repeatable)",
    )
    serve.add_argument(
        "--tls", action="store_true", help="HTTPS with a loopback certificate made on first use"
    )
    serve.add_argument("--cert", metavar="FILE", help="HTTPS with this certificate (PEM)")
    serve.add_argument("--key", metavar="FILE", help="the private key of --cert (PEM)")
    serve.add_argument(
        "--trust-forwarded-proto",
        action="store_true",
        help="a loopback client's X-Forwarded-Proto: https makes the viewer HTTPS",
    )
    serve.add_argument(
        "--edge-token",
        metavar="TOKEN",
        help="/_edge/ and /_edge/invalidate want this token (or $EDGE_MIDDLEWARE_TOKEN)",
    )
    serve.add_argument(
        "--edge-allow-proxied",
        action="store_true",
        help="let /_edge/ answer requests with Forwarded/X-Forwarded-For (a local proxy)",
    )
    serve.set_defaults(run=_serve)

    invoke = sub.add_parser("invoke", help="run one handler on one event")
    invoke.add_argument(
        "handler", metavar="HANDLER", help="module:function, or a .js file (JavaScript)"
    )
    invoke.add_argument(
        "--runtime",
        help="for a .js HANDLER: cloudfront-js-1.0, cloudfront-js-2.0 or nodejs20.x "
        "(default: nodejs20.x when the file exports its handler, else cloudfront-js-2.0)",
    )
    invoke.add_argument("--event", metavar="FILE", help="a full CloudFront event (JSON)")
    invoke.add_argument(
        "--event-type",
        choices=EVENT_TYPES,
        help="build an event of this type; with --event, the type of an event without "
        "config.eventType (default: inferred from its shape)",
    )
    invoke.add_argument("--path", help="the request path, may include ?query")
    invoke.add_argument("--method", default="GET")
    invoke.add_argument(
        "--header", action="append", metavar="'Name: value'", help="request header (repeatable)"
    )
    invoke.add_argument("--querystring", help="the query string (without '?')")
    invoke.add_argument("--status", type=int, default=200, help="response status (response events)")
    invoke.add_argument(
        "--response-header", action="append", metavar="'Name: value'", help="response header"
    )
    invoke.add_argument("--body", help="request body text, or @FILE")
    invoke.add_argument("--include-body", action="store_true", help="the IncludeBody option")
    invoke.set_defaults(run=_invoke)

    check = sub.add_parser("check", help="validate a config file and print its behaviors")
    check.add_argument("file", metavar="FILE")
    check.add_argument(
        "--handler", action="append", metavar="ARN=module:function", help="map a function ARN"
    )
    check.add_argument("--logical-id", help="which distribution of a CloudFormation template")
    check.add_argument(
        "--policies",
        action="append",
        metavar="FILE",
        help="aws cloudfront get-/list-*-policies output for custom policy ids (repeatable)",
    )
    check.set_defaults(run=_check)

    inv = sub.add_parser("invalidate", help="invalidate cached paths (/images/* or exact)")
    inv.add_argument("paths", nargs="+", metavar="PATH")
    inv.add_argument("--redis", metavar="URL", help="the Redis storage the servers share")
    inv.add_argument("--server", metavar="URL", help="a running dev server, http://127.0.0.1:8000")
    inv.add_argument(
        "--edge-token", metavar="TOKEN", help="the dev server's --edge-token (or the env var)"
    )
    inv.add_argument("--timeout", type=float, default=10.0, help=argparse.SUPPRESS)
    inv.set_defaults(run=_invalidate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``edge-middleware`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    # As with ``python -m``: modules next to where the command runs are importable.
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        code: int = args.run(args)
    except ConfigurationError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # stdout closed early (``| head``): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    return code
