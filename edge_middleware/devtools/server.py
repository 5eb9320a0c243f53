"""The development server behind ``edge-middleware serve``.

It imports ``module:attribute``, finds out whether that is an ASGI or a WSGI app, wraps it in
:class:`~edge_middleware.EdgeMiddleware` (served by uvicorn) or
:class:`~edge_middleware.EdgeWSGIMiddleware` (served by Werkzeug's threaded server), prints the
distribution's behaviors, then one line per request with the triggers that ran and what the
handlers printed (``devlog.py``).

The server calls a holder (``devapp.py``), never the middleware directly, so ``--reload`` can
build a fresh middleware (re-imported handler modules, re-read config) and swap it in without
restarting the process; requests in flight finish on the old one.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from ..cache.entry import Storage
from ..cache.redis import storage_from_url
from ..config.loaders.sam_handlers import MODULE_PREFIX, function_files
from ..doors.asgi import EdgeMiddleware
from ..doors.middleware import Observer
from ..doors.wsgi import EdgeWSGIMiddleware
from ..exceptions import ConfigurationError
from .accesslog import AccessLog
from .devapp import (
    INVALIDATE_PATH,
    ASGIHolder,
    Interface,
    Middleware,
    ServeError,
    WSGIHolder,
    describe_config,
    detect_interface,
    find_front_doors,
    import_object,
    load_edge_config,
    require_extra,
    with_one_date,
)
from .devguard import Guard
from .devlog import ConsoleLog, banner
from .inspector import Inspector, InspectorASGIMount, InspectorWSGIMount, mount_inspector
from .lifecycle import (
    SHUTDOWN_GRACE,
    InFlight,
    QuietStop,
    bind,
    cancelled_finished,
    exit_watchdog,
    stopped_by_signals,
)
from .masking import credentials_masker
from .proxy_only import no_app_asgi, no_app_wsgi
from .reloader import _close_functions, _drop_bytecode, _holders, _Reloader
from .serve_options import (
    ServeOptions,
    _threads,
    _tls_files,
    storage_urls,
    storage_words,
)
from .wsgi_server import cheroot_server

#: modules a template's functions were loaded as (``CodeUri``): ``build()`` loads them anew
#: from their files, and ``importlib.reload`` cannot find them (their parents are no packages)
_TEMPLATE_MODULES = MODULE_PREFIX + "."

__all__ = ["INVALIDATE_PATH", "DevServer", "ServeOptions", "run"]

logger = logging.getLogger("edge_middleware.server")

#: Seconds an idle keep-alive connection stays open, on both servers (WSGI: a half-sent request
#: too). Longer than the 5 s after which the pools of Node.js's and httpx's clients drop idle
#: connections, so the client closes first: with uvicorn's own 5 s, a request sent as the server
#: closed met a dropped connection ("socket hang up") when the machine was busy.
CONNECTION_TIMEOUT = 10
#: Connections the kernel queues before the WSGI server accepts them (uvicorn's default
#: backlog). cheroot's own is 5: a burst of more new connections (a browser, a load test, the
#: cache-tests suite) had the rest wait for a SYN resent after 1 s, 3 s, 7 s.
LISTEN_BACKLOG = 2048


# -- the server ------------------------------------------------------------------------------
class DevServer:
    """Builds the middleware from :class:`ServeOptions`, prints, serves, reloads.

    Example::

        server = DevServer(ServeOptions("app:app", config="edge.toml", reload=True))
        server.serve()   # blocks until SIGINT/SIGTERM
    """

    def __init__(self, options: ServeOptions, out: TextIO | None = None) -> None:
        self.options = options
        self.out = out if out is not None else sys.stdout
        color = self.out.isatty() and "NO_COLOR" not in os.environ
        self.console = ConsoleLog(
            self.out,
            color=color,
            log_secrets=options.log_secrets,
            credentials=credentials_masker(options.redis, options.origin),
        )
        self.storage: Storage | None = storage_from_url(options.redis) if options.redis else None
        self.access_log = (
            AccessLog(options.access_log, log_secrets=options.log_secrets)
            if options.access_log
            else None
        )
        self.config_file: Path | None = None
        self.config_module: str | None = None
        self.interface: Interface | None = None
        #: What the server calls behind the holder: the middleware, or the app wrapping it.
        self.served_app: Any = None
        self.wrapped_in_code = False
        #: every edge served: the middleware, and those of apps mounted in the app it wraps
        self.edges: list[Middleware] = []
        self.guard = Guard(token=options.edge_token, allow_proxied=options.edge_allow_proxied)
        self.inspector = (
            Inspector(show_secrets=options.log_secrets, guard=self.guard)
            if options.inspector
            else None
        )
        self.tls = _tls_files(options)
        self.middleware = self.build()
        # A missing server fails now, with the install line, not after "listening".
        if self.interface == "asgi":
            require_extra("uvicorn", "server", "serving an ASGI app")
        else:
            require_extra("cheroot", "server", "serving a WSGI app")
        self.threads = _threads(options.threads, self.interface)
        self.holder: ASGIHolder | WSGIHolder = (
            ASGIHolder(self.middleware, self.console.message, self.served_app)
            if isinstance(self.middleware, EdgeMiddleware)
            else WSGIHolder(self.middleware, self.console.message, self.served_app)
        )
        self.holder.edges = self.edges
        #: What the server calls: the holder, behind the inspector's /_edge/ pages.
        self.app: ASGIHolder | WSGIHolder | InspectorASGIMount | InspectorWSGIMount = (
            mount_inspector(self.holder, self.inspector, interface=self.interface)
            if self.inspector is not None
            else self.holder
        )
        self.holder.trust_forwarded_proto = options.trust_forwarded_proto
        self.holder.guard = self.guard
        self._reloader: _Reloader | None = None

    def build(self) -> Middleware:
        """A fresh middleware from the app and config as they are now.

        An app that already wraps itself in :class:`EdgeMiddleware` / ``EdgeWSGIMiddleware``
        in code is served as it is, with the config it was given there: ``--config`` or
        ``--handler`` beside it is refused rather than stacking two edges.
        """
        opts = self.options
        if opts.origin is not None:
            return self._build_proxy()
        if not opts.app:
            raise ServeError("APP", None, "give APP (module:attribute) or --origin URL")
        app = import_object(opts.app)
        interface = detect_interface(app) if opts.interface == "auto" else opts.interface
        if self.interface is not None and interface != self.interface:
            raise ConfigurationError("APP", opts.app, f"to stay an {self.interface.upper()} app")
        doors = find_front_doors(app)
        inner = doors[0] if doors else None
        middleware: Middleware
        if inner is not None:
            if opts.redis:  # its storage is the one it was given in code
                raise ServeError(
                    "--redis",
                    opts.redis,
                    f"{opts.app} already wraps {type(inner).__name__} in code, with the storage "
                    "it was given there: give it RedisStorage(...) in code, or serve the app "
                    "without its middleware",
                )
            if opts.config is not None or opts.handlers:
                given = f"--config {opts.config}" if opts.config else "--handler"
                raise ServeError(
                    "APP",
                    opts.app,
                    f"{opts.app} already wraps {type(inner).__name__} in code "
                    f"({describe_config(inner.config)}); {given} would put a second edge "
                    f"({given.removeprefix('--config ')}) in front of it, and the inner one "
                    "would pass every request through. Drop the option to serve the app's "
                    "own config, or serve the app without its middleware.",
                )
            middleware = inner
            for other in doors[1:]:  # mounted apps with their own edges: each is observed
                self._observe(other, interface)
            self.edges = list(doors)
            self.served_app = app
            self.config_file = None
            self.config_module = opts.app.partition(":")[0]
            self.wrapped_in_code = True
        else:
            config, self.config_file, self.config_module = load_edge_config(
                opts.config,
                opts.handlers,
                logical_id=opts.logical_id,
                policies=opts.policies,
                key_value_stores=opts.key_value_stores,
            )
            # A reload starts with an empty in-process cache (old handlers' results are
            # gone); a Redis cache is shared and kept.
            if interface == "asgi":
                middleware = EdgeMiddleware(app, config=config, storage=self.storage)
            else:
                middleware = EdgeWSGIMiddleware(app, config=config, storage=self.storage)
            self.served_app = middleware
            self.wrapped_in_code = False
            self.edges = [middleware]
        return self._observe(middleware, interface)

    def _build_proxy(self) -> Middleware:
        """``--origin URL``: no app; every origin of the distribution is that server."""
        opts = self.options
        origin = opts.origin or ""
        if opts.app:
            raise ServeError("APP", opts.app, "give APP or --origin URL, not both")
        if not origin.startswith(("http://", "https://")):
            raise ServeError("--origin", origin, f"--origin wants an http(s):// URL: {origin!r}")
        require_extra("httpx", "proxy", "--origin")
        config, self.config_file, self.config_module = load_edge_config(
            opts.config,
            opts.handlers,
            logical_id=opts.logical_id,
            policies=opts.policies,
            key_value_stores=opts.key_value_stores,
        )
        # uvicorn by default: WebSockets reach the origin too (cheroot has none)
        interface: Interface = "wsgi" if opts.interface == "wsgi" else "asgi"
        origins = {o.id: origin for o in config.origins}
        middleware: Middleware
        if interface == "asgi":
            # the WebSockets it passes on reach the origin through websockets' client
            require_extra("websockets", "server", "--origin on uvicorn (WebSockets)")
            middleware = EdgeMiddleware(
                no_app_asgi(origin), config=config, storage=self.storage, origins=origins
            )
        else:
            middleware = EdgeWSGIMiddleware(
                no_app_wsgi, config=config, storage=self.storage, origins=origins
            )
        self.served_app = middleware
        self.wrapped_in_code = False
        self.edges = [middleware]
        return self._observe(middleware, interface)

    def _observe(self, middleware: Middleware, interface: Interface) -> Middleware:
        middleware.add_observer(self.console)
        if self.inspector is not None:
            middleware.add_observer(self.inspector.observer)
        if self.access_log is not None:
            self.access_log.domain_name = middleware.config.distribution_domain_name
            observer: Observer = self.access_log
            middleware.add_observer(observer)
        self.interface = interface
        return middleware

    # -- reload ---------------------------------------------------------------------------
    def watched(self) -> dict[Path, str | None]:
        """Files to poll: the config file and the modules the handlers (or config) live in."""
        files: dict[Path, str | None] = {}
        if self.config_file is not None:
            files[self.config_file] = None
        runners = [r for edge in self.edges for r in edge.options.pipeline.runners.values()]
        names = {getattr(runner.func, "__module__", None) for runner in runners}
        for runner in runners:  # JavaScript functions (edge_middleware.js): their .js files
            for source in getattr(runner.func, "source_files", ()):
                files[Path(source)] = None
        for helper in function_files():  # a template function's own helper modules
            files.setdefault(helper, None)
        names.add(self.config_module)
        for name in sorted(n for n in names if n):
            module = sys.modules.get(name)
            file = getattr(module, "__file__", None)
            if file and file.endswith(".py"):
                files[Path(file).resolve()] = name
        return files

    def reload(self, changed: list[Path]) -> bool:
        """Re-import changed handler modules, rebuild, swap in. On failure keep the old."""
        files = self.watched()
        modules = [files[p] for p in changed if files.get(p)]
        # the modules that build the edges (an edge built in another module than APP, mounted
        # in it, kept its old handlers), then APP's: they hold references to the old functions
        for name in [*_holders(self.edges), self.config_module]:
            if name and name not in modules:
                modules.append(name)
        try:
            for name in modules:
                module = sys.modules.get(name or "")
                if module is None:
                    continue
                _drop_bytecode(module)
                if not (name or "").startswith(_TEMPLATE_MODULES):
                    importlib.reload(module)  # (a template's code is loaded anew by build())
            middleware = self.build()
        except Exception as exc:
            self.console.message(
                f"reload failed, keeping the previous configuration: {type(exc).__name__}: {exc}",
                error=True,
            )
            return False
        old, self.middleware = self.middleware, middleware
        holder: Any = self.holder  # same interface as before: checked in build()
        holder.middleware = middleware
        holder.edges = self.edges
        holder.app = self.served_app
        _close_functions(old, middleware)
        names = ", ".join(p.name for p in changed)
        self.console.message(f"reloaded after a change to {names}")
        for edge in self.edges:  # (each mounted edge's, as at start)
            self.console.write_banner(banner(edge.config, indent="  "))
        return True

    # -- serving --------------------------------------------------------------------------
    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    def viewer_protocol_line(self) -> str:
        """What the banner says about how viewers are seen: HTTPS, or HTTP and what to do."""
        opts = self.options
        redirecting = [
            b.path_pattern
            for b in self.middleware.config.all_behaviors
            if b.viewer_protocol_policy != "allow-all"
        ]
        if self.tls is not None:
            trust = f"; trust {self.tls.ca}" if self.tls.ca is not None else ""
            return f"viewer: HTTPS (TLS with {self.tls.cert}{trust})"
        if opts.trust_forwarded_proto:
            return (
                "viewer: HTTP, or HTTPS when a loopback client sends X-Forwarded-Proto: https "
                "(--trust-forwarded-proto)"
            )
        if redirecting:
            return (
                f"viewer: HTTP: behaviors {', '.join(redirecting)} redirect to https:// "
                "(serve with --tls, or --trust-forwarded-proto behind a local TLS proxy)"
            )
        return "viewer: HTTP"

    def print_banner(self) -> None:
        """What is served and how, before binding (the inspector's URL comes with
        "listening": with ``--port 0`` only the bound socket knows the port)."""
        opts = self.options
        server = (
            "uvicorn"
            if self.interface == "asgi"
            else f"cheroot, {self.threads} threads, keep-alive"
        )
        what = f"app {opts.app}" if opts.app else f"proxy to {opts.origin}"
        lines = [f"edge-middleware: {str(self.interface).upper()} {what} ({server})"]
        if opts.config:
            lines.append(f"config: {opts.config}")
        elif self.wrapped_in_code:
            lines.append(
                f"config: the {type(self.middleware).__name__} that {opts.app} already wraps "
                "in code"
            )
        for edge in self.edges:  # (an app with mounted edges of its own: each one's)
            if len(self.edges) > 1:
                lines.append(f"  edge {describe_config(edge.config)}:")
            lines.extend(banner(edge.config, indent="  ", origins=edge.options.origins))
        # each edge's own (an app that wraps itself in code has the storage it was given), its
        # credentials masked in every line as --redis's are
        storages = [e.options.storage for e in self.edges]
        self.console.credentials = credentials_masker(
            opts.redis, opts.origin, *storage_urls(storages)
        )
        storage = ", ".join(dict.fromkeys(map(storage_words, storages)))
        lines.append(f"cache: {storage}; invalidate: POST {INVALIDATE_PATH} (loopback only)")
        lines.append(self.viewer_protocol_line())
        if opts.access_log:
            lines.append(f"access log: {opts.access_log}")
        if opts.reload:
            lines.append("reload: watching the config and the handler modules")
        self.console.write_banner(lines)

    def print_listening(self, port: int) -> None:
        url = f"{self.scheme}://{_url_host(self.options.host)}:{port}"
        lines = [f"listening on {url}  (Ctrl+C to stop)"]
        if self.inspector is not None:
            lines.insert(0, f"inspector: {url}/_edge/  (loopback clients only)")
        self.console.write_banner(lines)

    def serve(self) -> None:
        """Serve until interrupted (SIGINT or SIGTERM, then it returns normally: ``serve``
        exits 0 on both doors); "listening" is printed once bound.

        :raises OSError: the address could not be bound (port taken, not ours).
        """
        self.print_banner()
        if self.options.reload:
            self._reloader = _Reloader(self, self.options.reload_interval)
            self._reloader.start()
        try:
            if self.interface == "asgi":
                self._serve_asgi()
            else:
                self._serve_wsgi()
        finally:
            if self._reloader is not None:
                self._reloader.stop()
            if self.access_log is not None:
                self.access_log.close()

    def _serve_asgi(self) -> None:
        import uvicorn

        tls = self.tls
        config = uvicorn.Config(
            with_one_date(self.app),
            host=self.options.host,
            port=self.options.port,
            log_level="warning",
            access_log=False,
            lifespan="auto",
            proxy_headers=False,  # the viewer's address is the socket's
            server_header=False,
            date_header=False,  # with_one_date adds Date when the response has none
            ssl_certfile=str(tls.cert) if tls is not None else None,
            ssl_keyfile=str(tls.key) if tls is not None else None,
            timeout_keep_alive=CONNECTION_TIMEOUT,
            timeout_graceful_shutdown=SHUTDOWN_GRACE,
        )
        # bound here: uvicorn's Config.bind_socket calls sys.exit(3) when it cannot bind
        sock = bind(self.options.host, self.options.port, LISTEN_BACKLOG)  # OSError first
        self.print_listening(sock.getsockname()[1])

        class Server(uvicorn.Server):
            def handle_exit(self, sig: int, frame: Any) -> None:
                exit_watchdog()
                super().handle_exit(sig, frame)

            async def shutdown(self, sockets: list[Any] | None = None) -> None:
                await super().shutdown(sockets)
                await cancelled_finished(self.server_state.tasks)

        server = Server(config)
        quiet = QuietStop(self.console.message, lambda: server.should_exit)
        uvicorn_log = logging.getLogger("uvicorn.error")
        uvicorn_log.addFilter(quiet)
        try:
            with stopped_by_signals():  # also the signal uvicorn raises again once stopped
                server.run(sockets=[sock])
        finally:
            uvicorn_log.removeFilter(quiet)
            sock.close()

    def wsgi_server(self) -> Any:
        """The cheroot server for the WSGI app, bound and listening (``prepare()``: raises
        OSError before "listening" is printed), not yet serving."""
        self.in_flight = InFlight(self.app)
        server = cheroot_server()(
            (self.options.host, self.options.port),
            self.in_flight,
            numthreads=self.threads,
            server_name=self.options.host,
            # Idle keep-alive connections and half-sent requests are closed after this.
            timeout=CONNECTION_TIMEOUT,
            shutdown_timeout=SHUTDOWN_GRACE,
            request_queue_size=LISTEN_BACKLOG,
        )
        if self.tls is not None:
            from cheroot.ssl.builtin import BuiltinSSLAdapter

            server.ssl_adapter = BuiltinSSLAdapter(str(self.tls.cert), str(self.tls.key))
        server.prepare()
        return server

    def _serve_wsgi(self) -> None:
        server = self.wsgi_server()
        self.print_listening(server.bind_addr[1])
        try:
            with stopped_by_signals():
                server.serve()
        finally:
            self.in_flight.stop_after(SHUTDOWN_GRACE, self.console.message)
            server.stop()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def run(options: ServeOptions, out: TextIO | None = None) -> None:
    """Build and serve (what ``edge-middleware serve`` calls)."""
    DevServer(options, out).serve()
