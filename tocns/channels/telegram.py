"""Telegram (python-telegram-bot 22): updates in as neutral events, outbox messages out through the Bot API."""

from __future__ import annotations

import asyncio
import html
import logging
import re
import warnings
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import PurePosixPath
from typing import Any

import httpx
from telegram import (
    Bot,
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeDefault,
    CallbackQuery,
    ChatMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.helpers import mention_html
from telegram.request import BaseRequest, HTTPXRequest

from tocns.channels.base import SendResult, SendStatus
from tocns.config import Settings
from tocns.core.files import FetchError
from tocns.core.mentions import PersonRef, has_mentions, render
from tocns.core.messages import (
    Attachment,
    Button,
    ChatEvent,
    ChatEventKind,
    ChatType,
    InboundEvent,
    IncomingMessage,
    Mention,
    Reply,
)
from tocns.core.registry import Command, Registry
from tocns.core.roles import Role
from tocns.core.router import Router
from tocns.core.text import split_chunks
from tocns.core.updates import Checked

log = logging.getLogger(__name__)

PLATFORM = "telegram"
ALLOWED_UPDATES = ["message", "edited_message", "my_chat_member", "callback_query"]
MENU_LANGUAGE = "vi"
ANONYMOUS_ADMIN_NAME = "Quản trị viên ẩn danh"
# What Telegram accepts as a webhook secret_token (Bot API, setWebhook).
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")


class WebhookNotSet(RuntimeError):
    """Telegram does not report the webhook we asked for."""


def webhook_secret_problem(secret: str) -> str | None:
    """Why Telegram would refuse (or never echo) this webhook secret, in Vietnamese; None when it is valid."""
    if not secret:
        return (
            "Thiếu TELEGRAM_WEBHOOK_SECRET: không có nó, máy chủ từ chối mọi cập nhật Telegram gửi tới (bot bị điếc). "
            "Đặt TELEGRAM_WEBHOOK_SECRET gồm 1–256 ký tự A-Z, a-z, 0-9, _ hoặc -, rồi chạy lại."
        )
    if not _WEBHOOK_SECRET.fullmatch(secret):
        return (
            f"TELEGRAM_WEBHOOK_SECRET không hợp lệ ({len(secret)} ký tự): Telegram chỉ nhận 1–256 ký tự A-Z, a-z, "
            "0-9, _ hoặc - (không dấu, không khoảng trắng). Sửa lại rồi chạy lại."
        )
    return None


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
    _check_tap(body.get("callback_query"))
    member = body.get("my_chat_member")
    if member is not None:
        chat = member.get("chat") if isinstance(member, dict) else None
        if not isinstance(chat, dict) or not _int_id(chat.get("id")):
            raise UpdateShapeError("malformed Telegram update: my_chat_member.chat.id missing")


def _check_tap(query: object) -> None:
    """Refuse a callback query without what a tap needs: its id, who tapped, the data, the message's chat."""
    if query is None:
        return
    if not isinstance(query, dict) or not isinstance(query.get("id"), str):
        raise UpdateShapeError("malformed Telegram update: callback_query.id missing")
    sender = query.get("from")
    if not isinstance(sender, dict) or not _int_id(sender.get("id")) or not isinstance(sender.get("first_name"), str):
        raise UpdateShapeError("malformed Telegram update: callback_query.from missing")
    _strings(query, "callback_query", "data")
    message = query.get("message")
    if message is not None:
        chat = message.get("chat") if isinstance(message, dict) else None
        if not isinstance(chat, dict) or not _int_id(chat.get("id")) or not _int_id(message.get("message_id")):
            raise UpdateShapeError("malformed Telegram update: callback_query.message.chat missing")


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
                Mention(
                    user_id=str(entity.user.id),
                    username=entity.user.username,
                    display_name=entity.user.full_name,
                    text=text,
                )
            )
        elif entity.type == "mention":
            mentions.append(Mention(username=text.lstrip("@"), text=text))
    return mentions


def _thread(message: Message) -> str | None:
    # Only a forum topic is a place to answer in; a reply thread of an ordinary group has no topic to post to.
    if message.is_topic_message and message.message_thread_id:
        return str(message.message_thread_id)
    return None


def to_incoming(message: Message) -> IncomingMessage | None:
    """Translate a Telegram message (text, or a photo with a caption) into a neutral message."""
    text = message.text or message.caption
    user = message.from_user
    if not text or user is None:
        return None
    if message.sender_chat is not None and message.sender_chat.id == message.chat.id:
        # An anonymous group admin posts as the group itself (from GroupAnonymousBot): answered as such.
        return IncomingMessage(
            platform=PLATFORM,
            chat_id=str(message.chat.id),
            user_id=str(message.chat.id),
            display_name=ANONYMOUS_ADMIN_NAME,
            text=text,
            message_id=str(message.message_id),
            chat_type=ChatType.GROUP,
            chat_title=message.chat.title,
            mentions=_mentions(message),
            sent_at=message.date,
            anonymous_admin=True,
            thread_id=_thread(message),
        )
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
        thread_id=_thread(message),
    )


def to_tap(query: CallbackQuery) -> IncomingMessage | None:
    """Translate a tapped inline button into the command it carries, as if its tapper had typed it in that chat;
    None for a tap on a message the bot can no longer see or a button without data."""
    message = query.message
    if not query.data or not isinstance(message, Message):
        return None
    user = query.from_user
    return IncomingMessage(
        platform=PLATFORM,
        chat_id=str(message.chat.id),
        user_id=str(user.id),
        display_name=user.full_name,
        username=user.username,
        text=query.data,
        # The query id is unique per tap: a redelivered tap is remembered as processed like a redelivered message.
        message_id=f"tap:{query.id}",
        chat_type=ChatType.PRIVATE if message.chat.type == "private" else ChatType.GROUP,
        chat_title=message.chat.title,
        addressed_to_bot=True,
        is_bot=user.is_bot,
        thread_id=_thread(message),
        tap=True,
    )


def menu_commands(registry: Registry, keep: Callable[[Command], bool] = lambda _c: True) -> list[BotCommand]:
    """A command menu: the registry commands `keep` selects that have a Telegram-valid name, in Vietnamese."""
    commands = []
    for cmd in registry.all():
        if keep(cmd) and _COMMAND_NAME.match(cmd.name):
            description = cmd.summary.strip() or cmd.vi_name
            commands.append(BotCommand(cmd.name, description[:256]))
    return commands[:100]


def menus(registry: Registry) -> list[tuple[BotCommandScope, list[BotCommand]]]:
    """One menu per audience: members in every group, leaders (and staff) for group admins, personal commands in
    private chats (also the default scope, which would otherwise keep an old full menu)."""
    personal = menu_commands(registry, lambda c: c.private)
    return [
        (BotCommandScopeDefault(), personal),
        (BotCommandScopeAllPrivateChats(), personal),
        (BotCommandScopeAllGroupChats(), menu_commands(registry, lambda c: Role.MEMBER in c.roles)),
        (BotCommandScopeAllChatAdministrators(), menu_commands(registry, lambda c: Role.ADMIN in c.roles)),
    ]


async def fetch_photo(settings: Settings, file_id: str, client: httpx.AsyncClient) -> tuple[bytes, str]:
    """A photo a message carried, by its file id: the Bot API's getFile, then its file URL (files up to 20 MB);
    its bytes and the file's name. Raises FetchError (the Bot API refused) or httpx.HTTPError."""
    base = settings.telegram_api_base_url.rstrip("/")
    answer = (await client.post(f"{base}/bot{settings.telegram_bot_token}/getFile", json={"file_id": file_id})).json()
    if not answer.get("ok"):
        raise FetchError("Telegram không cho tải ảnh này", f"getFile: {answer.get('description', '')}")
    file_path = str(answer["result"].get("file_path") or "")
    if not file_path:
        raise FetchError("Telegram không cho biết ảnh nằm ở đâu", "getFile answered no file_path")
    response = await client.get(f"{base}/file/bot{settings.telegram_bot_token}/{file_path}")
    response.raise_for_status()
    return response.content, PurePosixPath(file_path).name


def make_bot(settings: Settings, request: BaseRequest | None = None) -> Bot:
    """A PTB Bot on the configured (possibly self-hosted) Bot API base URL."""
    base = settings.telegram_api_base_url.rstrip("/")
    read_timeout = settings.polling_timeout_seconds + 10
    return Bot(
        settings.telegram_bot_token,
        base_url=f"{base}/bot",
        base_file_url=f"{base}/file/bot",
        request=request or HTTPXRequest(read_timeout=10),
        get_updates_request=request or HTTPXRequest(read_timeout=read_timeout),
    )


def translate(update: Update, privacy_mode: bool = False, username: str | None = None) -> InboundEvent | None:
    """What a decoded update means to the core: a message, a chat event, or nothing.

    `privacy_mode`: the bot cannot read all group messages (getMe's can_read_all_group_messages is false), so in a
    group where it is not an admin it receives a bare /ghi only when it was the last bot to post there."""
    change = update.my_chat_member
    if change is not None:
        if change.chat.type == "private":
            return None
        present = {ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER, ChatMember.RESTRICTED}
        was_in = change.old_chat_member.status in present
        is_in = change.new_chat_member.status in present
        if was_in == is_in:
            return None
        kind = ChatEventKind.BOT_ADDED if is_in else ChatEventKind.BOT_REMOVED
        deaf = is_in and privacy_mode and change.new_chat_member.status != ChatMember.ADMINISTRATOR
        return ChatEvent(kind, PLATFORM, str(change.chat.id), address_as=f"@{username}" if deaf and username else None)
    if update.edited_message is not None:
        edited = to_incoming(update.edited_message)
        if edited is None:
            return None
        return ChatEvent(ChatEventKind.MESSAGE_EDITED, PLATFORM, edited.chat_id, message=edited)
    if update.callback_query is not None:
        return to_tap(update.callback_query)
    message = update.message
    if message is None:
        return None
    if message.migrate_to_chat_id:
        return ChatEvent(ChatEventKind.CHAT_MIGRATED, PLATFORM, str(message.chat.id), str(message.migrate_to_chat_id))
    if message.migrate_from_chat_id:
        return ChatEvent(ChatEventKind.CHAT_MIGRATED, PLATFORM, str(message.migrate_from_chat_id), str(message.chat.id))
    return to_incoming(message)


def _chat_of(update: Update) -> str:
    for part in (update.message, update.edited_message, update.my_chat_member):
        if part is not None:
            return str(part.chat.id)
    tapped = update.callback_query.message if update.callback_query is not None else None
    return str(tapped.chat.id) if tapped is not None else ""


class TelegramChannel:
    """Telegram updates in (webhook or polling), checked and translated once; the webhook and command menu."""

    platform = PLATFORM
    webhook_path = "/webhook/telegram"
    secret_header = "X-Telegram-Bot-Api-Secret-Token"
    retry_delay = 3.0

    def __init__(self, settings: Settings, router: Router, bot: Bot | None = None) -> None:
        self.settings = settings
        self.router = router
        self.bot = bot or make_bot(settings)
        # From getMe at start: True when the bot cannot read all group messages (BotFather's privacy mode).
        self.privacy_mode = False

    @property
    def webhook_secret(self) -> str:
        """The secret Telegram echoes in every webhook call."""
        return self.settings.telegram_webhook_secret

    def check(self, body: object) -> Checked:
        """Validate and decode a body once; raises UpdateShapeError when it is not an update."""
        update = parse_update(body)
        assert isinstance(body, dict)
        try:
            event = translate(update, self.privacy_mode, self.bot.username if self.privacy_mode else None)
        except Exception as exc:  # PTB decodes lazily: a malformed part (an empty my_chat_member) fails here
            raise UpdateShapeError(f"malformed Telegram update: {type(exc).__name__}") from exc
        return Checked(body=body, key=str(update.update_id), chat=_chat_of(update), event=event)

    async def refresh(self, checked: Checked) -> Checked:
        """When the bot has just joined a group, read privacy mode from getMe again (it may have been switched in
        BotFather since start) and translate the update with it; any other update as checked."""
        event = checked.event
        if not (isinstance(event, ChatEvent) and event.kind == ChatEventKind.BOT_ADDED):
            return checked
        try:
            me = await self.bot.get_me()
        except TelegramError:
            log.warning("telegram getMe failed; privacy mode as read before: %s", self.privacy_mode)
            return checked
        self._read_privacy(me.can_read_all_group_messages)
        return self.check(checked.body)

    def _read_privacy(self, reads_all: bool | None) -> None:
        was, self.privacy_mode = self.privacy_mode, reads_all is False
        if self.privacy_mode and not was:
            log.info(
                "telegram privacy mode is on: in groups where the bot is not an admin it sees only /cmd@%s",
                self.bot.username,
            )

    async def answer_tap(self, checked: Checked, replies: list[Reply]) -> None:
        """Answer a tapped button once its command is committed: a refusal as a short alert to the tapper alone;
        otherwise a short confirmation, and the message edited to show who acted (docs/telegram.md, "Taps")."""
        query = parse_update(checked.body).callback_query
        if query is None:
            return
        refusal = next((reply for reply in replies if reply.refused), None)
        if refusal is not None:
            await _quietly(self.bot.answer_callback_query(query.id, text=tap_text(refusal.text), show_alert=True))
            return
        label = tapped_label(query)
        await _quietly(self.bot.answer_callback_query(query.id, text=tap_text(f"✓ {label}")))
        message = query.message
        if not isinstance(message, Message) or not message.text:
            return
        edited = acted_html(message, query.from_user.full_name, label)
        if edited is not None:
            markup = message.reply_markup if _keeps_keyboard(message) else None
            await _quietly(
                self.bot.edit_message_text(
                    edited,
                    chat_id=message.chat.id,
                    message_id=message.message_id,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                )
            )

    async def set_menu(self) -> None:
        """Publish the registry's menus, one per scope, for every user and again for Vietnamese-language ones."""
        for scope, commands in menus(self.router.registry):
            for language in (None, MENU_LANGUAGE):
                await self.bot.set_my_commands(commands, scope=scope, language_code=language)

    async def set_webhook(self, url: str) -> str:
        """Point Telegram at our webhook, with the secret it must echo in every call; returns the URL Telegram
        reports back (getWebhookInfo), raising WebhookNotSet when it is not ours."""
        await self.bot.set_webhook(
            url=url, secret_token=self.settings.telegram_webhook_secret or None, allowed_updates=ALLOWED_UPDATES
        )
        info = await self.bot.get_webhook_info()
        if info.url != url:
            raise WebhookNotSet(f"Telegram báo webhook là {info.url!r}, không phải {url!r}")
        return info.url

    async def start(self) -> None:
        """Initialise the bot (getMe) so its username is known to the router."""
        await self.bot.initialize()
        if self.bot.username:
            self.router.bot_names.add(self.bot.username)
        self._read_privacy(self.bot.bot.can_read_all_group_messages)

    async def register(self, public_base_url: str) -> str:
        """Set the webhook and publish the command menu; returns the webhook URL Telegram confirmed."""
        url = await self.set_webhook(f"{public_base_url.rstrip('/')}{self.webhook_path}")
        await self.set_menu()
        return url

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
                    offset=offset, timeout=self.settings.polling_timeout_seconds, allowed_updates=ALLOWED_UPDATES
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


# ---------------------------------------------------------------- taps

MAX_CALLBACK_DATA = 64
"""Bytes of callback_data Telegram accepts on an inline button (1-64)."""
MAX_TAP_TEXT = 200
"""Characters answerCallbackQuery shows (0-200)."""
ACTED_MARK = "✓"


async def _quietly(call: Any) -> None:
    # The command stands whatever happens here: a tap answered late ("query is too old"), a message edited twice
    # ("message is not modified") or a network error is logged, never retried.
    try:
        await call
    except TelegramError as exc:
        log.info("telegram tap answer or edit refused: %s", exc)


def tap_text(text: str) -> str:
    """A reply cut to what a tap's answer shows (its first paragraph, at most 200 characters)."""
    first = text.strip().split("\n\n")[0]
    return first if len(first) <= MAX_TAP_TEXT else first[: MAX_TAP_TEXT - 1].rstrip() + "…"


def tapped_label(query: CallbackQuery) -> str:
    """The label of the button that was tapped (its data when the keyboard is not in the update)."""
    message = query.message
    markup = message.reply_markup if isinstance(message, Message) else None
    for row in markup.inline_keyboard if markup is not None else ():
        for button in row:
            if button.callback_data == query.data:
                return button.text
    return query.data or ""


def _keeps_keyboard(message: Message) -> bool:
    # One button ("Đã nhận", "Xong") stays for the next person; a choice ("Gửi" / "Huỷ") is made once.
    markup = message.reply_markup
    return markup is not None and sum(len(row) for row in markup.inline_keyboard) == 1


def acted_html(message: Message, name: str, label: str) -> str | None:
    """The bot's message as HTML with a line saying who tapped what; None when it would exceed Telegram's limit."""
    text = message.text_html
    last = text.rsplit("\n", 1)[-1]
    joiner = "\n" if last.startswith(ACTED_MARK) else "\n\n"
    edited = f"{text}{joiner}{ACTED_MARK} {html.escape(name)}: {html.escape(label)}"
    visible = f"{message.text}{joiner}{ACTED_MARK} {name}: {label}"
    return edited if len(visible) <= TELEGRAM_MAX_TEXT else None


def keyboard(buttons: list[Button]) -> InlineKeyboardMarkup | None:
    """An inline keyboard of the buttons whose command fits callback_data (64 bytes), up to three a row; None when
    none fits (the text says each command in words anyway)."""
    usable = [b for b in buttons if 1 <= len(b.command.encode()) <= MAX_CALLBACK_DATA]
    for button in buttons:
        if button not in usable:
            log.warning("telegram button %r left out: its command is over %d bytes", button.label, MAX_CALLBACK_DATA)
    if not usable:
        return None
    keys = [InlineKeyboardButton(b.label[:64], callback_data=b.command) for b in usable]
    return InlineKeyboardMarkup([keys[i : i + 3] for i in range(0, len(keys), 3)])


# ---------------------------------------------------------------- outbound

TELEGRAM_MAX_TEXT = 4096


def _html_mention(ref: PersonRef) -> str:
    # @username always notifies; a link to the user id notifies people without one (Telegram resolves it for
    # members of the chat and people who have talked to the bot).
    if ref.username:
        return f"@{html.escape(ref.username)}"
    if not ref.user_id.isdigit():
        return html.escape(ref.name)
    return mention_html(int(ref.user_id), ref.name)


def to_html(text: str) -> str:
    """Marked outbox text as Telegram HTML: every piece of text escaped, every person a real mention."""
    return render(text, html.escape, _html_mention)


class TelegramTransport:
    """The Telegram side of the outbox: one Bot object, pooled HTTP connections."""

    platform = "telegram"
    max_text_length = TELEGRAM_MAX_TEXT
    supports_buttons = True

    def __init__(self, token: str, base_url: str, timeout: float = 10.0, paid_broadcast: bool = False) -> None:
        # Telegram's paid broadcast: every send may go past the free ~30 a second, for 0.1 Star each.
        self.paid: dict[str, Any] = {"allow_paid_broadcast": True} if paid_broadcast else {}
        request = HTTPXRequest(
            connection_pool_size=8,
            read_timeout=timeout,
            write_timeout=timeout,
            connect_timeout=timeout,
            pool_timeout=timeout,
            media_write_timeout=max(timeout, 20.0),
        )
        self.bot = Bot(token, base_url=f"{base_url.rstrip('/')}/bot", request=request)

    async def check_reachable(self) -> None:
        """Ask Telegram who the bot is (getMe): raises when the Bot API cannot be reached or refuses the token."""
        await self.bot.get_me()

    async def send(
        self,
        chat_id: str,
        text: str,
        attachments: list[Attachment],
        skip: int = 0,
        thread_id: str | None = None,
        buttons: list[Button] | None = None,
    ) -> SendResult:
        """Send text (split at 4,096 characters) then each attachment, from piece `skip` on, in the forum topic
        `thread_id` when given, the buttons as an inline keyboard under the last text part; never raises for API
        errors."""
        topic = int(thread_id) if thread_id else None
        chunks = split_chunks(text, self.max_text_length) if text else []
        pieces: list[str | Attachment] = [*chunks, *attachments]
        done = min(skip, len(pieces))
        markup = keyboard(buttons or [])
        try:
            for index, piece in enumerate(pieces[done:], start=done):
                under = markup if index == len(chunks) - 1 else None
                if isinstance(piece, str) and has_mentions(piece):
                    marked = to_html(piece)
                    await self.bot.send_message(
                        chat_id=chat_id,
                        text=marked,
                        parse_mode=ParseMode.HTML,
                        message_thread_id=topic,
                        reply_markup=under,
                        **self.paid,
                    )
                elif isinstance(piece, str):
                    await self.bot.send_message(
                        chat_id=chat_id, text=piece, message_thread_id=topic, reply_markup=under, **self.paid
                    )
                elif piece.is_image:
                    photo = InputFile(piece.content, filename=piece.filename)
                    await self.bot.send_photo(chat_id=chat_id, photo=photo, message_thread_id=topic, **self.paid)
                else:
                    file = InputFile(piece.content, filename=piece.filename)
                    await self.bot.send_document(chat_id=chat_id, document=file, message_thread_id=topic, **self.paid)
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
