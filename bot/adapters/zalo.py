"""Zalo Bot Platform adapter: webhook or getUpdates bodies in, neutral messages to the core."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import httpx

from bot.app import BotApp
from bot.delivery import handle_message
from bot.messages import ChatType, IncomingMessage, Reply

log = logging.getLogger(__name__)

PLATFORM = "zalo"


class UpdateShapeError(ValueError):
    """The body is not a Zalo update."""


class ZaloApi:
    """A thin JSON-over-POST client of `{base}/bot{token}/{method}`."""

    def __init__(self, base_url: str, token: str, client: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.client = client or httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=60.0))

    async def call(self, method: str, payload: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        """POST one method; returns the parsed JSON body (any status: Zalo often reports errors with 200)."""
        url = f"{self.base_url}/bot{self.token}/{method}"
        kwargs: dict[str, Any] = {"json": payload or {}}
        if timeout is not None:
            kwargs["timeout"] = timeout
        response = await self.client.post(url, **kwargs)
        try:
            return response.json()
        except ValueError:
            return {"ok": False, "error_code": response.status_code, "description": response.text[:200]}

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.client.aclose()


def unwrap(body: object) -> dict[str, Any]:
    """The update inside a body wrapped in `{ok, result}` or bare; raises UpdateShapeError otherwise."""
    if isinstance(body, dict) and "result" in body and "message" not in body:
        body = body["result"]
    if not isinstance(body, dict):
        raise UpdateShapeError("not a Zalo update: not an object")
    message = body.get("message")
    if not isinstance(message, dict):
        raise UpdateShapeError("not a Zalo update: message missing")
    chat = message.get("chat")
    sender = message.get("from")
    if not isinstance(chat, dict) or not isinstance(sender, dict):
        raise UpdateShapeError("not a Zalo update: chat or from missing")
    for value in (message.get("message_id"), chat.get("id"), sender.get("id")):
        if not isinstance(value, str | int) or isinstance(value, bool) or str(value) == "":
            raise UpdateShapeError("not a Zalo update: ids missing")
        if "\x00" in str(value) or len(str(value)) > 100:  # ids become keys in text columns PostgreSQL checks
            raise UpdateShapeError("not a Zalo update: malformed id")
    return body


def _text(message: dict[str, Any]) -> str:
    for field in ("text", "caption"):
        value = message.get(field)
        if isinstance(value, str) and value.strip():
            return value
    return ""


def _photo(message: dict[str, Any]) -> str | None:
    for field in ("photo_url", "photo"):
        value = message.get(field)
        if isinstance(value, str) and value:
            return value
    return None


def _sent_at(message: dict[str, Any]) -> datetime | None:
    value = message.get("date")
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 10**14:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    return None


def to_incoming(update: dict[str, Any], bot_user_id: str | None = None) -> IncomingMessage | None:
    """Translate a Zalo update into a neutral message; None for the bot's own messages or no text."""
    message = update["message"]
    sender, chat = message["from"], message["chat"]
    user_id = str(sender["id"])
    if sender.get("is_bot") is True or (bot_user_id and user_id == bot_user_id):
        return None
    text = _text(message)
    if not text:
        return None
    private = str(chat.get("chat_type", "")).upper() == "PRIVATE"
    name = sender.get("display_name")
    return IncomingMessage(
        platform=PLATFORM,
        chat_id=str(chat["id"]),
        user_id=user_id,
        display_name=name if isinstance(name, str) and name else f"Người dùng Zalo {user_id[-4:]}",
        text=text,
        message_id=str(message["message_id"]),
        chat_type=ChatType.PRIVATE if private else ChatType.GROUP,
        # In groups Zalo only delivers messages that mention the bot, so `@Bot ghi ...` is a command.
        addressed_to_bot=True,
        photo=_photo(message),
        sent_at=_sent_at(message),
    )


class ZaloAdapter:
    """Handles Zalo updates from the webhook or from getUpdates."""

    platform = PLATFORM

    def __init__(self, app: BotApp, api: ZaloApi | None = None) -> None:
        self.app = app
        self.api = api or ZaloApi(app.settings.zalo_api_base_url, app.settings.zalo_bot_token)
        self.bot_user_id: str | None = None

    def check(self, body: object) -> dict[str, Any]:
        """Validate a webhook body and return the bare update."""
        return unwrap(body)

    def chat_key(self, update: dict[str, Any]) -> str:
        """The chat of an update."""
        return str(update["message"]["chat"]["id"])

    def update_key(self, update: dict[str, Any]) -> str:
        """The de-duplication key: chat id and message_id (Zalo updates have no update id)."""
        message = update["message"]
        return f"{message['chat']['id']}:{message['message_id']}"

    async def handle_update(self, body: dict[str, Any]) -> list[Reply]:
        """Process one update and enqueue what it answers."""
        update = unwrap(body)
        incoming = to_incoming(update, self.bot_user_id)
        if incoming is None:
            return []
        return await handle_message(self.app, incoming, f"{PLATFORM}:{self.update_key(update)}")

    async def start(self) -> None:
        """Learn the bot's own id and name (getMe) so its echoes are ignored and mentions stripped."""
        data = await self.api.call("getMe")
        result = data.get("result") if isinstance(data, dict) else None
        if isinstance(result, dict):
            self.bot_user_id = str(result.get("id")) if result.get("id") is not None else None
            for field in ("account_name", "display_name"):
                if isinstance(result.get(field), str) and result[field]:
                    self.app.router.bot_names.add(result[field])

    async def set_webhook(self, url: str) -> Any:
        """Point Zalo at our webhook with the secret it must echo."""
        return await self.api.call("setWebhook", {"url": url, "secret_token": self.app.settings.zalo_webhook_secret})

    async def close(self) -> None:
        """Release the HTTP client."""
        await self.api.aclose()

    async def poll(self, process: Any, stop: asyncio.Event | None = None) -> None:
        """Long-poll getUpdates (one update per call; 408 means none yet) until `stop` is set."""
        timeout = self.app.settings.polling_timeout_seconds
        while stop is None or not stop.is_set():
            try:
                data = await self.api.call("getUpdates", {"timeout": str(timeout)}, timeout=timeout + 10)
            except httpx.HTTPError:
                log.warning("zalo getUpdates failed; retrying in 3 s", exc_info=True)
                await asyncio.sleep(3)
                continue
            if not isinstance(data, dict) or not data.get("ok"):
                code = data.get("error_code") if isinstance(data, dict) else None
                if code != 408:
                    log.warning("zalo getUpdates error %s; retrying in 3 s", code)
                    await asyncio.sleep(3)
                continue
            result = data.get("result")
            updates = result if isinstance(result, list) else [result]
            for update in updates:
                try:
                    checked = unwrap(update)
                except UpdateShapeError:
                    log.warning("zalo getUpdates returned an unknown shape; skipped")
                    continue
                try:
                    await process(self, checked)
                except Exception:
                    # Zalo cannot redeliver a polled update: log it with its body so nothing is lost silently.
                    log.exception("zalo update could not be stored: %r", checked)
                    await asyncio.sleep(3)
