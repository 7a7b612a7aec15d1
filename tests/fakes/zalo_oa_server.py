"""The fake Zalo OA served over real local HTTP, for code that opens its own connections (`tocns` subprocesses)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler

import httpx

from tests.fakes.local_server import LocalServer
from tests.fakes.zalo_oa_api import FakeZaloOa


def _handler(fake: FakeZaloOa, lock: threading.Lock) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def _serve(self, method: str) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            request = httpx.Request(method, f"http://fake-zalo-oa{self.path}", content=body, headers=headers)
            with lock:
                response = fake.handler(request)
            self.send_response(response.status_code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(response.content)))
            self.end_headers()
            self.wfile.write(response.content)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler


class ZaloOaServer(LocalServer):
    """Runs a FakeZaloOa on 127.0.0.1 in a background thread (both the OAuth and the OpenAPI base URL)."""

    def __init__(self, fake: FakeZaloOa | None = None) -> None:
        self.fake = fake or FakeZaloOa()
        super().__init__(_handler(self.fake, threading.Lock()))
