"""The router: one message in, replies out, inside the update's session (the pipeline owns the transaction)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.config import Settings
from tocns.core.clock import utcnow
from tocns.core.context import Context, Identify, Sender, UserError
from tocns.core.errors import StorageError
from tocns.core.focus import choose_text, pick_choice
from tocns.core.messages import IncomingMessage, Reply
from tocns.core.parsing import ParsedCommand, parse_command
from tocns.core.permissions import GUEST, allowed, role_label
from tocns.core.registry import Command, Registry
from tocns.core.roles import Role
from tocns.core.updates import MarkProcessed

log = logging.getLogger(__name__)

MAX_INPUT_CHARS = 4000
INTERNAL_ERROR_TEXT = (
    "Xin lỗi, bot gặp lỗi khi xử lý lệnh /{name}. Chưa có gì được lưu; bạn vui lòng thử lại sau ít phút. "
    "Nếu lỗi lặp lại, hãy báo cho cán bộ quản trị."
)

CommandObserver = Callable[[str, str], None]

MarkAndIdentify = Callable[[AsyncSession, IncomingMessage, str, datetime], Awaitable[tuple[bool, Sender | None] | None]]
"""The processed-mark of a message (its id given) and the sender's `identify` in one step: whether the mark is new
and the sender (None when `identify` must still run); None when the two cannot be done together here."""


def _as_replies(result: Reply | list[Reply] | str | None) -> list[Reply]:
    if result is None:
        return []
    if isinstance(result, str):
        return [Reply(text=result)]
    if isinstance(result, Reply):
        return [result]
    return list(result)


class Router:
    """Turns a neutral IncomingMessage into replies using the command registry."""

    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        identify: Identify,
        mark_processed: MarkProcessed,
        clock: Callable[[], datetime] = utcnow,
        bot_names: Iterable[str] = (),
        mark_and_identify: MarkAndIdentify | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.identify = identify
        # Injected (the inbound store's, by `tocns.app`): the core is a leaf and opens no table itself.
        self.mark_processed = mark_processed
        # Injected too, optional: the mark and the sender in one round trip where the database allows it.
        self.mark_and_identify = mark_and_identify
        self.clock = clock
        names = (settings.bot_username, settings.bot_display_name, settings.zalo_bot_name, *bot_names)
        self.bot_names: set[str] = {n for n in names if n}
        self.observers: list[CommandObserver] = []

    def parse(self, msg: IncomingMessage) -> ParsedCommand | None:
        """Parse the message text as a command, or None when it is not one for this bot."""
        addressed = msg.addressed_to_bot or msg.is_private
        return parse_command(msg.text, self.bot_names, addressed=addressed, commands=self.registry.names())

    def _notify(self, name: str, outcome: str) -> None:
        for observer in self.observers:
            try:
                observer(name, outcome)
            except Exception:  # an observer must never break a command
                log.exception("command observer failed")

    async def handle(self, session: AsyncSession, msg: IncomingMessage) -> list[Reply]:
        """Process one message in the caller's session; the replies to send (empty when it is not for the bot).

        It must be the first work in the session's transaction (the pipeline calls it first): a rejected command
        rolls that transaction back and the message's processed-mark is written again in the same session, so the
        refusal, the mark and the update's done-mark still commit together (a SAVEPOINT would do the same at two
        extra statements on every command, accepted or not: docs/decisions.md). A command that fails unexpectedly
        raises: the caller's session rolls back everything, the processed-mark included, so a retry runs it again.
        """
        if msg.is_bot:
            return []
        parsed = self.parse(msg)
        if parsed is None:
            return []
        if len(msg.text) > MAX_INPUT_CHARS:
            self._notify(parsed.name, "too_long")
            return [
                Reply(
                    text=f"Tin nhắn quá dài ({len(msg.text)} ký tự). Mỗi lệnh tối đa {MAX_INPUT_CHARS} "
                    f"ký tự; hãy chia thành nhiều tin nhắn. Chưa có gì được lưu.",
                    refused=True,
                )
            ]
        fresh, sender = await self._mark_first(session, msg)
        if not fresh:
            log.info("duplicate delivery of message %s in %s:%s ignored", msg.message_id, msg.platform, msg.chat_id)
            self._notify(parsed.name, "duplicate")
            return []
        try:
            return await self._run(session, msg, parsed, sender)
        except (UserError, StorageError) as exc:
            self._notify(parsed.name, "rejected")
            replies = [Reply(text=exc.message if isinstance(exc, UserError) else str(exc), refused=True)]
        except Exception:
            # Unexpected (a bug, the database going away): nothing is kept, the caller's transaction is rolled back
            # and the caller decides. The pipeline retries the update and tells the sender only when it gives up
            # (docs/inbound.md); the traceback goes to the server log only, never to the chat.
            self._notify(parsed.name, "error")
            raise
        # Nothing of the command is kept; the message is remembered, so a redelivery stays quiet.
        await session.rollback()
        await self._mark_processed(session, msg)
        return replies

    async def _mark_first(self, session: AsyncSession, msg: IncomingMessage) -> tuple[bool, Sender | None]:
        """The processed-mark, with the sender when it came back in the same round trip (else None)."""
        if msg.message_id is not None and self.mark_and_identify is not None:
            done = await self.mark_and_identify(session, msg, msg.message_id, self.clock())
            if done is not None:
                return done
        return await self._mark_processed(session, msg), None

    async def _mark_processed(self, session: AsyncSession, msg: IncomingMessage) -> bool:
        if msg.message_id is None:
            return True
        return await self.mark_processed(session, msg.platform, msg.chat_id, msg.message_id, self.clock())

    async def _run(
        self, session: AsyncSession, msg: IncomingMessage, parsed: ParsedCommand, known: Sender | None = None
    ) -> list[Reply]:
        now = self.clock()
        sender = known if known is not None else await self.identify(session, msg, now)
        command = self.registry.lookup(parsed.name)
        if command is None:
            self._notify(parsed.name, "unknown")
            return [Reply(text=self._unknown_command_text(parsed.name), refused=True)]
        if msg.anonymous_admin and not command.anonymous:
            self._notify(command.name, "anonymous")
            return [Reply(text=ANONYMOUS_TEXT.format(name=command.name), refused=True)]
        args = parsed.args
        if msg.is_private and command.unit_scoped and sender.unit is None:
            focused = self._focus(command, sender, args)
            if isinstance(focused, Reply):
                self._notify(command.name, "choose_unit")
                return [focused]
            sender, args = focused
        if not allowed(command.roles, sender.roles):
            self._notify(command.name, "denied")
            who = ", ".join(role_label(r) for r in sorted(command.roles, key=_role_order))
            return [
                Reply(
                    text=f"Bạn không có quyền dùng lệnh /{command.name}. Lệnh này dành cho: {who}. "
                    f"Gõ /huongdan để xem các lệnh bạn dùng được.",
                    refused=True,
                )
            ]
        ctx = Context(
            msg=msg,
            args=args,
            command=command,
            registry=self.registry,
            session=session,
            settings=self.settings,
            person=sender.person,
            binding=sender.binding,
            unit=sender.unit,
            roles=sender.roles,
            now=now,
        )
        replies = _as_replies(await command.handler(ctx))
        self._notify(command.name, "ok")
        return replies

    def _focus(self, command: Command, sender: Sender, args: str) -> tuple[Sender, str] | Reply:
        """In a private chat, the unit a unit-scoped command acts on: the person's only unit where the command is
        allowed, or the one its arguments start with; otherwise a reply asking which (docs/private-chats.md)."""
        choices = [c for c in sender.choices if allowed(command.roles, c.roles)]
        picked, rest = pick_choice(args, choices)
        if picked is None and len(choices) > 1:
            return Reply(text=choose_text(command.name, choices, args))
        if picked is None and len(choices) == 1:
            picked, rest = choices[0], args
        if picked is None:
            return sender, args  # no role allowing it anywhere: the permission check answers
        focused = Sender(person=sender.person, binding=None, unit=picked.unit, roles=picked.roles, choices=[picked])
        return focused, rest

    def _unknown_command_text(self, name: str) -> str:
        suggestion = self.registry.suggest(name)
        hint = f" Có phải bạn muốn gõ /{suggestion}?" if suggestion else ""
        return f"Không có lệnh /{name}.{hint} Gõ /huongdan để xem các lệnh."


ANONYMOUS_TEXT = (
    "Lệnh /{name} cần biết ai gửi, nhưng bạn đang gửi ẩn danh với tư cách quản trị viên nhóm: hãy tắt "
    '"Ẩn danh" (Remain anonymous) trong quyền quản trị của mình (Quản lý nhóm → Quản trị viên) rồi gửi lại.'
)


def _role_order(role: str) -> int:
    return 0 if role == GUEST else Role(role).rank
