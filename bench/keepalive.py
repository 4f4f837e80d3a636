"""A WSGI server on loopback that keeps connections alive (HTTP/1.1), a thread per
connection, for the webhook benches' receiver and deliver endpoint. werkzeug's
development server closes every connection after its answer, so each request paid a
TCP connect and a thread start; a receiver in production (and Cloud Run in front of our
functions) keeps them open. Only what the benches' Flask apps need: a body by
Content-Length, answers buffered whole."""

from __future__ import annotations

import io
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # the head and the body go as two writes

    def log_message(self, *args) -> None:
        pass

    def _wsgi(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        environ = {
            "REQUEST_METHOD": self.command, "SCRIPT_NAME": "", "PATH_INFO": path,
            "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": str(self.server.server_address[1]),
            "SERVER_PROTOCOL": self.request_version, "REMOTE_ADDR": self.client_address[0],
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(length), "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
            "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                environ[key] = value
        started: list = []
        chunks = self.server.app(environ, lambda status, headers, exc_info=None:
                                 started.append((status, headers)))
        try:
            data = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        status, headers = started[-1]
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        for name, value in headers:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _wsgi


class KeepAliveServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, app):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.app = app
        self.server_port = self.server_address[1]

    def shutdown(self) -> None:
        super().shutdown()
        self.server_close()


def serve(app) -> KeepAliveServer:
    server = KeepAliveServer(app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
