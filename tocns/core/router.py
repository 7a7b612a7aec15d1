"""The router: one incoming message in, replies out; one session per update, committed once."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.config import Settings
from tocns.core.context import Context, UserError
from tocns.core.messages import IncomingMessage, Reply
from tocns.core.parsing import ParsedCommand, parse_command
from tocns.core.permissions import GUEST, allowed, role_label
from tocns.core.registry import Registry
from tocns.db.engine import Database
from tocns.db.errors import StorageError
from tocns.features.org import store as org_store
from tocns.features.org.models import utcnow

log = logging.getLogger(__name__)

MAX_INPUT_CHARS = 4000
INTERNAL_ERROR_TEXT = (
    "Xin lỗi, bot gặp lỗi khi xử lý lệnh /{name}. Chưa có gì được lưu; bạn vui lòng thử lại sau ít phút. "
    "Nếu lỗi lặp lại, hãy báo cho cán bộ quản trị."
)

CommandObserver = Callable[[str, str], None]
# Runs in the command's own transaction with its final replies (e.g. to enqueue them in the outbox), so the
# record and its receipt commit together in one round trip instead of two transactions.
RepliesHook = Callable[[AsyncSession, list[Reply]], Awaitable[None]]


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
        db: Database,
        settings: Settings,
        registry: Registry,
        clock: Callable[[], datetime] = utcnow,
        bot_names: Iterable[str] = (),
    ) -> None:
        self.db = db
        self.settings = settings
        self.registry = registry
        self.clock = clock
        self.bot_names: set[str] = {n for n in (settings.bot_username, settings.bot_display_name, *bot_names) if n}
        self.observers: list[CommandObserver] = []

    def parse(self, msg: IncomingMessage) -> ParsedCommand | None:
        """Parse the message text as a command, or None when it is not one for this bot."""
        return parse_command(msg.text, self.bot_names, addressed=msg.addressed_to_bot or msg.is_private)

    def _notify(self, name: str, outcome: str) -> None:
        for observer in self.observers:
            try:
                observer(name, outcome)
            except Exception:  # an observer must never break a command
                log.exception("command observer failed")

    async def handle(self, msg: IncomingMessage, on_replies: RepliesHook | None = None) -> list[Reply]:
        """Process one message and return the replies to send (empty when it is not for the bot).

        `on_replies` receives non-empty replies exactly once, inside the command's transaction when there is one.
        """
        if msg.is_bot:
            return []
        parsed = self.parse(msg)
        if parsed is None:
            return []
        if len(msg.text) > MAX_INPUT_CHARS:
            self._notify(parsed.name, "too_long")
            replies = [
                Reply(
                    text=f"Tin nhắn quá dài ({len(msg.text)} ký tự). Mỗi lệnh tối đa {MAX_INPUT_CHARS} "
                    f"ký tự; hãy chia thành nhiều tin nhắn. Chưa có gì được lưu."
                )
            ]
            await self._deliver_alone(replies, on_replies)
            return replies
        try:
            return await self._handle_parsed(msg, parsed, on_replies)
        except Exception:
            # The traceback goes to the server log only, never to the chat.
            log.exception("command /%s failed (platform=%s chat=%s)", parsed.name, msg.platform, msg.chat_id)
            self._notify(parsed.name, "error")
            replies = [Reply(text=INTERNAL_ERROR_TEXT.format(name=parsed.name))]
            await self._deliver_alone(replies, on_replies)
            return replies

    async def _deliver_alone(self, replies: list[Reply], on_replies: RepliesHook | None) -> None:
        if on_replies is not None and replies:
            async with self.db.session() as session:
                await on_replies(session, replies)

    async def _handle_parsed(
        self, msg: IncomingMessage, parsed: ParsedCommand, on_replies: RepliesHook | None
    ) -> list[Reply]:
        try:
            async with self.db.session() as session:
                replies = await self._in_session(session, msg, parsed)
                if on_replies is not None and replies:
                    await on_replies(session, replies)
                return replies
        except (UserError, StorageError) as exc:
            # The command's own changes were rolled back; remember the message so a retry stays quiet.
            self._notify(parsed.name, "rejected")
            text = exc.message if isinstance(exc, UserError) else str(exc)
            replies = [Reply(text=text)]
            async with self.db.session() as session:
                if msg.message_id is not None:
                    await org_store.mark_processed(session, msg.platform, msg.chat_id, msg.message_id)
                if on_replies is not None:
                    await on_replies(session, replies)
            return replies

    async def _in_session(self, session: AsyncSession, msg: IncomingMessage, parsed: ParsedCommand) -> list[Reply]:
        now = self.clock()
        if msg.message_id is not None and not await org_store.mark_processed(
            session, msg.platform, msg.chat_id, msg.message_id
        ):
            log.info("duplicate delivery of message %s in %s:%s ignored", msg.message_id, msg.platform, msg.chat_id)
            self._notify(parsed.name, "duplicate")
            return []
        person = await org_store.upsert_person(
            session,
            platform=msg.platform,
            user_id=msg.user_id,
            display_name=msg.display_name,
            username=msg.username,
            private_chat_id=msg.chat_id if msg.is_private else None,
            now=now,
        )
        # In a group, the binding and the person's memberships (roles, team) come back in one query.
        binding, unit = (
            (None, None)
            if msg.is_private
            else await org_store.chat_context(session, msg.platform, msg.chat_id, person.id or 0)
        )
        roles = {GUEST} | await org_store.roles_in_context(session, person.id or 0, unit)
        command = self.registry.lookup(parsed.name)
        if command is None:
            self._notify(parsed.name, "unknown")
            return [Reply(text=self._unknown_command_text(parsed.name))]
        if not allowed(command.roles, roles):
            self._notify(command.name, "denied")
            who = ", ".join(role_label(r) for r in sorted(command.roles, key=_role_order))
            return [
                Reply(
                    text=f"Bạn không có quyền dùng lệnh /{command.name}. Lệnh này dành cho: {who}. "
                    f"Gõ /huongdan để xem các lệnh bạn dùng được."
                )
            ]
        ctx = Context(
            msg=msg,
            args=parsed.args,
            command=command,
            registry=self.registry,
            session=session,
            settings=self.settings,
            person=person,
            binding=binding,
            unit=unit,
            roles=roles,
            now=now,
        )
        replies = _as_replies(await command.handler(ctx))
        self._notify(command.name, "ok")
        return replies

    def _unknown_command_text(self, name: str) -> str:
        suggestion = self.registry.suggest(name)
        hint = f" Có phải bạn muốn gõ /{suggestion}?" if suggestion else ""
        return f"Không có lệnh /{name}.{hint} Gõ /huongdan để xem các lệnh."


def _role_order(role: str) -> int:
    from tocns.features.org.models import Role

    return 0 if role == GUEST else Role(role).rank
