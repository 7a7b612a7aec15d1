"""Telegram adapter (python-telegram-bot 22): updates in, neutral messages to the core, replies to the outbox."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from telegram import Bot, BotCommand, ChatMember, Message, Update
from telegram.request import BaseRequest, HTTPXRequest

from bot.app import BotApp
from bot.delivery import enqueue_replies, handle_message
from bot.messages import ChatType, IncomingMessage, Mention, Reply
from bot.registry import Registry
from storage import org as org_store

log = logging.getLogger(__name__)

PLATFORM = "telegram"
ALLOWED_UPDATES = ["message", "edited_message", "my_chat_member"]
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")

WELCOME_TEXT = (
    "Xin chào cả nhóm! Tôi là bot của Tổ công nghệ số cộng đồng: ghi nhận kết quả đi cơ sở, giao và nhắc việc, "
    "tổng hợp báo cáo.\n"
    "Để bắt đầu, người được cấp mã kết nối (lãnh đạo xã/phường hoặc tổ trưởng) hãy gõ /ketnoi <mã> để kết nối "
    "nhóm này với đơn vị của mình. Sau đó mỗi thành viên gõ /thamgia <tên tổ>.\n"
    "Gõ /huongdan để xem các lệnh."
)
EDITED_TEXT = (
    "Bot không xử lý lại tin nhắn đã sửa, nên lệnh vừa sửa chưa được thực hiện lại. "
    "Nếu cần, hãy gửi lệnh đúng thành một tin nhắn mới."
)


class UpdateShapeError(ValueError):
    """The body is not a Telegram update."""


_MESSAGE_KINDS = ("message", "edited_message", "channel_post", "edited_channel_post")


def _int_id(value: object) -> bool:
    return type(value) is int


def _strings(part: dict[str, Any], where: str, *fields: str) -> None:
    for field in fields:
        if field in part and not isinstance(part[field], str):
            raise UpdateShapeError(f"malformed Telegram update: {where}.{field} is not a string")


def _check_fields(body: dict[str, Any]) -> None:
    """Refuse an update missing what the bot needs later (chat, ids) or with fields of the wrong type.

    PTB decodes such bodies without complaint; they then failed while being processed, after the webhook had
    answered 200, and stayed failed. Refused here, the sender sees a 400 and nothing is stored.
    """
    for kind in _MESSAGE_KINDS:
        if kind not in body:
            continue
        message = body[kind]
        if not isinstance(message, dict):
            raise UpdateShapeError(f"malformed Telegram update: {kind} is not an object")
        chat = message.get("chat")
        if not isinstance(chat, dict) or not _int_id(chat.get("id")) or not isinstance(chat.get("type"), str):
            raise UpdateShapeError(f"malformed Telegram update: {kind}.chat.id or type missing")
        if not _int_id(message.get("message_id")):
            raise UpdateShapeError(f"malformed Telegram update: {kind}.message_id missing")
        _strings(message, kind, "text", "caption")
        _strings(chat, f"{kind}.chat", "title", "username", "first_name", "last_name")
        sender = message.get("from")
        if sender is not None:
            if not isinstance(sender, dict) or not _int_id(sender.get("id")):
                raise UpdateShapeError(f"malformed Telegram update: {kind}.from.id missing")
            if not isinstance(sender.get("first_name"), str):
                raise UpdateShapeError(f"malformed Telegram update: {kind}.from.first_name missing")
            _strings(sender, f"{kind}.from", "last_name", "username")
    member = body.get("my_chat_member")
    if member is not None:
        chat = member.get("chat") if isinstance(member, dict) else None
        if not isinstance(chat, dict) or not _int_id(chat.get("id")):
            raise UpdateShapeError("malformed Telegram update: my_chat_member.chat.id missing")


def parse_update(body: object) -> Update:
    """Check and decode a Telegram update body; raises UpdateShapeError for anything else."""
    if not isinstance(body, dict) or type(body.get("update_id")) is not int:
        raise UpdateShapeError("not a Telegram update: update_id missing")
    _check_fields(body)
    try:
        return Update.de_json(body, None)
    except Exception as exc:  # PTB raises assorted errors on malformed parts
        raise UpdateShapeError(f"malformed Telegram update: {exc}") from exc


def _mentions(message: Message) -> list[Mention]:
    entities = (
        message.parse_entities(["mention", "text_mention"])
        if message.text
        else message.parse_caption_entities(["mention", "text_mention"])
    )
    mentions = []
    for entity, text in entities.items():
        if entity.type == "text_mention" and entity.user is not None:
            mentions.append(
                Mention(user_id=str(entity.user.id), username=entity.user.username, display_name=entity.user.full_name)
            )
        elif entity.type == "mention":
            mentions.append(Mention(username=text.lstrip("@")))
    return mentions


def to_incoming(message: Message) -> IncomingMessage | None:
    """Translate a Telegram message (text, or a photo with a caption) into a neutral message."""
    text = message.text or message.caption
    user = message.from_user
    if not text or user is None:
        return None
    return IncomingMessage(
        platform=PLATFORM,
        chat_id=str(message.chat.id),
        user_id=str(user.id),
        display_name=user.full_name,
        username=user.username,
        text=text,
        message_id=str(message.message_id),
        chat_type=ChatType.PRIVATE if message.chat.type == "private" else ChatType.GROUP,
        chat_title=message.chat.title,
        mentions=_mentions(message),
        photo=message.photo[-1].file_id if message.photo else None,
        sent_at=message.date,
        is_bot=user.is_bot,
    )


def menu_commands(registry: Registry) -> list[BotCommand]:
    """The command menu: every registry command with a Telegram-valid name, described in Vietnamese."""
    commands = []
    for cmd in registry.all():
        if _COMMAND_NAME.match(cmd.name):
            description = cmd.summary.strip() or cmd.vi_name
            commands.append(BotCommand(cmd.name, description[:256]))
    return commands[:100]


def make_bot(app: BotApp, request: BaseRequest | None = None) -> Bot:
    """A PTB Bot on the configured (possibly self-hosted) Bot API base URL."""
    base = app.settings.telegram_api_base_url.rstrip("/")
    read_timeout = app.settings.polling_timeout_seconds + 10
    return Bot(
        app.settings.telegram_bot_token,
        base_url=f"{base}/bot",
        base_file_url=f"{base}/file/bot",
        request=request or HTTPXRequest(read_timeout=10),
        get_updates_request=request or HTTPXRequest(read_timeout=read_timeout),
    )


class TelegramAdapter:
    """Handles Telegram updates: commands, group membership changes, migrations and edits."""

    platform = PLATFORM
    retry_delay = 3.0

    # Updates parsed by check() and not yet handled, by the identity of their body: the webhook checks a body
    # and then hands the very same dict to handle_update, which need not decode it a second time. The limit
    # covers a backlog of updates waiting for processing (an Update is ~3 KB); past it they are decoded again.
    checked_limit = 4096

    def __init__(self, app: BotApp, bot: Bot | None = None) -> None:
        self.app = app
        self.bot = bot or make_bot(app)
        self._checked: dict[int, tuple[dict[str, Any], Update]] = {}

    def update_key(self, body: dict[str, Any]) -> str:
        """The de-duplication key of an update: its update_id."""
        return str(body["update_id"])

    def chat_key(self, body: dict[str, Any]) -> str:
        """The chat of an update (message, edit or membership change)."""
        for field in ("message", "edited_message", "my_chat_member"):
            part = body.get(field)
            if isinstance(part, dict) and isinstance(part.get("chat"), dict):
                return str(part["chat"].get("id"))
        return ""

    def check(self, body: object) -> dict[str, Any]:
        """Validate a webhook body; raises UpdateShapeError when it is not an update."""
        update = parse_update(body)
        assert isinstance(body, dict)
        # The entry keeps the body alive, so its id cannot be reused by another dict while it is here.
        self._checked[id(body)] = (body, update)
        if len(self._checked) > self.checked_limit:
            # A duplicate delivery is checked but never handled: drop the oldest entries.
            del self._checked[next(iter(self._checked))]
        return body

    def _parsed(self, body: dict[str, Any]) -> Update:
        entry = self._checked.pop(id(body), None)
        if entry is not None and entry[0] is body:
            return entry[1]
        return parse_update(body)

    async def handle_update(self, body: dict[str, Any]) -> list[Reply]:
        """Process one update and enqueue what it answers."""
        update = self._parsed(body)
        key = f"{PLATFORM}:{update.update_id}"
        if update.my_chat_member is not None:
            return await self._membership_changed(update, key)
        if update.edited_message is not None:
            return await self._edited(update.edited_message, key)
        message = update.message
        if message is None:
            return []
        if message.migrate_to_chat_id or message.migrate_from_chat_id:
            await self._migrated(message)
            return []
        incoming = to_incoming(message)
        if incoming is None:
            return []
        return await handle_message(self.app, incoming, key)

    async def _membership_changed(self, update: Update, key: str) -> list[Reply]:
        change = update.my_chat_member
        assert change is not None
        chat_id = str(change.chat.id)
        if change.chat.type == "private":
            return []
        present = {ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER, ChatMember.RESTRICTED}
        was_in = change.old_chat_member.status in present
        is_in = change.new_chat_member.status in present
        if is_in and not was_in:
            reply = Reply(text=WELCOME_TEXT, chat_id=chat_id, platform=PLATFORM)
            msg = IncomingMessage(platform=PLATFORM, chat_id=chat_id, user_id="", display_name="", text="")
            await enqueue_replies(self.app, msg, [reply], key)
            return [reply]
        if was_in and not is_in:
            async with self.app.db.session() as session:
                binding = await org_store.deactivate_binding(
                    session, PLATFORM, chat_id, reason="bot bị xóa khỏi nhóm", actor_label="telegram"
                )
            log.info("bot removed from telegram chat %s (binding %s)", chat_id, "deactivated" if binding else "none")
        return []

    async def _migrated(self, message: Message) -> None:
        if message.migrate_to_chat_id:
            old, new = str(message.chat.id), str(message.migrate_to_chat_id)
        else:
            old, new = str(message.migrate_from_chat_id), str(message.chat.id)
        async with self.app.db.session() as session:
            # Telegram sends both halves of a migration; the second finds nothing left to move.
            moved = await org_store.move_binding(session, PLATFORM, old, new)
        if moved is not None:
            log.info("telegram chat %s migrated to %s; binding moved", old, new)

    async def _edited(self, message: Message, key: str) -> list[Reply]:
        incoming = to_incoming(message)
        if incoming is None or incoming.is_bot or self.app.router.parse(incoming) is None:
            return []
        reply = Reply(text=EDITED_TEXT)
        await enqueue_replies(self.app, incoming, [reply], key)
        return [reply]

    async def set_menu(self) -> list[BotCommand]:
        """Publish the registry's commands as the Telegram command menu."""
        commands = menu_commands(self.app.registry)
        await self.bot.set_my_commands(commands)
        return commands

    async def set_webhook(self, url: str) -> None:
        """Point Telegram at our webhook, with the secret it must echo in every call."""
        await self.bot.set_webhook(
            url=url, secret_token=self.app.settings.telegram_webhook_secret or None, allowed_updates=ALLOWED_UPDATES
        )

    async def start(self) -> None:
        """Initialise the bot (getMe) so its username is known to the router."""
        await self.bot.initialize()
        if self.bot.username:
            self.app.router.bot_names.add(self.bot.username)

    async def close(self) -> None:
        """Release the Bot API connections."""
        await self.bot.shutdown()

    async def poll(self, process: Any, stop: asyncio.Event | None = None) -> None:
        """Long-poll getUpdates, handing each update body to `process`, until `stop` is set."""
        await self.bot.delete_webhook(drop_pending_updates=False)
        offset: int | None = None
        while stop is None or not stop.is_set():
            try:
                updates = await self.bot.get_updates(
                    offset=offset, timeout=self.app.settings.polling_timeout_seconds, allowed_updates=ALLOWED_UPDATES
                )
            except Exception:
                log.exception("telegram getUpdates failed; retrying")
                await asyncio.sleep(self.retry_delay)
                continue
            for update in updates:
                try:
                    await process(self, update.to_dict())
                except Exception:
                    # Not stored (database down?): keep the offset so Telegram delivers it again.
                    log.exception("telegram update %s could not be stored; retrying", update.update_id)
                    await asyncio.sleep(self.retry_delay)
                    break
                offset = update.update_id + 1
