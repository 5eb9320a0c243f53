"""The dev server's WSGI server: cheroot, as a server in front of CloudFront's edge would take
the viewer's request (every line of a repeated header, absolute-form and ``//`` targets) and
without a ``Server`` header of its own."""

from __future__ import annotations

from typing import Any

__all__ = ["cheroot_server"]


class _NoOwnServerHeader(list):  # type: ignore[type-arg]
    """A response's header list that drops the ``Server`` line cheroot appends on its own."""

    def append(self, item: Any) -> None:
        if item[0] != b"Server":
            super().append(item)


def cheroot_server() -> Any:
    """cheroot's WSGI server class, minus the ``Server: <host>`` it adds to every answer that
    has none. CloudFront adds no ``Server`` to an origin's answer (only its own pages say
    ``Server: CloudFront``) and the ASGI dev server sends none (uvicorn's ``server_header`` is
    off); an answer the app gave a ``Server`` keeps it."""
    from cheroot import server as http
    from cheroot import wsgi

    class Request(http.HTTPRequest):
        header_reader = _every_line(http.HeaderReader)

        def __init__(self, server: Any, conn: Any, *args: Any, **kwargs: Any) -> None:
            # an absolute-form target (RFC 9112 §3.2.2) and a path that starts with // are
            # served, as uvicorn and gunicorn serve them (cheroot answered 400)
            kwargs["proxy_mode"] = True
            super().__init__(server, conn, *args, **kwargs)

        def parse_request(self) -> None:
            # the server's timeout holds for reading a request (and an idle keep-alive)...
            _socket_timeout(self.conn, self.server.timeout)
            super().parse_request()

        def send_headers(self) -> None:
            # ...not for writing the answer: cheroot's socket timeout held for its sends too,
            # and a viewer that paused reading a download for 10 s (a video player with a full
            # buffer) had it cut; uvicorn's, gunicorn's and CloudFront's wait for it
            _socket_timeout(self.conn, None)
            if self.chunked_read and not getattr(self.rfile, "closed", True):
                # a chunked body the answer left unread (a function's own answer, CloudFront's
                # error): cheroot drains only a Content-Length body, and the rest would be read
                # as the next request on the connection. Close it, as uvicorn does.
                self.close_connection = True
            if not any(key.lower() == b"server" for key, _ in self.outheaders):
                self.outheaders = _NoOwnServerHeader(self.outheaders)
            super().send_headers()

    class Connection(http.HTTPConnection):
        RequestHandlerClass = Request

    class Server(wsgi.Server):
        ConnectionClass = Connection

    return Server


def _socket_timeout(conn: Any, seconds: float | None) -> None:
    sock = getattr(conn, "socket", None)
    if sock is not None and hasattr(sock, "settimeout"):
        try:
            sock.settimeout(seconds)
        except OSError:  # (a connection closed meanwhile: its next read or write says so)
            pass


def _every_line(base: type) -> Any:
    """A cheroot ``HeaderReader`` that keeps every line of a repeated header (cheroot's own
    keeps the last one of most names: two Cookie lines reached the app as the second, lambda-
    edge.md §1.4 makes them one list). Repeated lines are joined as the ASGI dev server's
    frameworks join them (``; `` for Cookie, ``, `` for the rest); an obs-folded line is a 400
    (RFC 9112 §5.2), not the continuation alone."""

    class EveryLine(base):  # type: ignore[misc]
        def __call__(self, rfile: Any, hdict: dict[bytes, bytes] | None = None) -> Any:
            headers: dict[bytes, bytes] = {} if hdict is None else hdict
            while True:
                line = rfile.readline()
                if not line:
                    raise ValueError("Illegal end of headers.")
                if line == b"\r\n":
                    return headers
                if not line.endswith(b"\r\n"):
                    raise ValueError("HTTP requires CRLF terminators")
                if line[:1] in (b" ", b"\t"):
                    raise ValueError("Obsolete line folding is not accepted.")
                name, colon, value = line.partition(b":")
                if not colon:
                    raise ValueError("Illegal header line.")
                key, value = name.strip().title(), value.strip()
                before = headers.get(key)
                if before is not None:
                    value = before + (b"; " if key == b"Cookie" else b", ") + value
                headers[key] = value

    return EveryLine()
