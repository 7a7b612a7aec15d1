"""The fake Zalo Bot API served over real local HTTP, for code that opens its own connections (`tocns serve`)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler

import httpx

from tests.fakes.local_server import LocalServer
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

        def do_GET(self) -> None:
            # Only the CDN of image messages answers a GET; the Bot API's methods are all POSTs.
            with lock:
                response = fake.photo(httpx.Request("GET", f"http://fake-zalo{self.path}"))
            self.send_response(response.status_code)
            self.send_header("Content-Type", response.headers.get("Content-Type", "text/plain"))
            self.send_header("Content-Length", str(len(response.content)))
            self.end_headers()
            self.wfile.write(response.content)

    return Handler


class ZaloServer(LocalServer):
    """Runs a FakeZaloApi on 127.0.0.1 in a background thread; use as a context manager."""

    def __init__(self, fake: FakeZaloApi | None = None) -> None:
        self.fake = fake or FakeZaloApi()
        super().__init__(_handler(self.fake, threading.Lock()))
