"""Sending outbox messages to Telegram through python-telegram-bot, mapped to SendResult."""

from __future__ import annotations

import warnings
from dataclasses import replace
from datetime import timedelta

from telegram import Bot, InputFile
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from tocns.channels.base import SendResult, SendStatus
from tocns.core.messages import Attachment

TELEGRAM_MAX_TEXT = 4096


def split_text(text: str, limit: int) -> list[str]:
    """Cut text into parts of at most `limit` characters, at a line break or space where possible."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        if cut < limit // 2:
            cut = rest.rfind(" ", 0, limit)
        if cut < limit // 2:
            cut = limit
        parts.append(rest[:cut])
        rest = rest[cut:].lstrip("\n ") if cut < len(rest) else ""
    if rest or not parts:
        parts.append(rest)
    return parts


class TelegramTransport:
    """The Telegram side of the outbox: one Bot object, pooled HTTP connections."""

    platform = "telegram"
    max_text_length = TELEGRAM_MAX_TEXT

    def __init__(self, token: str, base_url: str, timeout: float = 10.0) -> None:
        request = HTTPXRequest(
            connection_pool_size=8,
            read_timeout=timeout,
            write_timeout=timeout,
            connect_timeout=timeout,
            pool_timeout=timeout,
            media_write_timeout=max(timeout, 20.0),
        )
        self.bot = Bot(token, base_url=f"{base_url.rstrip('/')}/bot", request=request)

    async def send(self, chat_id: str, text: str, attachments: list[Attachment], skip: int = 0) -> SendResult:
        """Send text (split at 4,096 characters) then each attachment, from piece `skip` on; never raises for
        API errors."""
        pieces: list[str | Attachment] = [*(split_text(text, self.max_text_length) if text else []), *attachments]
        done = min(skip, len(pieces))
        try:
            for piece in pieces[done:]:
                if isinstance(piece, str):
                    await self.bot.send_message(chat_id=chat_id, text=piece)
                elif piece.is_image:
                    await self.bot.send_photo(chat_id=chat_id, photo=InputFile(piece.content, filename=piece.filename))
                else:
                    file = InputFile(piece.content, filename=piece.filename)
                    await self.bot.send_document(chat_id=chat_id, document=file)
                done += 1
        except TelegramError as exc:
            return replace(_failure(exc), parts_sent=done)
        return SendResult(SendStatus.OK, parts_sent=done)

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self.bot.shutdown()


def _failure(exc: TelegramError) -> SendResult:
    """What a Bot API error means for the outbox: wait, retry, move, or give up."""
    if isinstance(exc, RetryAfter):
        with warnings.catch_warnings():
            # PTB 22 warns that retry_after will become a timedelta; both forms are handled below.
            warnings.simplefilter("ignore")
            wait = exc.retry_after
        seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
        return SendResult(SendStatus.RATE_LIMITED, retry_after=seconds, error=str(exc))
    if isinstance(exc, Forbidden):
        reason = f"bị chặn hoặc bị xoá khỏi nhóm: {exc.message}"
        return SendResult(SendStatus.PERMANENT, error=reason, chat_gone=True)
    if isinstance(exc, ChatMigrated):
        return SendResult(
            SendStatus.PERMANENT, error=f"nhóm đã chuyển sang mã {exc.new_chat_id}", new_chat_id=str(exc.new_chat_id)
        )
    if isinstance(exc, BadRequest):
        gone = "chat not found" in exc.message.lower()
        reason = "không tìm thấy nhóm" if gone else f"yêu cầu bị từ chối: {exc.message}"
        return SendResult(SendStatus.PERMANENT, error=reason, chat_gone=gone)
    if isinstance(exc, NetworkError):  # includes TimedOut and 5xx answers
        return SendResult(SendStatus.TRANSIENT, error=f"lỗi mạng: {exc.message}")
    return SendResult(SendStatus.TRANSIENT, error=f"lỗi Telegram: {exc.message}")
