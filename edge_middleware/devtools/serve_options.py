"""The options of ``edge-middleware serve`` (:class:`ServeOptions`) and the TLS files they ask
for (``--tls``, ``--cert``/``--key``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..cache.memory import MemoryStorage
from ..cache.redis import RedisStorage
from .devapp import ServeError
from .devtls import TLSFiles

__all__ = ["WSGI_THREADS", "ServeOptions", "storage_urls", "storage_words"]

#: Worker threads of the WSGI dev server unless ``--threads`` says otherwise: each holds one
#: request (an open server-sent events stream or a long poll holds one for as long as it lasts).
WSGI_THREADS = 32


@dataclass
class ServeOptions:
    """The options of ``edge-middleware serve`` (see ``edge-middleware serve --help``)."""

    #: ``module:attribute`` of the app; None with ``origin`` (proxy-only).
    app: str | None
    config: str | None = None
    handlers: dict[str, str] = field(default_factory=dict)
    #: ``--kvs STORE=FILE``: local data for a template's KeyValueStores.
    key_value_stores: dict[str, str] = field(default_factory=dict)
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
    #: ``--tls``: serve HTTPS with a loopback certificate made on first use.
    tls: bool = False
    #: ``--cert``/``--key``: serve HTTPS with these files instead.
    cert: str | None = None
    key: str | None = None
    #: Treat a loopback client's ``X-Forwarded-Proto: https`` as an HTTPS viewer.
    trust_forwarded_proto: bool = False
    #: ``--origin URL``: proxy-only, every origin of the config is this running server.
    origin: str | None = None
    #: ``--policies FILE``: cache / origin request / response headers policies by id.
    policies: list[str] | None = None
    #: ``--edge-token``: the inspector and ``/_edge/invalidate`` want this token.
    edge_token: str | None = None
    #: ``--edge-allow-proxied``: accept them through a local reverse proxy.
    edge_allow_proxied: bool = False
    #: ``--threads``: worker threads of the WSGI server (None: :data:`WSGI_THREADS`); uvicorn,
    #: which serves ASGI apps, has none to set.
    threads: int | None = None


def _threads(threads: int | None, interface: str | None) -> int:
    """The WSGI server's worker threads for ``--threads`` (refused for an ASGI app)."""
    if threads is None:
        return WSGI_THREADS
    if interface == "asgi":
        raise ServeError(
            "--threads",
            threads,
            "--threads sets the worker threads of the WSGI server; this app is served by "
            "uvicorn, on one event loop",
        )
    if not 1 <= threads <= 1024:
        raise ServeError("--threads", threads, f"--threads: {threads} is invalid; expected 1-1024")
    return threads


def _tls_files(options: ServeOptions) -> TLSFiles | None:
    from .devtls import TLSFiles, ensure_local_certificate

    if (options.cert is None) != (options.key is None):
        raise ServeError("--cert", options.cert, "give --cert and --key together")
    if options.tls and options.cert is not None:  # one or the other (--tls was ignored)
        raise ServeError("--tls", True, "give --tls or --cert/--key, not both")
    if options.cert is not None and options.key is not None:
        for flag, name in (("--cert", options.cert), ("--key", options.key)):
            if not Path(name).is_file():
                raise ServeError(flag, name, f"{flag} {name}: no such file")
        _check_pem(options.cert, options.key)
        return TLSFiles(Path(options.cert), Path(options.key))
    if options.tls:
        return ensure_local_certificate()
    return None


def _check_pem(cert: str, key: str) -> None:
    """Refuse ``--cert``/``--key`` files the server cannot use, naming the file: the TLS
    library's own words (``[SSL] PEM lib``) came after "cannot serve on HOST:PORT", as if the
    address were wrong."""
    import ssl

    for flag, name, marker, what in (
        ("--cert", cert, "-----BEGIN CERTIFICATE-----", "a PEM certificate"),
        ("--key", key, "PRIVATE KEY-----", "a PEM private key"),
    ):
        try:
            text = Path(name).read_text(encoding="ascii", errors="replace")
        except OSError as exc:
            raise ServeError(flag, name, f"{flag} {name}: cannot read it ({exc.strerror})") from exc
        if marker not in text:
            raise ServeError(flag, name, f"{flag} {name}: not {what} (no '{marker}' in it)")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:  # an encrypted key: refused, not asked for on the terminal
        context.load_cert_chain(cert, key, password=lambda: b"")
    except ssl.SSLError as exc:
        raise ServeError(
            "--cert",
            cert,
            f"--cert {cert} with --key {key}: the TLS library refuses them "
            f"({exc.reason or exc}; a key that does not match the certificate, or an "
            "encrypted key)",
        ) from exc


def storage_words(storage: Any) -> str:
    """The banner's words for an edge's storage: ``memory``, ``redis URL`` (its key prefix
    when not the default; the console masks the URL's credentials: :func:`storage_urls`), or
    the class of a storage of the app's own."""
    if isinstance(storage, MemoryStorage):
        return "memory"
    if isinstance(storage, RedisStorage):
        prefix = "" if storage.prefix == "em" else f" (prefix {storage.prefix})"
        return f"redis {storage.url}{prefix}"
    return type(storage).__name__


def storage_urls(storages: Any) -> list[str]:
    """The URLs of the Redis storages among ``storages`` (their credentials to mask)."""
    return [s.url for s in storages if isinstance(s, RedisStorage)]
