"""Real servers on 127.0.0.1 for the tests: free ports, uvicorn and Werkzeug in a thread,
raw-socket origins that misbehave on purpose, and a raw HTTP/1.1 exchange.

::

    with uvicorn_server(app) as port: ...
    with werkzeug_server(wsgi_app) as port: ...
    with raw_origin(respond) as origin: ...   # respond(origin, conn, path, n) writes the bytes
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

__all__ = [
    "EVIL",
    "KeepAliveOrigin",
    "RawOrigin",
    "bound_socket",
    "dead_url",
    "exchange",
    "free_port",
    "keepalive_answer",
    "keepalive_origin",
    "raw_origin",
    "read_head",
    "reset",
    "serve_in_thread",
    "uvicorn_server",
    "wait_until",
    "werkzeug_server",
    "wire_head",
]


def free_port() -> int:
    """A loopback port nothing listens on (free when this returns)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bound_socket() -> socket.socket:
    """A TCP socket bound to a free loopback port (SO_REUSEADDR), not yet listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def dead_url() -> str:
    """An ``http://`` URL on a loopback port nothing listens on: connection refused."""
    return f"http://127.0.0.1:{free_port()}"


def wait_until(
    check: Callable[[], bool], timeout: float = 15.0, what: str = "", poll: float = 0.05
) -> None:
    """Call ``check`` every ``poll`` seconds until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or 'a condition'}")
        time.sleep(poll)


# -- uvicorn and Werkzeug in a thread ------------------------------------------------------------
@contextlib.contextmanager
def uvicorn_server(app: Any, **options: Any) -> Iterator[int]:
    """Serve an ASGI app with uvicorn (h11, asyncio) in a thread; yields the port.

    ``options`` go to ``uvicorn.Config`` (``log_level`` defaults to ``"critical"``)."""
    import uvicorn

    sock = bound_socket()
    settings: dict[str, Any] = {
        "lifespan": "off",
        "log_level": "critical",
        "http": "h11",
        "ws": "none",
        "loop": "asyncio",
        **options,
    }
    server = uvicorn.Server(uvicorn.Config(app, **settings))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    try:
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def _quiet_handler() -> Any:
    from werkzeug.serving import WSGIRequestHandler

    class Quiet(WSGIRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass

    return Quiet


@contextlib.contextmanager
def werkzeug_server(
    app: Any, *, threaded: bool = True, quiet: bool = True, backlog: int | None = None
) -> Iterator[int]:
    """Serve a WSGI app with Werkzeug's server in a thread; yields the port.

    ``quiet`` drops the per-request log lines; ``backlog`` re-listens with a longer queue."""
    from werkzeug.serving import make_server

    handler = _quiet_handler() if quiet else None
    server = make_server("127.0.0.1", 0, app, threaded=threaded, request_handler=handler)
    if backlog is not None:
        server.socket.listen(backlog)
        server.daemon_threads = True
    with serve_in_thread(server):
        yield int(server.server_port)


@contextlib.contextmanager
def serve_in_thread(server: socketserver.BaseServer) -> Iterator[None]:
    """Run ``server.serve_forever`` in a thread until the block ends, then shut it down."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield
    finally:
        release = getattr(server, "release", None)
        if isinstance(release, threading.Event):
            release.set()  # handlers waiting on it return, so shutdown does not wait for them
        server.shutdown()
        thread.join(10)
        server.server_close()


# -- raw-socket origins ---------------------------------------------------------------------------
def read_head(conn: socket.socket) -> bytes | None:
    """Read up to the end of one request head (``\\r\\n\\r\\n``); ``None`` if the peer closed."""
    head = b""
    while b"\r\n\r\n" not in head:
        data = conn.recv(65536)
        if not data:
            return None
        head += data
    return head


def reset(conn: socket.socket) -> None:
    """Close with SO_LINGER 0: the peer sees a TCP reset, not a clean end."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


#: ``respond(origin, conn, path, n)``: answer the ``n``-th request for ``path`` on ``conn``.
Respond = Callable[["RawOrigin", socket.socket, str, int], None]


class _OneRequest(socketserver.BaseRequestHandler):
    server: RawOrigin

    def handle(self) -> None:
        conn: socket.socket = self.request
        conn.settimeout(10)
        head = read_head(conn)
        if head is None:
            return
        path = head.split(b" ", 2)[1].decode("latin-1")
        with self.server.lock:
            self.server.hits[path] = n = self.server.hits.get(path, 0) + 1
        self.server.respond(self.server, conn, path, n)


class RawOrigin(socketserver.ThreadingTCPServer):
    """An HTTP origin on raw sockets: reads one request head per connection, counts it in
    ``hits`` (by path) and lets ``respond`` write whatever bytes it likes (or none), so a test
    can send truncated bodies, resets and stalls no real server would. ``release`` is set when
    the server stops, so a ``respond`` that waits on it returns."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        respond: Respond,
        handler: type[socketserver.BaseRequestHandler] = _OneRequest,
    ) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.respond = respond
        self.release = threading.Event()
        self.hits: dict[str, int] = {}
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextlib.contextmanager
def raw_origin(respond: Respond) -> Iterator[RawOrigin]:
    """A :class:`RawOrigin` serving in a thread for the duration of the block."""
    server = RawOrigin(respond)
    with serve_in_thread(server):
        yield server


# -- a keep-alive origin that misframes some answers (raw sockets) ----------------------------
#: What the origin sends after the answer to an overrunning path: a whole second response that
#: must never reach anyone (issue 15).
EVIL = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nCache-Control: max-age=600\r\n\r\nEVIL!!"


def keepalive_answer(path: str) -> bytes:
    """The bytes a :class:`KeepAliveOrigin` sends for ``path`` (all in one ``sendall``).

    * ``/over...``: ``Content-Length: 2``, body ``hi``, then :data:`EVIL` (the overrun);
    * ``/chunked-over...``: a valid chunked ``hi``, then :data:`EVIL`;
    * ``/chunked-bad...``: a chunk whose size line is not hex (a chunked framing error);
    * ``/head-body...``: a normal answer whose body is sent even to a HEAD;
    * ``/late-over...``: as ``/over``, but :data:`EVIL` is sent only once ``server.late`` is set;
    * ``/stale...`` (``/stale-reset...``): answered as any other path when it is the first request
      on its connection; a later one is read and the connection closed (reset) with no answer,
      as an origin that closes an idle keep-alive connection just as a request arrives;
    * anything else: ``200``, the path as its body.

    Every answer says ``Cache-Control: max-age=600``, or ``no-store`` when the path contains
    ``nostore`` (then the edge streams it instead of reading it whole).
    """
    cc = b"no-store" if "nostore" in path else b"max-age=600"
    head = b"HTTP/1.1 200 OK\r\nCache-Control: " + cc + b"\r\n"
    if path.startswith(("/over", "/late-over")):
        return head + b"Content-Length: 2\r\n\r\nhi" + EVIL
    if path.startswith("/chunked-over"):
        return head + b"Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n" + EVIL
    if path.startswith("/chunked-bad"):
        return head + b"Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\nzz\r\nEVIL!!\r\n0\r\n\r\n"
    body = path.encode("latin-1")
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


class _KeepAlive(socketserver.BaseRequestHandler):
    """Answers every request on a connection until the client closes it (HTTP/1.1 keep-alive),
    so a proxy that reuses a connection reads whatever the previous answer left behind."""

    server: KeepAliveOrigin

    def handle(self) -> None:
        conn: socket.socket = self.request
        conn.settimeout(10)
        with self.server.lock:
            self.server.connections += 1
        buf = b""
        served = 0
        while True:
            got = _receive_until(conn, buf, lambda b: b"\r\n\r\n" in b)
            if got is None:
                return
            head, _, buf = got.partition(b"\r\n\r\n")
            method, path = head.split(b" ", 2)[:2]
            text = path.decode("latin-1")
            length = _content_length(head)
            got = _receive_until(conn, buf, lambda b, n=length: len(b) >= n)
            if got is None:
                return
            body, buf = got[:length], got[length:]
            with self.server.lock:
                self.server.hits[text] = self.server.hits.get(text, 0) + 1
                self.server.bodies.setdefault(text, []).append(body)
            served += 1
            if text.startswith("/stale") and served > 1:  # closed as the request came in
                if text.startswith("/stale-reset"):
                    reset(conn)
                return
            answer = keepalive_answer(text)
            if text.startswith("/late-over"):  # the surplus comes only when the test says so
                conn.sendall(answer.removesuffix(EVIL))
                self.server.late.wait(10)
                answer = EVIL
                self.server.late_sent.set()
            if method == b"HEAD" and not text.startswith("/head-body"):  # that one sends a body
                answer = answer.partition(b"\r\n\r\n")[0] + b"\r\n\r\n"
            try:
                conn.sendall(answer)
            except OSError:
                return


def _receive_until(
    conn: socket.socket, buf: bytes, enough: Callable[[bytes], bool]
) -> bytes | None:
    """``buf`` and what arrives until ``enough(buf)``; ``None`` when the connection ends."""
    while not enough(buf):
        try:
            data = conn.recv(65536)
        except OSError:
            return None
        if not data:
            return None
        buf += data
    return buf


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


class KeepAliveOrigin(RawOrigin):
    """A :class:`RawOrigin` answering with :func:`keepalive_answer` on keep-alive connections;
    :attr:`bodies` keeps each path's request bodies (read by ``Content-Length``)."""

    def __init__(self) -> None:
        super().__init__(_no_respond, _KeepAlive)
        self.connections = 0
        self.bodies: dict[str, list[bytes]] = {}
        self.late = threading.Event()
        self.late_sent = threading.Event()


def _no_respond(server: RawOrigin, conn: socket.socket, path: str, n: int) -> None:
    raise AssertionError("KeepAliveOrigin answers in its own handler")


@contextlib.contextmanager
def keepalive_origin() -> Iterator[KeepAliveOrigin]:
    server = KeepAliveOrigin()
    with serve_in_thread(server):
        yield server


# -- a raw HTTP/1.1 client ------------------------------------------------------------------------
def exchange(port: int, raw: bytes, timeout: float = 10.0) -> bytes:
    """Send raw bytes (one request with ``Connection: close``), return everything received."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    return data


def wire_head(data: bytes) -> tuple[int, list[bytes]]:
    """The status and the header lines of the first response in ``data``."""
    head = data.partition(b"\r\n\r\n")[0]
    lines = head.split(b"\r\n")
    return int(lines[0].split(b" ")[1]), lines[1:]
