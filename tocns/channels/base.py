"""The channel protocol: what every platform module provides, inbound (check, poll, webhook) and outbound (send)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from tocns.core.messages import Attachment, Button
from tocns.core.updates import Checked


class SendStatus(StrEnum):
    """What happened to one send attempt."""

    OK = "ok"
    RATE_LIMITED = "rate_limited"  # 429: try again after retry_after (or a backoff when unknown)
    TRANSIENT = "transient"  # network error, timeout, 5xx: retry with backoff
    PERMANENT = "permanent"  # 403 removed/blocked, 400 chat not found: never retry
    UNAUTHORIZED = "unauthorized"  # the platform refused the bot's token: stop the channel, fail nothing


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
    # A 429 that is a quota of the whole bot without a retry time (Zalo): the sender pauses the platform,
    # every chat of it, with a growing wait.
    pause_platform: bool = False


class SetupError(Exception):
    """A channel cannot start as configured; the message is one Vietnamese line for the operator."""


class Transport(Protocol):
    """Sends text (split to the platform's limit) and attachments to one chat of one platform."""

    platform: str
    max_text_length: int

    async def send(
        self, chat_id: str, text: str, attachments: list[Attachment], skip: int = 0, thread_id: str | None = None
    ) -> SendResult:
        """Send one outbox message, leaving out its first `skip` pieces; never raises for platform or network
        errors."""
        ...


class ButtonTransport(Transport, Protocol):
    """A transport that shows a message's command buttons (`supports_buttons` True); the sender passes them."""

    supports_buttons: bool

    async def send(
        self,
        chat_id: str,
        text: str,
        attachments: list[Attachment],
        skip: int = 0,
        thread_id: str | None = None,
        buttons: list[Button] | None = None,
    ) -> SendResult:
        """Send one outbox message as `Transport.send` does, with `buttons` under its last text part."""
        ...


class UpdateIgnored(ValueError):
    """A well-formed update that is nothing for the bot (an unknown event, a group chat message not addressed to
    it, a button payload that is no command): answered 200 with a log line, never stored."""


class UpdateRefused(ValueError):
    """An update refused with `status` (a foreign bot id: 403); nothing is stored."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Channel(Protocol):
    """A platform, inbound and outbound: what `tocns.app` and the web app need from each channel module."""

    platform: str
    webhook_path: str
    secret_header: str

    @property
    def webhook_secret(self) -> str:
        """The secret the platform echoes in `secret_header` on every webhook call."""
        ...

    def check(self, body: object) -> Checked:
        """Validate and translate a body; raises ValueError when it is not an update of this platform."""
        ...

    async def refresh(self, checked: Checked) -> Checked:
        """The update translated again after asking the platform what `check` could not (Telegram: getMe when the
        bot joins a group); the same `checked` when nothing needs asking."""
        ...

    async def start(self) -> None:
        """Learn the bot's identity (getMe)."""
        ...

    async def register(self, public_base_url: str) -> str:
        """Point the platform's webhook at this server (and publish menus where the platform has them); returns the
        webhook URL the platform confirmed."""
        ...

    async def set_menu(self) -> None:
        """Publish the command menu where the platform has one (Telegram); nothing elsewhere."""
        ...

    async def poll(self, process: Callable[[Any, object], Awaitable[None]], stop: asyncio.Event | None) -> None:
        """Long-poll the platform, handing each update body to `process`, until `stop` is set."""
        ...

    async def close(self) -> None:
        """Release the platform's connections."""
        ...
