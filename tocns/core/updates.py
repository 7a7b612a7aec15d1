"""Neutral types of an update's journey: what a channel hands over (`Checked`), what it must provide to be read,
and what a feature or the console is handed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.core.messages import ChatEvent, InboundEvent, IncomingMessage, Reply

EventHandler = Callable[[AsyncSession, ChatEvent, datetime], Awaitable[list[Reply]]]
"""What a feature does with a chat event, inside the update's session (see `tocns.app`)."""

MarkProcessed = Callable[[AsyncSession, str, str, str, datetime], Awaitable[bool]]
"""Remember a platform message (platform, chat, message id, now); False if it was already processed."""


@dataclass(frozen=True)
class Checked:
    """A platform update that passed its channel's checks: the body to store and what it means."""

    body: dict[str, Any]
    key: str  # identifies a redelivery of the same update
    chat: str  # updates of one chat are processed one at a time, in order
    event: InboundEvent | None  # None: nothing for the bot (a sticker, a service message)


class InboundChannel(Protocol):
    """What the pipeline needs from a platform channel: translation only."""

    platform: str

    def check(self, body: object) -> Checked:
        """Validate and translate a body; raises ValueError when it is not an update of this platform."""
        ...

    async def refresh(self, checked: Checked) -> Checked:
        """The update translated again after asking the platform what a synchronous `check` could not (Telegram:
        getMe when the bot joins a group); the same `checked` when nothing needs asking."""
        ...


class MessageHandler(Protocol):
    """What the local console hands a typed message to (the pipeline): replies come back at once."""

    async def handle(self, msg: IncomingMessage) -> list[Reply]:
        """Process one locally typed message in its own session; the replies."""
        ...
