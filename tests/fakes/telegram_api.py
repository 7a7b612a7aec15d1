"""A fake Telegram Bot API as an httpx transport: checks the token and method, records parameters."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx
from telegram import Bot
from telegram.request import HTTPXRequest

TOKEN = "123456:TEST-telegram-token"
BASE = "http://fake-telegram.test"
KNOWN = {
    "getWebhookInfo",
    "getMe",
    "getUpdates",
    "setWebhook",
    "deleteWebhook",
    "setMyCommands",
    "sendMessage",
    "logOut",
    "close",
}


def _decode(request: httpx.Request) -> dict[str, Any]:
    body = request.content.decode()
    if not body:
        return {}
    if request.headers.get("content-type", "").startswith("application/json"):
        return dict(json.loads(body))
    params: dict[str, Any] = {}
    for key, value in parse_qsl(body):
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


class FakeTelegramApi:
    """Answers Bot API methods; `updates` feeds getUpdates, `calls` records (method, params)."""

    def __init__(self, on_empty: Callable[[], None] | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.updates: list[dict[str, Any]] = []
        self.webhook_url = ""
        self.on_empty = on_empty

    def handler(self, request: httpx.Request) -> httpx.Response:
        """Serve one request the way the Bot API would."""
        prefix = f"/bot{TOKEN}/"
        if request.method != "POST" or not request.url.path.startswith(prefix):
            return httpx.Response(404, json={"ok": False, "error_code": 404, "description": "Not Found"})
        method = request.url.path[len(prefix) :]
        if method not in KNOWN:
            return httpx.Response(404, json={"ok": False, "error_code": 404, "description": "method not found"})
        params = _decode(request)
        self.calls.append((method, params))
        result: Any = True
        if method == "getMe":
            result = {"id": 999, "is_bot": True, "first_name": "Tổ CNS", "username": "ToCNSBot"}
        elif method == "getUpdates":
            result, self.updates = self.updates, []
            if not result and self.on_empty:
                self.on_empty()
        elif method == "setWebhook" and not str(params.get("url", "")).startswith("https://"):
            return httpx.Response(400, json={"ok": False, "error_code": 400, "description": "HTTPS url required"})
        elif method == "setWebhook":
            self.webhook_url = str(params["url"])
        elif method == "getWebhookInfo":
            result = {"url": self.webhook_url, "has_custom_certificate": False, "pending_update_count": 0}
        return httpx.Response(200, json={"ok": True, "result": result})

    def methods(self) -> list[str]:
        """The methods called, in order."""
        return [m for m, _ in self.calls]

    def bot(self) -> Bot:
        """A PTB Bot talking to this fake."""
        request = HTTPXRequest(httpx_kwargs={"transport": httpx.MockTransport(self.handler)})
        return Bot(TOKEN, base_url=f"{BASE}/bot", request=request, get_updates_request=request)
