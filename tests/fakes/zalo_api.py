"""A fake Zalo Bot API as an httpx transport: checks token, method and chat ids; scripted failures."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

TOKEN = "zalo-test-token-42"
BASE = "http://fake-zalo.test"
BOT_ID = "zbot-1"


class FakeZaloApi:
    """Records (method, params); `updates` feeds getUpdates (408 when empty); `fail` scripts errors."""

    def __init__(self, known_chats: set[str] | None = None, on_empty: Callable[[], None] | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.updates: list[dict[str, Any]] = []
        self.known_chats = known_chats
        self.on_empty = on_empty
        # method -> list of (http status, body) answered before normal service resumes
        self.fail: dict[str, list[tuple[int, dict[str, Any]] | None]] = {}
        self.reject_markdown = False

    def handler(self, request: httpx.Request) -> httpx.Response:
        """Serve one request the way the Zalo Bot API would (errors often with HTTP 200)."""
        prefix = f"/bot{TOKEN}/"
        if request.method != "POST" or not request.url.path.startswith(prefix):
            return httpx.Response(401, json={"ok": False, "error_code": 401, "description": "Unauthorized"})
        method = request.url.path[len(prefix) :]
        params = json.loads(request.content or b"{}")
        self.calls.append((method, params))
        if self.fail.get(method):
            scripted = self.fail[method].pop(0)
            if scripted is not None:  # None: answer this one normally, fail a later one
                return httpx.Response(scripted[0], json=scripted[1])
        if method == "getMe":
            return httpx.Response(200, json={"ok": True, "result": {"id": BOT_ID, "account_name": "ToCNSBot"}})
        if method == "getUpdates":
            if not self.updates:
                if self.on_empty:
                    self.on_empty()
                return httpx.Response(200, json={"ok": False, "error_code": 408, "description": "Request timeout"})
            return httpx.Response(200, json={"ok": True, "result": self.updates.pop(0)})
        if method in ("sendMessage", "sendPhoto"):
            chat_id = params.get("chat_id")
            if self.known_chats is not None and chat_id not in self.known_chats:
                return httpx.Response(200, json={"ok": False, "error_code": 400, "description": "chat not found"})
            if method == "sendMessage":
                text = params.get("text", "")
                if not 1 <= len(text) <= 2000:
                    return httpx.Response(200, json={"ok": False, "error_code": 400, "description": "text length"})
                if self.reject_markdown and "parse_mode" in params:
                    return httpx.Response(
                        200, json={"ok": False, "error_code": 400, "description": "Can't parse markdown entities"}
                    )
            elif not str(params.get("photo", "")).startswith("http"):
                return httpx.Response(200, json={"ok": False, "error_code": 400, "description": "photo url"})
            return httpx.Response(200, json={"ok": True, "result": {"message_id": f"out-{len(self.calls)}"}})
        if method == "setWebhook":
            return httpx.Response(200, json={"ok": True, "result": {"url": params.get("url")}})
        return httpx.Response(200, json={"ok": False, "error_code": 404, "description": "method not found"})

    def client(self) -> httpx.AsyncClient:
        """An httpx client routed to this fake."""
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handler))

    def sent(self, method: str = "sendMessage") -> list[dict[str, Any]]:
        """Parameters of every call of one method."""
        return [p for m, p in self.calls if m == method]
