"""What both front doors share: option handling, request collapsing bookkeeping, observers."""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ..cache.entry import AsyncInvalidating, FillLocking, OwnClock, Storage, invalidation_paths
from ..cache.identity import distribution_identity
from ..cache.memory import MemoryStorage
from ..config.model import EdgeConfig
from ..core.convert import ViewerRequest
from ..exceptions import ConfigurationError
from ..pipeline import Outcome, Pipeline
from .interfaces import is_asgi_app, is_wsgi_app

__all__ = ["FrontDoor", "Observer", "RequestRecord", "SharedOptions", "coerce_config"]

logger = logging.getLogger("edge_middleware")


def coerce_config(config: object) -> EdgeConfig:
    """``config=`` may be an :class:`EdgeConfig`, a path, or a mapping for ``load_config``."""
    if config is None:
        return EdgeConfig()
    if isinstance(config, EdgeConfig):
        return config
    if isinstance(config, str | os.PathLike | Mapping):
        from ..config.loaders import load_config

        return load_config(config)
    raise ConfigurationError("config", config, "an EdgeConfig, a path or a mapping")


class RequestRecord:
    """One finished request, as observers (dev-server log, access log, inspector) see it."""

    __slots__ = (
        "bytes_received",
        "bytes_sent",
        "client_port",
        "duration",
        "finished_at",
        "first_byte",
        "host",
        "outcome",
        "protocol",
        "scheme",
        "started_at",
        "viewer_left",
        "viewer_request",
    )

    def __init__(
        self,
        outcome: Outcome,
        viewer_request: dict[str, Any],
        scheme: str,
        protocol: str,
        started_at: float,
        bytes_sent: int,
        bytes_received: int = 0,
        client_port: int = 0,
        first_byte: float | None = None,
        viewer_left: str = "",
    ) -> None:
        self.outcome = outcome
        self.viewer_request = viewer_request
        self.scheme = scheme
        self.protocol = protocol
        self.started_at = started_at
        self.finished_at = time.time()
        self.duration = time.perf_counter() - started_at if started_at < 1e9 else 0.0
        self.bytes_sent = bytes_sent
        self.bytes_received = bytes_received
        self.client_port = client_port
        self.host = ""
        #: seconds from the request to the answer's first byte (its head), when it was sent
        self.first_byte = first_byte
        #: the viewer went away ``"before"`` the answer or ``"during"`` it (as far as the door
        #: saw: a server that tells; the access log's ``000`` and ``ClientCommError``), or ``""``
        self.viewer_left = viewer_left


Observer = Callable[[RequestRecord], None]


class SharedOptions:
    """Request-independent state built once in ``__init__`` of either front door."""

    def __init__(
        self,
        *,
        config: object = None,
        storage: Storage | None = None,
        clock: Callable[[], float] = time.time,
        origins: Mapping[str, object] | None = None,
        app: object = None,
        interface: str = "asgi",
    ) -> None:
        _check_arguments(app, storage, clock, origins, interface)
        self.config = coerce_config(config)
        self.clock = clock
        self.storage: Storage = (
            storage
            if storage is not None
            # EdgeSettings.max_object_bytes bounds the body, and the pipeline applies it; the
            # storage's own max_object_bytes would count the entry's bookkeeping too
            else MemoryStorage(clock=clock)
        )
        #: this distribution's namespace in a shared cache (issue 16, item 4)
        self.distribution_identity = distribution_identity(self.config, app, origins)
        adopt = getattr(self.storage, "adopt_distribution", None)
        if adopt is not None:  # a shared storage without a distribution_id of its own
            self.storage = adopt(self.distribution_identity)
        if clock is not time.time and isinstance(self.storage, OwnClock):
            # API.md: the middleware's clock decides every expiry; a storage made with the
            # default clock would forget on real time what the edge keeps on its own (on the
            # view adopted above: a storage shared with another middleware keeps its clock)
            self.storage.use_clock(clock)
        #: the storage's ``get`` may run on an event loop (MemoryStorage.get_never_blocks)
        self.direct_get = bool(getattr(self.storage, "get_never_blocks", False))
        self.pipeline = Pipeline(self.config, clock=clock)
        #: the storage's cross-process fill lock, when it has one (RedisStorage)
        self.fill_lock: FillLocking | None = (
            self.storage if isinstance(self.storage, FillLocking) else None
        )
        known = {o.id for o in self.config.origins}
        self.origins = {
            origin_id: _checked_target(origin_id, target, known, interface)
            for origin_id, target in (origins or {}).items()
        }
        self.observers: list[Observer] = []
        #: invalidations waiting for ``EdgeSettings.invalidation_delay``: (due, paths), due by
        #: ``clock`` (a test that moves its clock sees them applied) or by a wall-clock timer
        self.delayed: list[tuple[float, list[str]]] = []
        self._delayed_lock = threading.Lock()

    def add_observer(self, observer: Observer) -> None:
        """Call ``observer(record)`` after every request (logs, access log, inspector); once,
        however often it is added (``serve --reload`` adds its own to each edge it finds, and
        an edge built in another module than APP survives a reload)."""
        if observer not in self.observers:  # (equal: a bound method is a new object each time)
            self.observers.append(observer)

    def notify(self, record: RequestRecord) -> None:
        for observer in self.observers:
            try:
                observer(record)
            except Exception:  # an observer must never break serving
                logger.exception("request observer %r failed", observer)

    def target(self, origin_id: str) -> object:
        return self.origins.get(origin_id)

    @property
    def invalidation_counts(self) -> str:
        """What :meth:`invalidate`'s number counts: the cached ``"objects"`` dropped (an
        in-process storage, at once), or the ``"paths"`` recorded (Redis: every worker drops
        its objects when it next reads them; or an invalidation applied after a delay)."""
        from ..cache.memory import MemoryStorage

        immediate = self.config.settings.invalidation_delay <= 0
        return "objects" if immediate and isinstance(self.storage, MemoryStorage) else "paths"

    def invalidate(self, paths: list[str]) -> int:
        """Invalidate now, or after ``EdgeSettings.invalidation_delay`` seconds (decisions.md
        #50; then the number of paths accepted is returned)."""
        delay = self.config.settings.invalidation_delay
        if delay > 0:
            item = (self.clock() + delay, list(paths))
            with self._delayed_lock:
                self.delayed.append(item)
            timer = threading.Timer(delay, self._apply, args=([item],))
            timer.daemon = True
            timer.start()
            return len(paths)
        return self.storage.invalidate(paths)

    async def ainvalidate(self, paths: list[str]) -> int:
        """:meth:`invalidate` from the event loop: a storage that waits on a backend (Redis)
        is awaited, not called (a blocking call there stalled every request)."""
        storage = self.storage
        if self.config.settings.invalidation_delay > 0 or not isinstance(
            storage, AsyncInvalidating
        ):
            return self.invalidate(paths)
        return await storage.ainvalidate(paths)

    def purge(self, paths: list[str]) -> None:
        """:meth:`invalidate` after an unsafe request (decisions.md #28): a failure is logged
        and the origin's answer stands (the storages fail open themselves)."""
        try:
            self.invalidate(paths)
        except Exception:
            logger.exception("purging %s after an unsafe request failed", paths)

    async def apurge(self, paths: list[str]) -> None:
        """:meth:`purge` from the event loop (:meth:`ainvalidate`)."""
        try:
            await self.ainvalidate(paths)
        except Exception:
            logger.exception("purging %s after an unsafe request failed", paths)

    def apply_due(self) -> None:
        """Apply the delayed invalidations whose time has come by ``clock`` (each request
        asks, when some wait)."""
        now = self.clock()
        self._apply([item for item in self.delayed if item[0] <= now])

    def _apply(self, items: list[tuple[float, list[str]]]) -> None:
        with self._delayed_lock:  # each once: by the clock or by its timer, whichever is first
            items = [i for i in items if any(i is d for d in self.delayed)]
            self.delayed = [d for d in self.delayed if not any(d is i for i in items)]
        for _, paths in items:
            self.storage.invalidate(paths)


class FrontDoor:
    """What both front doors expose besides ``__call__``."""

    options: SharedOptions

    @property
    def config(self) -> EdgeConfig:
        return self.options.config

    @property
    def storage(self) -> Storage:
        return self.options.storage

    def add_observer(self, observer: Observer) -> None:
        """Call ``observer(record)`` after every request (logs, access log, inspector)."""
        self.options.add_observer(observer)

    def invalidate(self, paths: str | Iterable[str]) -> int:
        """CloudFront's ``CreateInvalidation``: ``/images/*`` or exact paths (the query string
        is part of the matched string). Applied after ``EdgeSettings.invalidation_delay``."""
        return self.options.invalidate(invalidation_paths(paths))


def _check_arguments(
    app: object,
    storage: object,
    clock: object,
    origins: object,
    interface: str,
) -> None:
    """The front door's own arguments, refused at start (each was a 502 at the first request,
    or a raw exception)."""
    if not callable(app) or _of_the_other_interface(app, interface):
        raise ConfigurationError("app", app, f"{_an_app(interface)} application")
    if storage is not None and not isinstance(storage, Storage):
        raise ConfigurationError("storage", storage, "a storage such as MemoryStorage()")
    if not callable(clock):
        raise ConfigurationError("clock", clock, "a callable giving seconds since the epoch")
    if origins is not None and not isinstance(origins, Mapping):
        raise ConfigurationError("origins", origins, "a mapping of origin id to app or URL")


def _checked_target(origin_id: str, target: object, known: set[str], interface: str) -> object:
    """An ``origins=`` entry as the doors use it, or the ConfigurationError naming it."""
    field_name = f"origins[{origin_id!r}]"
    if target is not None and not (callable(target) or _http_url(target)):
        raise ConfigurationError(
            field_name,
            target,
            "None, an http(s)://host[:port] URL (port 1-65535), or an ASGI/WSGI app",
        )
    if isinstance(target, str) and importlib.util.find_spec("httpx") is None:
        raise ConfigurationError(
            field_name,
            target,
            "httpx installed to proxy a URL origin: pip install 'edge-middleware[proxy]'",
        )
    if callable(target) and _of_the_other_interface(target, interface):
        raise ConfigurationError(
            field_name,
            target,
            f"{_an_app(interface)} app, as the middleware it is given to (or an http(s):// URL)",
        )
    if origin_id not in known and "." not in origin_id:
        raise ConfigurationError(
            field_name, origin_id, f"an origin id of the distribution {sorted(known)}"
        )
    return target


def _of_the_other_interface(app: object, interface: str) -> bool:
    """Whether ``app`` is surely of the other interface than the door's (``interface``)."""
    return is_wsgi_app(app) if interface == "asgi" else is_asgi_app(app)


def _an_app(interface: str) -> str:
    return "an ASGI" if interface == "asgi" else "a WSGI"


def _http_url(target: object) -> bool:
    """``http://HOST[:PORT]...`` or ``https://...`` with a host and a port of 1-65535: what the
    proxy can reach (a port past 65535 reached another port, wrapped by the socket layer)."""
    if not isinstance(target, str) or any(c.isspace() for c in target):
        return False
    try:
        parts = urlsplit(target)
        port = parts.port  # (raises ValueError for a port that is no number or out of range)
    except ValueError:
        return False
    return (
        parts.scheme.lower() in ("http", "https")
        and bool(parts.hostname)
        and (port is None or 1 <= port <= 65535)
    )


def body_bytes_received(viewer: ViewerRequest | None, body: bytes | None) -> int:
    """The request body's bytes for the access log's ``cs-bytes``: the ``Content-Length`` the
    viewer sent (the body may have streamed to the app unread by the middleware), else the
    bytes read (a chunked body a function saw)."""
    read = len(body or b"")
    return read if viewer is None else max(read, viewer.body_length)
