"""Platform-neutral message types: what adapters hand to the core and what the core hands back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.text import storable


class ChatType(StrEnum):
    """Whether a chat is a one-to-one conversation with the bot or a group."""

    PRIVATE = "private"
    GROUP = "group"


@dataclass(frozen=True)
class Mention:
    """A person mentioned in a message, as far as the platform tells us."""

    user_id: str | None = None
    username: str | None = None
    display_name: str | None = None


@dataclass
class IncomingMessage:
    """One message from any platform, translated by its adapter."""

    platform: str
    chat_id: str
    user_id: str
    display_name: str
    text: str
    message_id: str | None = None
    chat_type: ChatType = ChatType.GROUP
    chat_title: str | None = None
    username: str | None = None
    mentions: list[Mention] = field(default_factory=list)
    # True when the platform only delivers messages addressed to the bot (private chats, Zalo mentions).
    addressed_to_bot: bool = False
    # Evidence sent with the command: a platform file id or a URL.
    photo: str | None = None
    sent_at: datetime | None = None
    is_bot: bool = False

    def __post_init__(self) -> None:
        # NUL and lone surrogates reach us in JSON escapes; PostgreSQL refuses them, and a command that can
        # never be stored would fail on every retry. Strip them once here, for every adapter.
        for name in ("text", "display_name", "chat_title", "username"):
            value = getattr(self, name)
            if isinstance(value, str):
                setattr(self, name, storable(value))

    @property
    def is_private(self) -> bool:
        """Whether the message came from a private chat with the bot."""
        return self.chat_type == ChatType.PRIVATE


@dataclass(frozen=True)
class Attachment:
    """A file the bot sends: a picture or a document (Zalo gets documents as links)."""

    filename: str
    content: bytes
    mime_type: str
    # Where the file already lies on disk (set when read back from the outbox): a link can point there
    # instead of a second copy.
    path: str | None = None

    @property
    def is_image(self) -> bool:
        """Whether the attachment is a picture."""
        return self.mime_type.startswith("image/")


@dataclass
class Reply:
    """A message the core wants sent; chat_id None means the chat the command came from."""

    text: str
    chat_id: str | None = None
    platform: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
