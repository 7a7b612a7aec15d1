"""The transport protocol the outbox sender drains through."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from tocns.core.messages import Attachment


class SendStatus(StrEnum):
    """What happened to one send attempt."""

    OK = "ok"
    RATE_LIMITED = "rate_limited"  # 429: try again after retry_after (or a backoff when unknown)
    TRANSIENT = "transient"  # network error, timeout, 5xx: retry with backoff
    PERMANENT = "permanent"  # 403 removed/blocked, 400 chat not found: never retry


@dataclass(frozen=True)
class SendResult:
    """The outcome of one send attempt."""

    status: SendStatus
    retry_after: float | None = None
    error: str | None = None
    # True when the chat is gone for good (the bot was removed or blocked): its binding is deactivated.
    chat_gone: bool = False
    # Set when the chat moved to a new id (a Telegram group upgraded to a supergroup): resend there.
    new_chat_id: str | None = None
    # Pieces of the message (text parts, then attachments) delivered so far, counting those skipped on entry.
    parts_sent: int = 0


class Transport(Protocol):
    """Sends text (split to the platform's limit) and attachments to one chat of one platform."""

    platform: str
    max_text_length: int

    async def send(self, chat_id: str, text: str, attachments: list[Attachment], skip: int = 0) -> SendResult:
        """Send one outbox message, leaving out its first `skip` pieces; never raises for platform or network
        errors."""
        ...
