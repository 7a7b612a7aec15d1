"""Platform-neutral message types: what channels hand to the core and what the core hands back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from tocns.core.text import storable


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
    # The span of the message text the mention covers, as written (a tapped name has no "@").
    text: str = ""


@dataclass
class IncomingMessage:
    """One message from any platform, translated by its channel."""

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
    # Sent by an anonymous administrator of the group (Telegram: as the group itself): no person is known, only
    # that an admin of this chat asked; user_id is then the chat's own id.
    anonymous_admin: bool = False
    # The forum topic the message was posted in (Telegram message_thread_id): replies go back to it.
    thread_id: str | None = None
    # The command came from a tapped button (Telegram callback query), not typed: a refusal is answered to the
    # tapper alone, and the channel answers the tap once the command's records are committed.
    tap: bool = False

    def __post_init__(self) -> None:
        # NUL and lone surrogates reach us in JSON escapes; PostgreSQL refuses them, and a command that can
        # never be stored would fail on every retry. Strip them once here, for every channel.
        for name in ("text", "display_name", "chat_title", "username"):
            value = getattr(self, name)
            if isinstance(value, str):
                setattr(self, name, storable(value))

    @property
    def is_private(self) -> bool:
        """Whether the message came from a private chat with the bot."""
        return self.chat_type == ChatType.PRIVATE


class ChatEventKind(StrEnum):
    """Something that happened to a chat rather than a message typed in it."""

    BOT_ADDED = "bot_added"  # the bot joined a group
    BOT_REMOVED = "bot_removed"  # the bot left or was removed from a group
    CHAT_MIGRATED = "chat_migrated"  # the group moved to a new id (a Telegram group became a supergroup)
    MESSAGE_EDITED = "message_edited"  # a message was edited after it was sent


@dataclass(frozen=True)
class ChatEvent:
    """A neutral chat event translated by a channel; the core or a feature decides what it means."""

    kind: ChatEventKind
    platform: str
    chat_id: str
    new_chat_id: str | None = None
    message: IncomingMessage | None = None
    # Set on BOT_ADDED when the bot will see only commands addressed to it there (Telegram privacy mode, not an
    # admin): how a command must be written, e.g. "/ghi@ToCNSBot".
    address_as: str | None = None


InboundEvent = IncomingMessage | ChatEvent
"""What a channel translates one platform update into."""


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


@dataclass(frozen=True)
class Button:
    """A command a message offers as one tap, for people who do not type commands: `label` is what the button
    shows, `command` the command it sends (exactly as if typed, e.g. "/danhan 12"). Platforms with buttons (GapoWork
    quick replies, Telegram inline keyboards) show them; the others send the text alone, which always says the
    command in words too."""

    label: str
    command: str


MAX_BUTTONS = 10
"""Buttons one message may carry (GapoWork clients cap quick replies at 10-15)."""


def buttons_to_json(buttons: Sequence[Button]) -> str | None:
    """The outbox column's form of a message's buttons (None for none)."""
    if not buttons:
        return None
    return json.dumps([{"label": b.label, "command": b.command} for b in buttons[:MAX_BUTTONS]], ensure_ascii=False)


def buttons_from_json(raw: str | None) -> list[Button]:
    """Buttons read back from the outbox column; anything malformed is dropped (the text still says the command)."""
    if not raw:
        return []
    try:
        items = json.loads(raw)
    except ValueError:
        return []
    if not isinstance(items, list):
        return []
    return [
        Button(str(item["label"]), str(item["command"]))
        for item in items
        if isinstance(item, dict) and item.get("label") and item.get("command")
    ][:MAX_BUTTONS]


@dataclass
class Reply:
    """A message the core wants sent; chat_id None means the chat the command came from."""

    text: str
    chat_id: str | None = None
    platform: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    # The topic of the chat to post in; None for the chat's main thread (a reply inherits its message's topic).
    thread_id: str | None = None
    # Commands this reply offers as buttons where the platform has them (see Button).
    buttons: list[Button] = field(default_factory=list)
    # The command was not carried out (no permission, bad input, unknown command): nothing of it was kept.
    refused: bool = False


# The widths of the columns each field of an incoming event is stored in (org: person, chat binding; inbound:
# processed message; tasks: thread id; activity: photo). A field wider than its column would fail every attempt at
# the update (and hold its chat); channels refuse such an update at intake instead (webhook 400; a polled one is
# logged and skipped). tests/web/test_intake_widths.py checks this table against the models.
FIELD_WIDTHS: dict[str, int] = {
    "platform": 20,
    "chat_id": 64,
    "new_chat_id": 64,
    "user_id": 64,
    "message_id": 64,
    "display_name": 200,
    "username": 100,
    "chat_title": 255,
    "thread_id": 32,
    "photo": 1000,
}


def _first_too_wide(item: object, prefix: str) -> str | None:
    for name, width in FIELD_WIDTHS.items():
        value = getattr(item, name, None)
        if isinstance(value, str) and len(value) > width:
            return f"{prefix}{name} is {len(value)} characters, over the {width} it is stored in"
    return None


def too_wide(event: InboundEvent | None) -> str | None:
    """Why an event cannot be stored: its first field (or a mention's) wider than its column; None when all fit."""
    if event is None:
        return None
    reason = _first_too_wide(event, "")
    message = event.message if isinstance(event, ChatEvent) else event
    if reason is None and message is not None and message is not event:
        reason = _first_too_wide(message, "message.")
    for mention in message.mentions if message is not None else []:
        reason = reason or _first_too_wide(mention, "mention.")
    return reason
