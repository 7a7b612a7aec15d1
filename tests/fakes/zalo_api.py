"""A fake Zalo Bot Platform API as an httpx transport, refusing what the real server refuses.

What it enforces, from ../shared/platforms/zalo.md §6 (Bot Platform) and its sources:
- every answer is the `{ok, result?, description?, error_code?}` envelope; errors come with HTTP 200 and `ok:false`
  (a wrong token is also answered with HTTP 401), codes 400, 401, 404, 408 and 429 "Quota exceeded";
- `getMe` answers `{id, account_name, account_type: "BASIC", can_join_groups}`, `can_join_groups` false by default
  (the documented sample; most bots cannot join groups);
- `setWebhook` wants an HTTPS `url` and a `secret_token` of 8-256 characters; `getUpdates` does not work while a
  webhook is set (`deleteWebhook` first); `getWebhookInfo` answers `{url, updated_at}`;
- `sendMessage` text is 1-2,000 characters; `sendPhoto` `caption`, when present, is 1-2,000 characters;
- a bot that cannot join groups is never in one: group updates are not delivered to it and sends to a group chat
  are refused;
- an image message's picture is an address on the CDN (`photo`, or `photo_url` in some sources: the channel
  accepts both), served to a plain GET without the token; `photos` holds what it serves, anything else is a 404.
The exact descriptions of the refusals are not documented; the codes and the envelope are.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

TOKEN = "zalo-test-token-42"
BASE = "http://fake-zalo.test"
BOT_ID = "zbot-1"
# Where the fake servers' CDN serves the pictures of image messages (the real ones are on Zalo's own hosts).
PHOTO_PATH = "/photos/"
# getMe has no display name: account_name is a handle (the research notes saw "bot.VDKyGxQvc").
ACCOUNT_NAME = "bot.TcnsTest42"


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the way Zalo's server (a JavaScript/Java stack) counts characters."""
    return len(text.encode("utf-16-le")) // 2


def error(code: int, description: str, status: int = 200) -> httpx.Response:
    """An error envelope (HTTP 200 unless told: Zalo reports errors in the body)."""
    return httpx.Response(status, json={"ok": False, "error_code": code, "description": description})


class FakeZaloApi:
    """Records (method, params); `updates` feeds getUpdates (408 when empty); `fail` scripts errors.

    `can_join_groups` is what getMe answers; `groups` are chat ids that are group chats (any chat seen in a
    GROUP update is one too); `quota_exceeded` answers every send with 429 until cleared.
    """

    def __init__(
        self,
        known_chats: set[str] | None = None,
        on_empty: Callable[[], None] | None = None,
        *,
        can_join_groups: bool = False,
        groups: set[str] | None = None,
        webhook_url: str = "",
    ) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.updates: list[dict[str, Any]] = []
        self.known_chats = known_chats
        self.on_empty = on_empty
        self.can_join_groups = can_join_groups
        self.groups: set[str] = set(groups or ())
        self.webhook_url = webhook_url
        self.webhook_secret = ""
        self.quota_exceeded = False
        self.token = TOKEN
        self.unauthorized = 0  # requests refused for a wrong token
        self.account_name = ACCOUNT_NAME
        # method -> list of (http status, body) answered before normal service resumes
        self.fail: dict[str, list[tuple[int, dict[str, Any]] | None]] = {}
        self.reject_markdown = False
        # The pictures users sent, as Zalo's CDN serves the `photo` (or `photo_url`) address of an image message:
        # a plain GET with no token; one it no longer has (expired, removed) is a 404.
        self.photos: dict[str, bytes] = {}

    def photo(self, request: httpx.Request) -> httpx.Response:
        """The CDN's answer to a GET of a photo's address (`/photos/<name>`)."""
        content = self.photos.get(request.url.path.removeprefix(PHOTO_PATH))
        if request.method != "GET" or content is None:
            return httpx.Response(404, text="Not Found")
        return httpx.Response(200, content=content, headers={"Content-Type": "image/jpeg"})

    def _is_group(self, chat_id: object) -> bool:
        return isinstance(chat_id, str) and chat_id in self.groups

    def _next_update(self) -> dict[str, Any] | None:
        """The next update a real server would deliver: none from a group the bot cannot be in."""
        while self.updates:
            update = self.updates.pop(0)
            chat = update.get("message", {}).get("chat", {})
            if str(chat.get("chat_type", "")).upper() == "GROUP":
                self.groups.add(str(chat.get("id")))
                if not self.can_join_groups:
                    continue
            return update
        return None

    def deliver(self, update: dict[str, Any]) -> dict[str, Any] | None:
        """What a real server would POST to the webhook for this update: None for a group this bot cannot be in."""
        self.updates.append(update)
        return self._next_update()

    def handler(self, request: httpx.Request) -> httpx.Response:
        """Serve one request the way the Zalo Bot API would (errors with HTTP 200 and ok:false)."""
        prefix = f"/bot{self.token}/"
        if request.method != "POST" or not request.url.path.startswith(prefix):
            self.unauthorized += 1
            return error(401, "Unauthorized", status=401)
        method = request.url.path[len(prefix) :]
        params = json.loads(request.content or b"{}")
        self.calls.append((method, params))
        if self.fail.get(method):
            scripted = self.fail[method].pop(0)
            if scripted is not None:  # None: answer this one normally, fail a later one
                return httpx.Response(scripted[0], json=scripted[1])
        if method == "getMe":
            return httpx.Response(
                200,
                json={
                    "ok": True,
                    "result": {
                        "id": BOT_ID,
                        "account_name": self.account_name,
                        "account_type": "BASIC",
                        "can_join_groups": self.can_join_groups,
                    },
                },
            )
        if method == "getUpdates":
            if self.webhook_url:
                return error(400, "Bad request: getUpdates is not available while a webhook is set")
            update = self._next_update()
            if update is None:
                if self.on_empty:
                    self.on_empty()
                return error(408, "Request timeout")
            return httpx.Response(200, json={"ok": True, "result": update})
        if method == "setWebhook":
            url, secret = params.get("url"), params.get("secret_token")
            if not isinstance(url, str) or not url.startswith("https://"):
                return error(400, "Bad request: url must be an HTTPS URL")
            if not isinstance(secret, str) or not 8 <= len(secret) <= 256:
                return error(400, "Bad request: secret_token must be 8-256 characters")
            self.webhook_url, self.webhook_secret = url, secret
            return httpx.Response(200, json={"ok": True, "result": {"url": url, "updated_at": 1795000000000}})
        if method == "deleteWebhook":
            self.webhook_url = ""
            return httpx.Response(200, json={"ok": True, "result": {"url": "", "updated_at": 1795000000000}})
        if method == "getWebhookInfo":
            return httpx.Response(200, json={"ok": True, "result": {"url": self.webhook_url, "updated_at": 0}})
        if method in ("sendMessage", "sendPhoto"):
            return self._send(method, params)
        return error(404, "Not found")

    def _send(self, method: str, params: dict[str, Any]) -> httpx.Response:
        if self.quota_exceeded:
            return error(429, "Quota exceeded")
        chat_id = params.get("chat_id")
        if self._is_group(chat_id) and not self.can_join_groups:
            # The bot cannot be a member of any group: the chat does not exist for it.
            return error(400, "Bad request: chat not found")
        if self.known_chats is not None and chat_id not in self.known_chats:
            return error(400, "Bad request: chat not found")
        if method == "sendMessage":
            text = params.get("text")
            if not isinstance(text, str) or not 1 <= utf16_len(text) <= 2000:
                return error(400, "Bad request: text must be 1-2000 characters")
            if self.reject_markdown and "parse_mode" in params:
                return error(400, "Can't parse markdown entities")
        else:
            if not str(params.get("photo", "")).startswith("http"):
                return error(400, "Bad request: photo url")
            if "caption" in params:
                caption = params["caption"]
                if not isinstance(caption, str) or not 1 <= utf16_len(caption) <= 2000:
                    return error(400, "Bad request: caption must be 1-2000 characters")
        return httpx.Response(200, json={"ok": True, "result": {"message_id": f"out-{len(self.calls)}"}})

    def client(self) -> httpx.AsyncClient:
        """An httpx client routed to this fake."""
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handler))

    def sent(self, method: str = "sendMessage") -> list[dict[str, Any]]:
        """Parameters of every call of one method."""
        return [p for m, p in self.calls if m == method]
