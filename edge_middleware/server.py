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
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

from .accesslog import AccessLog
from .asgi import EdgeMiddleware
from .cache.entry import Storage
from .cache.redis import storage_from_url
from .devapp import (
    INVALIDATE_PATH,
    ASGIHolder,
    Interface,
    Middleware,
    WSGIHolder,
    detect_interface,
    import_object,
    load_edge_config,
)
from .devlog import ConsoleLog, banner
from .exceptions import ConfigurationError
from .inspector import Inspector, InspectorASGIMount, InspectorWSGIMount, mount_inspector
from .middleware import Observer
from .wsgi import EdgeWSGIMiddleware

__all__ = ["INVALIDATE_PATH", "DevServer", "ServeOptions", "run"]

logger = logging.getLogger("edge_middleware.server")

# -- the server ------------------------------------------------------------------------------


@dataclass
class ServeOptions:
    """The options of ``edge-middleware serve`` (see ``edge-middleware serve --help``)."""

    app: str
    config: str | None = None
    handlers: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 8000
    reload: bool = False
    reload_interval: float = 0.5
    redis: str | None = None
    access_log: str | None = None
    log_secrets: bool = False
    interface: Literal["auto", "asgi", "wsgi"] = "auto"
    logical_id: str | None = None
    #: The request inspector at /_edge/ (``--no-inspector`` turns it off).
    inspector: bool = True


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
        self.console = ConsoleLog(self.out, color=color, log_secrets=options.log_secrets)
        self.storage: Storage | None = storage_from_url(options.redis) if options.redis else None
        self.access_log = (
            AccessLog(options.access_log, log_secrets=options.log_secrets)
            if options.access_log
            else None
        )
        self.config_file: Path | None = None
        self.config_module: str | None = None
        self.interface: Interface | None = None
        self.inspector = Inspector(show_secrets=options.log_secrets) if options.inspector else None
        self.middleware = self.build()
        self.holder: ASGIHolder | WSGIHolder = (
            ASGIHolder(self.middleware, self.console.message)
            if isinstance(self.middleware, EdgeMiddleware)
            else WSGIHolder(self.middleware, self.console.message)
        )
        #: What the server calls: the holder, behind the inspector's /_edge/ pages.
        self.app: ASGIHolder | WSGIHolder | InspectorASGIMount | InspectorWSGIMount = (
            mount_inspector(self.holder, self.inspector, interface=self.interface)
            if self.inspector is not None
            else self.holder
        )
        self._reloader: _Reloader | None = None

    def build(self) -> Middleware:
        """A fresh middleware from the app and config as they are now."""
        opts = self.options
        app = import_object(opts.app)
        interface = detect_interface(app) if opts.interface == "auto" else opts.interface
        if self.interface is not None and interface != self.interface:
            raise ConfigurationError("APP", opts.app, f"to stay an {self.interface.upper()} app")
        config, self.config_file, self.config_module = load_edge_config(
            opts.config, opts.handlers, logical_id=opts.logical_id
        )
        # A reload starts with an empty in-process cache (old handlers' results are gone); a
        # Redis cache is shared and kept.
        middleware: Middleware
        if interface == "asgi":
            middleware = EdgeMiddleware(app, config=config, storage=self.storage)
        else:
            middleware = EdgeWSGIMiddleware(app, config=config, storage=self.storage)
        middleware.add_observer(self.console)
        if self.inspector is not None:
            middleware.add_observer(self.inspector.observer)
        if self.access_log is not None:
            self.access_log.domain_name = config.distribution_domain_name
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
        runners = self.middleware.options.pipeline.runners.values()
        names = {getattr(runner.func, "__module__", None) for runner in runners}
        for runner in runners:  # JavaScript functions (edge_middleware.js): their .js files
            for source in getattr(runner.func, "source_files", ()):
                files[Path(source)] = None
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
        if self.config_module and self.config_module not in modules:
            modules.append(self.config_module)  # it holds references to the old functions
        try:
            for name in modules:
                module = sys.modules.get(name or "")
                if module is None:
                    continue
                _drop_bytecode(module)
                importlib.reload(module)
            middleware = self.build()
        except Exception as exc:
            self.console.message(
                f"reload failed, keeping the previous configuration: {type(exc).__name__}: {exc}",
                error=True,
            )
            return False
        self.middleware = middleware
        holder: Any = self.holder  # same interface as before: checked in build()
        holder.middleware = middleware
        names = ", ".join(p.name for p in changed)
        self.console.message(f"reloaded after a change to {names}")
        self.console.write_banner(banner(middleware.config, indent="  "))
        return True

    # -- serving --------------------------------------------------------------------------
    def print_banner(self) -> None:
        opts = self.options
        server = "uvicorn" if self.interface == "asgi" else "werkzeug, threaded"
        lines = [f"edge-middleware: {str(self.interface).upper()} app {opts.app} ({server})"]
        if opts.config:
            lines.append(f"config: {opts.config}")
        lines.extend(banner(self.middleware.config, indent="  "))
        storage = "redis " + opts.redis if opts.redis else "memory"
        lines.append(f"cache: {storage}; invalidate: POST {INVALIDATE_PATH} (loopback only)")
        if opts.access_log:
            lines.append(f"access log: {opts.access_log}")
        if opts.reload:
            lines.append("reload: watching the config and the handler modules")
        if self.inspector is not None:
            url = f"http://{_url_host(opts.host)}:{opts.port}/_edge/"
            lines.append(f"inspector: {url}  (loopback clients only)")
        lines.append(f"listening on http://{_url_host(opts.host)}:{opts.port}  (Ctrl+C to stop)")
        self.console.write_banner(lines)

    def serve(self) -> None:
        """Serve until interrupted (SIGINT or SIGTERM)."""
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

        config = uvicorn.Config(
            self.app,
            host=self.options.host,
            port=self.options.port,
            log_level="warning",
            access_log=False,
            lifespan="auto",
            proxy_headers=False,  # the viewer's address is the socket's
            server_header=False,
        )
        uvicorn.Server(config).run()

    def _serve_wsgi(self) -> None:
        from werkzeug.serving import WSGIRequestHandler, make_server

        class Quiet(WSGIRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as CloudFront speaks to viewers

            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                pass  # our own line per request replaces Werkzeug's

        server = make_server(
            self.options.host,
            self.options.port,
            self.app,  # type: ignore[arg-type]
            threaded=True,
            request_handler=Quiet,
        )

        def stop(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, stop)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            server.server_close()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _drop_bytecode(module: Any) -> None:
    """Remove a module's cached bytecode: a same-size edit within the same second would
    otherwise pass the .pyc's mtime check and reload the old code."""
    file = getattr(module, "__file__", None)
    if not file:
        return
    try:
        os.remove(importlib.util.cache_from_source(file))
    except (OSError, NotImplementedError, ValueError):
        pass


class _Reloader(threading.Thread):
    """Polls mtimes (no extra dependency) and calls :meth:`DevServer.reload`."""

    def __init__(self, server: DevServer, interval: float) -> None:
        super().__init__(name="edge-reloader", daemon=True)
        self.server = server
        self.interval = interval
        self._stop_event = threading.Event()
        self._mtimes = self._scan()

    def _scan(self) -> dict[Path, int]:
        out = {}
        for path in self.server.watched():
            try:
                out[path] = path.stat().st_mtime_ns
            except OSError:
                out[path] = -1
        return out

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            try:
                self.check()
            except Exception:  # the watcher must not die
                logger.exception("the reloader failed")

    def check(self) -> None:
        now = self._scan()
        changed = [p for p, m in now.items() if self._mtimes.get(p) not in (None, m)]
        self._mtimes = now
        if changed:
            self.server.reload(changed)
            self._mtimes = self._scan()  # handler modules may have changed with the config

    def stop(self) -> None:
        self._stop_event.set()


def run(options: ServeOptions, out: TextIO | None = None) -> None:
    """Build and serve (what ``edge-middleware serve`` calls)."""
    DevServer(options, out).serve()
