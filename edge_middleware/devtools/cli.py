"""The ``edge-middleware`` command (also ``python -m edge_middleware``).

::

    edge-middleware serve APP --config FILE [--host 127.0.0.1] [--port 8000] [--reload]
                              [--redis URL] [--access-log FILE] [--log-secrets]
                              [--policies FILE] [--kvs STORE=FILE] [--tls | --cert F --key F]
                              [--trust-forwarded-proto] [--edge-token T] [--edge-allow-proxied]
                              [--threads N]   (a WSGI app's server threads, 32)
    edge-middleware serve --origin URL --config FILE ...        (proxy-only, no APP)
    edge-middleware invoke HANDLER (--event FILE [--event-type TYPE] | --event-type TYPE --path P)
                           [--runtime cloudfront-js-2.0|nodejs20.x]   (HANDLER may be a .js)
    edge-middleware check FILE [--handler ARN=module:function ...] [--policies FILE ...]
                          [--kvs STORE=FILE ...]
    edge-middleware invalidate PATH... (--redis URL | --server http://127.0.0.1:8000)
    edge-middleware --version

Exit codes: 0 success (``serve``: also after SIGINT or SIGTERM stopped it); 1 bad arguments,
bad configuration (any ``EdgeError``, printed as one ``error:`` line), a port that cannot be
bound (before "listening" is printed) or a failed command; for ``invoke`` 2 when CloudFront would
reject the handler's result (502 LambdaValidationError) and 3 when the handler raised or timed
out (503 LambdaExecutionError). Ctrl+C outside ``serve``'s clean shutdown exits 130.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from ..core.types import EVENT_TYPES
from ..exceptions import ConfigurationError, EdgeError

# The invoke and check commands are modules of their own (cli_invoke.py, cli_check.py); what the
# commands share (exit codes, --handler mappings, error printing) is in cli_base.py.
from .cli_base import (
    EXIT_FAILED,
    EXIT_HANDLER_RAISED,  # noqa: F401 - every exit code stays importable from here
    EXIT_INVALID_RESULT,  # noqa: F401
    EXIT_OK,
    _fail,
    _mapping,
)
from .cli_check import _check
from .cli_invoke import _invoke

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 1: ``invoke`` gives 2 and 3 their own meanings."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_FAILED, f"{self.prog}: error: {message}\n")


# -- serve -----------------------------------------------------------------------------------


def _handler_failures_shown_with_the_request(record: logging.LogRecord) -> bool:
    """A handler's exception is printed under its request line, masked and with the
    handler's own frames (devlog.py); its unmasked log record would repeat it on stderr."""
    return record.name != "edge_middleware.handlers"


class _CredentialsMasked(logging.Filter):
    """The credentials of serve's own URLs (--redis, --origin) masked in what is logged: the
    proxy's warning for a failed origin quotes its URL (masking.credentials_masker)."""

    def __init__(self, mask: Callable[[str], str]) -> None:
        super().__init__()
        self.mask = mask

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.mask(record.getMessage()), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        return True


def _serve(args: argparse.Namespace) -> int:
    from ..core import capture
    from .masking import credentials_masker
    from .server import DevServer, ServeOptions

    # Handler output is shown under its request line, not interleaved with other requests'.
    capture.install(passthrough=False)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not args.log_secrets:
        masked = _CredentialsMasked(credentials_masker(args.redis, args.origin))
        for handler in logging.getLogger().handlers:
            handler.addFilter(_handler_failures_shown_with_the_request)
            handler.addFilter(masked)
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
        key_value_stores=_mapping(args.kvs, "--kvs"),
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
        threads=args.threads,
    )
    if not 0 <= args.port <= 65535:
        return _fail(f"--port: {args.port} is invalid; expected 0-65535")
    try:
        server = DevServer(options)
    except (ConfigurationError, ImportError) as exc:
        return _fail(str(exc))
    try:
        server.serve()
    except OSError as exc:  # the port is taken, the address is not ours ...
        return _fail(f"cannot serve on {args.host}:{args.port}: {exc}")
    return EXIT_OK


# -- invalidate ------------------------------------------------------------------------------


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        failure = getattr(record, "edge_redis_failure", None)
        if failure is not None:
            # RedisStorage's outage warning speaks to a server ("serving without the shared
            # cache, retrying"): a one-shot command served nothing and recorded nothing
            url, cause = failure
            self.messages.append(f"could not record the invalidation in {url}: {cause}")
        else:
            self.messages.append(record.getMessage())


def _prefix_used(storage: object) -> bool:
    """Whether any key lives under the Redis storage's prefix (a mistyped prefix or database
    reached nothing, and stray keys were made there). Redis unreachable: True (the
    invalidation then says why it failed)."""
    from ..cache.redis import RedisStorage

    if not isinstance(storage, RedisStorage):
        return True
    import redis

    from ..cache.redis_ops import _glob_escape

    glob = _glob_escape(storage.prefix + ":") + "*"
    try:
        with redis.Redis.from_url(storage.url, socket_timeout=storage.socket_timeout) as client:
            return next(iter(client.scan_iter(match=glob, count=1000)), None) is not None
    except (redis.RedisError, OSError):
        return True


def _invalidate(args: argparse.Namespace) -> int:
    paths: list[str] = args.paths
    bad = [p for p in paths if not p.startswith("/")]
    if bad:
        return _fail(f"paths must start with '/': {bad}")
    if bool(args.redis) == bool(args.server):
        return _fail("give exactly one of --redis URL or --server URL")
    if args.redis:
        from ..cache.redis import storage_from_url
        from ..cache.redis_options import redact

        warnings = _Warnings()
        cache_logger = logging.getLogger("edge_middleware.cache")
        cache_logger.addHandler(warnings)
        if args.redis.lower().startswith("memory:"):
            return _fail(
                "--redis: memory:// is one process's own cache; invalidate it with --server "
                "http://HOST:PORT of the dev server that holds it"
            )
        try:
            storage = storage_from_url(args.redis)
            if not _prefix_used(storage):
                return _fail(
                    f"--redis: no distribution has used {redact(args.redis)} (its prefix and "
                    "database): nothing was invalidated"
                )
            storage.invalidate(paths)
            close = getattr(storage, "close", None)
            if close is not None:
                close()
        except (ConfigurationError, ImportError) as exc:
            return _fail(str(exc))
        finally:
            cache_logger.removeHandler(warnings)
        if warnings.messages:
            return _fail("; ".join(warnings.messages))
        # (recorded, not applied: every worker drops its matching objects when it next reads
        # them; a query's canonical form is recorded beside it)
        print(f"invalidation recorded for {len(set(paths))} path(s): {' '.join(paths)}")
        return EXIT_OK
    from .server import INVALIDATE_PATH

    server: str = args.server
    if not server.startswith(("http://", "https://")):
        return _fail(f"--server: {server!r} is invalid; expected http://HOST:PORT of a dev server")
    url = server.rstrip("/") + INVALIDATE_PATH
    headers = {"Content-Type": "application/json"}
    token = args.edge_token or os.environ.get("EDGE_MIDDLEWARE_TOKEN")
    if token:
        headers["X-Edge-Token"] = token
    try:
        request = urllib.request.Request(
            url, data=json.dumps(paths).encode(), headers=headers, method="POST"
        )
        with urllib.request.urlopen(request, timeout=args.timeout) as response:
            answer = response.read()
    except urllib.error.HTTPError as exc:
        return _fail(_refused(server, url, exc))
    except (urllib.error.URLError, OSError, ValueError) as exc:  # ValueError: not a URL
        return _fail(f"--server {server}: {exc}")
    try:
        doc = json.loads(answer or b"{}")
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or "invalidated" not in doc:  # another service answered
        return _fail(
            f"--server {server}: not an edge-middleware dev server (POST {INVALIDATE_PATH} "
            f"answered {answer[:60]!r})"
        )
    from .devapp import invalidated_words

    print(invalidated_words({**doc, "paths": paths}))
    return EXIT_OK


def _refused(server: str, url: str, exc: urllib.error.HTTPError) -> str:
    """One line for an error status: the dev server's own reason (JSON ``{"error": ...}``),
    else that the server is no dev server (an app's own server, or one with
    ``mount_inspector`` only, answered with a page: CloudFront's whole 403 page was printed)."""
    from .server import INVALIDATE_PATH

    try:
        doc = json.loads(exc.read(65536) or b"null")
    except (ValueError, OSError):
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("error"), str):
        return f"{url}: {exc.code} {doc['error']}"
    kind = (exc.headers.get("Content-Type") or "no Content-Type").split(";")[0]
    return (
        f"--server {server}: not an edge-middleware dev server (POST {INVALIDATE_PATH} "
        f"answered {exc.code} {kind}); for an app served by uvicorn or gunicorn with a "
        "RedisStorage, invalidate with --redis URL"
    )


# -- the parser ------------------------------------------------------------------------------


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("edge-middleware")
    except PackageNotFoundError:  # run from a source tree that is not installed
        from .. import __version__

        return __version__


_KVS_HELP = "bind a template's KeyValueStore (ARN, id, name or logical id) to a JSON file"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="edge-middleware",
        description="Run CloudFront Lambda@Edge handlers and the edge cache locally.",
        epilog="Exit codes: 0 ok, 1 error; invoke: 2 invalid result (502), 3 handler raised (503).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    _add_serve(sub)
    _add_invoke(sub)
    _add_check(sub)
    _add_invalidate(sub)
    return parser


def _add_serve(sub: Any) -> None:
    """``edge-middleware serve`` and its options."""
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
    serve.add_argument(
        "--threads", type=int, metavar="N", help="worker threads of a WSGI app's server (32)"
    )
    serve.add_argument("--redis", metavar="URL", help="cache in Redis (RedisStorage)")
    serve.add_argument("--access-log", metavar="FILE", help="CloudFront standard access log")
    serve.add_argument(
        "--log-secrets", action="store_true", help="log Authorization/Cookie values (off)"
    )
    serve.add_argument(
        "--handler", action="append", metavar="ARN=module:function", help="map a function ARN"
    )
    serve.add_argument("--kvs", action="append", metavar="STORE=FILE", help=_KVS_HELP)
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


def _add_invoke(sub: Any) -> None:
    """``edge-middleware invoke`` and its options."""
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
    invoke.add_argument("--method", help="the request method (default GET)")
    invoke.add_argument(
        "--header", action="append", metavar="'Name: value'", help="request header (repeatable)"
    )
    invoke.add_argument("--querystring", help="the query string (without '?')")
    invoke.add_argument(
        "--status", type=int, help="response status of a response event (default 200)"
    )
    invoke.add_argument(
        "--response-header",
        action="append",
        metavar="'Name: value'",
        help="response header of a response event (repeatable)",
    )
    invoke.add_argument("--body", help="request body text, or @FILE")
    invoke.add_argument("--include-body", action="store_true", help="the IncludeBody option")
    invoke.set_defaults(run=_invoke)


def _add_check(sub: Any) -> None:
    """``edge-middleware check`` and its options."""
    check = sub.add_parser("check", help="validate a config file and print its behaviors")
    check.add_argument("file", metavar="FILE")
    check.add_argument(
        "--handler", action="append", metavar="ARN=module:function", help="map a function ARN"
    )
    check.add_argument("--kvs", action="append", metavar="STORE=FILE", help=_KVS_HELP)
    check.add_argument("--logical-id", help="which distribution of a CloudFormation template")
    check.add_argument(
        "--policies",
        action="append",
        metavar="FILE",
        help="aws cloudfront get-/list-*-policies output for custom policy ids (repeatable)",
    )
    check.set_defaults(run=_check)


def _add_invalidate(sub: Any) -> None:
    """``edge-middleware invalidate`` and its options."""
    inv = sub.add_parser("invalidate", help="invalidate cached paths (/images/* or exact)")
    inv.add_argument("paths", nargs="+", metavar="PATH")
    inv.add_argument("--redis", metavar="URL", help="the Redis storage the servers share")
    inv.add_argument("--server", metavar="URL", help="a running dev server, http://127.0.0.1:8000")
    inv.add_argument(
        "--edge-token", metavar="TOKEN", help="the dev server's --edge-token (or the env var)"
    )
    inv.add_argument("--timeout", type=float, default=10.0, help=argparse.SUPPRESS)
    inv.set_defaults(run=_invalidate)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``edge-middleware`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    # As with ``python -m``: modules next to where the command runs are importable.
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        code: int = args.run(args)
    except EdgeError as exc:  # a mistake the library refused, named in its message
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # stdout closed early (``| head``): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    return code
