"""Zalo transport: sendMessage in 2,000-character pieces, pictures by URL, documents as signed links."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bot.adapters.zalo import ZaloApi
from bot.config import Settings
from bot.delivery import save_attachment
from bot.messages import Attachment
from bot.signed_links import can_sign, sign_url
from bot.text import escape_markup, split_chunks
from bot.transports.base import SendResult, SendStatus
from storage.models import utcnow

log = logging.getLogger(__name__)

MAX_TEXT = 2000


def classify(status_code: int, data: Any) -> SendResult:
    """Turn an HTTP status and Zalo envelope into a SendResult."""
    if isinstance(data, dict) and data.get("ok") is True and status_code < 400:
        return SendResult(SendStatus.OK)
    code = data.get("error_code") if isinstance(data, dict) else None
    code = code if isinstance(code, int) else status_code
    description = str(data.get("description", "")) if isinstance(data, dict) else ""
    error = f"{code}: {description}"[:300]
    if code == 429 or status_code == 429:
        # Zalo gives no retry_after: the sender backs off on its own.
        return SendResult(SendStatus.RATE_LIMITED, error=error)
    if code >= 500 or status_code >= 500 or code in (408,):
        return SendResult(SendStatus.TRANSIENT, error=error)
    if code == 403:
        return SendResult(SendStatus.PERMANENT, error=error, chat_gone=True)
    return SendResult(SendStatus.PERMANENT, error=error)


def _markdown_rejected(result: SendResult) -> bool:
    text = (result.error or "").lower()
    return result.status == SendStatus.PERMANENT and any(w in text for w in ("parse", "markdown", "entit", "format"))


class ZaloTransport:
    """Sends one outbox message to a Zalo chat; never raises for platform or network errors."""

    platform = "zalo"
    max_text_length = MAX_TEXT

    def __init__(
        self,
        settings: Settings,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.api = ZaloApi(settings.zalo_api_base_url, settings.zalo_bot_token, client)

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
            # Every message is plain text with user text inside it: escape all of it, never send markup raw.
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

    async def send(self, chat_id: str, text: str, attachments: list[Attachment], skip: int = 0) -> SendResult:
        """Send text (split at 2,000 characters), then pictures by URL, from piece `skip` on; documents become
        links in the text."""
        lines = []
        images = []
        if can_sign(self.settings):
            days = self.settings.signed_link_days
            documents = [a for a in attachments if not a.is_image]
            lines = [f"📎 {a.filename} (tải về trong {days} ngày): {self._link(a)}" for a in documents]
            images = [a for a in attachments if a.is_image]
        elif attachments:
            # Without LINK_SIGNING_SECRET there is no safe URL to give: say so rather than drop the file silently.
            log.warning("LINK_SIGNING_SECRET empty: %d file(s) for zalo:%s as a note", len(attachments), chat_id)
            note = "chưa gửi được qua Zalo (máy chủ chưa bật liên kết tải tệp)."
            lines = [f"📎 {a.filename}: {note}" for a in attachments]
        if lines:
            links = "\n".join(lines)
            text = f"{text}\n\n{links}" if text else links
        pieces: list[str | Attachment] = [*(split_chunks(text, MAX_TEXT) if text else []), *images]
        done = min(skip, len(pieces))
        for piece in pieces[done:]:
            if isinstance(piece, str):
                result = await self._send_text(chat_id, piece)
            else:
                result = await self._post("sendPhoto", {"chat_id": chat_id, "photo": self._link(piece), "caption": ""})
            if result.status != SendStatus.OK:
                return replace(result, parts_sent=done)
            done += 1
        return SendResult(SendStatus.OK, parts_sent=done)

    async def close(self) -> None:
        """Close the HTTP client (the sender calls this when it stops)."""
        await self.api.aclose()
