"""The fake Zalo Bot API served over real local HTTP, for code that opens its own connections (`tocns serve`)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from tests.fakes.zalo_api import FakeZaloApi


def _handler(fake: FakeZaloApi, lock: threading.Lock) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request = httpx.Request("POST", f"http://fake-zalo{self.path}", content=body)
            with lock:
                response = fake.handler(request)
            self.send_response(response.status_code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(response.content)))
            self.end_headers()
            self.wfile.write(response.content)

    return Handler


class ZaloServer:
    """Runs a FakeZaloApi on 127.0.0.1 in a background thread; use as a context manager."""

    def __init__(self, fake: FakeZaloApi | None = None) -> None:
        self.fake = fake or FakeZaloApi()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.fake, threading.Lock()))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """The value for ZALO_API_BASE_URL."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> ZaloServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
