"""Zalo Bot Platform: webhook or getUpdates bodies in as neutral messages; outbox messages out by sendMessage."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tocns.channels.base import SendResult, SendStatus, SetupError
from tocns.config import Settings
from tocns.core.clock import utcnow
from tocns.core.files import save_attachment
from tocns.core.mentions import render_plain
from tocns.core.messages import Attachment, ChatType, IncomingMessage
from tocns.core.router import Router
from tocns.core.signed_links import can_sign, sign_url
from tocns.core.text import escape_markup, split_chunks, utf16_len
from tocns.core.updates import Checked

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


TOKEN_HINT = "kiểm tra ZALO_BOT_TOKEN (mã bot Zalo Bot Creator gửi qua tin nhắn, dạng <số>:<chuỗi>)"


def _code(data: object) -> int | None:
    code = data.get("error_code") if isinstance(data, dict) else None
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def _error_text(data: object) -> str:
    description = data.get("description") if isinstance(data, dict) else None
    return f"lỗi {_code(data)}: {description}" if isinstance(description, str) else f"lỗi {_code(data)}"


def webhook_problem(url: str, secret: str) -> str | None:
    """Why Zalo would refuse this webhook (it wants an HTTPS URL and a secret of 8-256 characters), in Vietnamese;
    None when it is acceptable."""
    if not url.startswith("https://"):
        return f"Zalo chỉ nhận webhook HTTPS, còn PUBLIC_BASE_URL cho ra {url}: đặt PUBLIC_BASE_URL=https://..."
    if not 8 <= len(secret) <= 256:
        return f"ZALO_WEBHOOK_SECRET phải dài 8-256 ký tự (Zalo yêu cầu), hiện dài {len(secret)} ký tự."
    return None


class ZaloChannel:
    """Zalo updates in from the webhook or from getUpdates, checked and translated once."""

    platform = PLATFORM
    webhook_path = "/webhook/zalo"
    secret_header = "X-Bot-Api-Secret-Token"

    def __init__(self, settings: Settings, router: Router, api: ZaloApi | None = None) -> None:
        self.settings = settings
        self.router = router
        self.api = api or ZaloApi(settings.zalo_api_base_url, settings.zalo_bot_token)
        self.bot_user_id: str | None = None
        self.can_join_groups = False

    @property
    def webhook_secret(self) -> str:
        """The secret Zalo echoes in every webhook call."""
        return self.settings.zalo_webhook_secret

    def check(self, body: object) -> Checked:
        """Validate a body (wrapped or bare) and translate it; raises UpdateShapeError otherwise."""
        update = unwrap(body)
        message = update["message"]
        return Checked(
            body=update,
            # Zalo updates have no update id: the chat and message_id identify a redelivery.
            key=f"{message['chat']['id']}:{message['message_id']}",
            chat=str(message["chat"]["id"]),
            event=to_incoming(update, self.bot_user_id),
        )

    async def refresh(self, checked: Checked) -> Checked:
        """Nothing to ask Zalo again: the update as checked."""
        return checked

    async def start(self) -> None:
        """Check the token and learn the bot's id, names and whether it may join groups (getMe); raises SetupError
        when Zalo refuses the token."""
        data = await self.api.call("getMe")
        if not isinstance(data, dict) or data.get("ok") is not True or not isinstance(data.get("result"), dict):
            raise SetupError(f"Zalo không nhận mã bot ({_error_text(data)}): {TOKEN_HINT}.")
        result = data["result"]
        self.bot_user_id = str(result.get("id")) if result.get("id") is not None else None
        for name in (result.get("account_name"), result.get("display_name"), self.settings.zalo_bot_name):
            if isinstance(name, str) and name:
                self.router.bot_names.add(name)
        self.can_join_groups = result.get("can_join_groups") is True
        if self.can_join_groups:
            log.info(
                "zalo: this bot may be invited to groups (beta); there it receives only messages that mention it "
                "with Zalo's mention picker or reply to it"
            )
        else:
            log.warning(
                "zalo: getMe says can_join_groups=false: this bot cannot be added to any group, only private "
                "chats reach it (see docs/zalo.md)"
            )

    async def set_webhook(self, url: str) -> Any:
        """Point Zalo at our webhook with the secret it must echo."""
        return await self.api.call("setWebhook", {"url": url, "secret_token": self.settings.zalo_webhook_secret})

    async def set_menu(self) -> None:
        """Zalo bots have no command menu."""

    async def register(self, public_base_url: str) -> str:
        """Set the webhook and check that Zalo took it; its URL, or SetupError with the cause."""
        url = f"{public_base_url.rstrip('/')}{self.webhook_path}"
        problem = webhook_problem(url, self.settings.zalo_webhook_secret)
        if problem:
            raise SetupError(problem)
        data = await self.set_webhook(url)
        if not isinstance(data, dict) or data.get("ok") is not True:
            hint = TOKEN_HINT if _code(data) == 401 else "kiểm tra PUBLIC_BASE_URL và ZALO_WEBHOOK_SECRET"
            raise SetupError(f"Zalo không nhận webhook {url} ({_error_text(data)}): {hint}.")
        info = await self.api.call("getWebhookInfo")
        got = (
            info.get("result", {}).get("url")
            if isinstance(info, dict) and isinstance(info.get("result"), dict)
            else None
        )
        if got is not None and got != url:
            raise SetupError(
                f"Zalo báo webhook đang là {got!r}, không phải {url}: chạy lại hoặc kiểm tra Zalo Bot Creator."
            )
        return url

    async def close(self) -> None:
        """Release the HTTP client."""
        await self.api.aclose()

    async def poll(self, process: Any, stop: asyncio.Event | None = None) -> None:
        """Long-poll getUpdates (one update per call; 408 means none yet) until `stop` is set; a refused token
        (401) stops the channel."""
        timeout = self.settings.polling_timeout_seconds
        # getUpdates does not work while a webhook is set: a bot moved from `tocns serve` would hear nothing.
        deleted = await self.api.call("deleteWebhook")
        if not isinstance(deleted, dict) or deleted.get("ok") is not True:
            log.warning("zalo deleteWebhook failed (%s); getUpdates may be refused", _code(deleted))
        while stop is None or not stop.is_set():
            try:
                data = await self.api.call("getUpdates", {"timeout": str(timeout)}, timeout=timeout + 10)
            except httpx.HTTPError:
                log.warning("zalo getUpdates failed; retrying in 3 s", exc_info=True)
                await asyncio.sleep(3)
                continue
            if not isinstance(data, dict) or not data.get("ok"):
                code = _code(data)
                if code == 401:
                    log.error("zalo refused the bot token (401): polling stopped; fix ZALO_BOT_TOKEN and restart")
                    return
                if code != 408:
                    log.warning("zalo getUpdates error %s; retrying in 3 s", code)
                    await asyncio.sleep(3)
                continue
            result = data.get("result")
            updates = result if isinstance(result, list) else [result]
            for update in updates:
                try:
                    unwrap(update)
                except UpdateShapeError:
                    log.warning("zalo getUpdates returned an unknown shape; skipped")
                    continue
                try:
                    await process(self, update)
                except Exception:
                    # Zalo cannot redeliver a polled update: log it with its body so nothing is lost silently.
                    log.exception("zalo update could not be stored: %r", update)
                    await asyncio.sleep(3)


# ---------------------------------------------------------------- outbound

MAX_TEXT = 2000


# The codes the Bot Platform documents (../shared/platforms/zalo.md §6.1): 400 bad request, 401 bad token,
# 403 documented as "internal server error", 404 not found, 408 timeout, 429 quota exceeded.
PERMANENT_CODES = frozenset({400, 404})


def classify(status_code: int, data: Any) -> SendResult:
    """Turn an HTTP status and Zalo envelope into a SendResult.

    A 429 pauses the whole channel (a quota of the bot, no retry time given); a 401 stops it (the token was
    refused: nothing is failed, an operator must act); 400 and 404 are permanent; anything else, 403 and codes
    Zalo does not document included, is transient and retried up to OUTBOX_MAX_ATTEMPTS.
    """
    if isinstance(data, dict) and data.get("ok") is True and status_code < 400:
        return SendResult(SendStatus.OK)
    code = data.get("error_code") if isinstance(data, dict) else None
    code = code if isinstance(code, int) and not isinstance(code, bool) else status_code
    description = str(data.get("description", "")) if isinstance(data, dict) else ""
    error = f"{code}: {description}"[:300]
    if code == 429 or status_code == 429:
        return SendResult(SendStatus.RATE_LIMITED, error=error, pause_platform=True)
    if code == 401 or status_code == 401:
        return SendResult(SendStatus.UNAUTHORIZED, error=error)
    if code in PERMANENT_CODES:
        return SendResult(SendStatus.PERMANENT, error=error)
    return SendResult(SendStatus.TRANSIENT, error=error)


def _markdown_rejected(result: SendResult) -> bool:
    text = (result.error or "").lower()
    return result.status == SendStatus.PERMANENT and any(w in text for w in ("parse", "markdown", "entit", "format"))


def file_note(attachment: Attachment) -> str:
    """One line in place of a file Zalo cannot be given a link to: what it is, how big, where its content is."""
    size = len(attachment.content)
    shown = f"{size / 1024:.0f} KB" if size >= 1024 else f"{size} byte"
    kind = "ảnh" if attachment.is_image else ("bảng tính Excel" if attachment.filename.endswith(".xlsx") else "tệp")
    return (
        f"📎 {attachment.filename}: chưa gửi được qua Zalo ({kind}, {shown}; máy chủ chưa bật liên kết tải tệp). "
        "Nội dung chính có trong tin nhắn này; cần tệp đầy đủ, xin cán bộ phụ trách."
    )


class ZaloTransport:
    """Sends one outbox message to a Zalo chat; never raises for platform or network errors."""

    platform = "zalo"
    max_text_length = MAX_TEXT
    # Zalo counts its 2,000-character limit in UTF-16 code units (an emoji is 2).
    text_length = staticmethod(utf16_len)

    def __init__(
        self,
        settings: Settings,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], datetime] = utcnow,
        files_served: bool = True,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.api = ZaloApi(settings.zalo_api_base_url, settings.zalo_bot_token, client)
        # Whether something answers GET /files at PUBLIC_BASE_URL (`tocns serve`; `tocns run` only when
        # PUBLIC_BASE_URL is set): Zalo fetches pictures and people open documents through those links.
        self.files_served = files_served

    async def _post(self, method: str, payload: dict[str, Any]) -> SendResult:
        url = f"{self.api.base_url}/bot{self.api.token}/{method}"
        try:
            response = await self.api.client.post(url, json=payload)
        except httpx.HTTPError as exc:
            return SendResult(SendStatus.TRANSIENT, error=f"{type(exc).__name__}: {exc}"[:300])
        try:
            data = response.json()
        except ValueError:
            data = {"ok": False, "error_code": response.status_code, "description": response.text[:200]}
        return classify(response.status_code, data)

    async def _send_text(self, chat_id: str, text: str) -> SendResult:
        parse_mode = self.settings.zalo_parse_mode
        payload: dict[str, Any] = {"chat_id": chat_id, "text": text}
        if parse_mode:
            # Every message is plain text with user text inside: escape all of it, never send markup raw.
            payload = {"chat_id": chat_id, "text": escape_markup(text, parse_mode), "parse_mode": parse_mode}
        result = await self._post("sendMessage", payload)
        if parse_mode and _markdown_rejected(result):
            log.info("zalo rejected %s in chat %s; re-sending as plain text", parse_mode, chat_id)
            result = await self._post("sendMessage", {"chat_id": chat_id, "text": text})
        return result

    def _link(self, attachment: Attachment) -> str:
        root = Path(self.settings.files_dir).resolve()
        known = Path(attachment.path).resolve() if attachment.path else None
        # A file already under FILES_DIR (a report workbook, an outbox attachment) is linked where it lies.
        path = known if known is not None and known.is_file() and known.is_relative_to(root) else None
        path = path or save_attachment(self.settings.files_dir, attachment)
        return sign_url(self.settings, path, self.clock())

    async def send(
        self, chat_id: str, text: str, attachments: list[Attachment], skip: int = 0, thread_id: str | None = None
    ) -> SendResult:
        """Send text (split at 2,000 UTF-16 units), then pictures by URL, from piece `skip` on; documents become
        links in the text."""
        text = render_plain(text)
        lines = []
        images = []
        if can_sign(self.settings) and self.files_served:
            days = self.settings.signed_link_days
            documents = [a for a in attachments if not a.is_image]
            lines = [f"📎 {a.filename} (tải về trong {days} ngày): {self._link(a)}" for a in documents]
            images = [a for a in attachments if a.is_image]
        elif attachments:
            # No link would open (no LINK_SIGNING_SECRET, or nothing serves /files): say what each file is rather
            # than drop it silently or give a dead link.
            why = "LINK_SIGNING_SECRET empty" if self.files_served else "no /files server (PUBLIC_BASE_URL unset)"
            log.warning("%s: %d file(s) for zalo:%s sent as a note", why, len(attachments), chat_id)
            lines = [file_note(a) for a in attachments]
        if lines:
            links = "\n".join(lines)
            text = f"{text}\n\n{links}" if text else links
        pieces: list[str | Attachment] = [*(split_chunks(text, MAX_TEXT, length=utf16_len) if text else []), *images]
        done = min(skip, len(pieces))
        for piece in pieces[done:]:
            if isinstance(piece, str):
                result = await self._send_text(chat_id, piece)
            else:
                # No caption key at all: Zalo refuses an empty one (a caption, when present, is 1-2,000 characters).
                result = await self._post("sendPhoto", {"chat_id": chat_id, "photo": self._link(piece)})
            if result.status != SendStatus.OK:
                return replace(result, parts_sent=done)
            done += 1
        return SendResult(SendStatus.OK, parts_sent=done)

    @property
    def group_command_mention(self) -> str:
        """How a command is addressed in a Zalo group, which only delivers messages mentioning the bot:
        `@<ZALO_BOT_NAME> ghi` (the router accepts that name, and BOT_DISPLAY_NAME)."""
        return self.settings.zalo_bot_name or self.settings.bot_display_name

    async def check_reachable(self) -> None:
        """Ask Zalo who the bot is (getMe): raises when the Bot API cannot be reached, SetupError when it refuses
        the token."""
        data = await self.api.call("getMe")
        if not isinstance(data, dict) or data.get("ok") is not True:
            raise SetupError(f"Zalo không nhận mã bot ({_error_text(data)}): {TOKEN_HINT}.")

    async def close(self) -> None:
        """Close the HTTP client (the sender calls this when it stops)."""
        await self.api.aclose()
