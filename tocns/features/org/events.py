"""Who is asking, and what happens when the bot joins, leaves or follows a moved group (wired in by `tocns.app`)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.core.context import Sender, UnitChoice
from tocns.core.messages import ChatEvent, IncomingMessage, Reply
from tocns.core.permissions import GUEST
from tocns.core.roles import Level, Role
from tocns.core.router import MarkAndIdentify
from tocns.features.org import store as org_store
from tocns.features.org.models import ChatBinding, OrgUnit, Person, unit_label
from tocns.outbox import store as outbox_store

log = logging.getLogger(__name__)

WELCOME_TEXT = (
    "Xin chào cả nhóm! Tôi là bot của Tổ công nghệ số cộng đồng: ghi nhận kết quả đi cơ sở, giao và nhắc việc, "
    "tổng hợp báo cáo.\n"
    "Để bắt đầu, người được cấp mã kết nối (lãnh đạo xã/phường hoặc tổ trưởng) hãy gõ /ketnoi <mã> để kết nối "
    "nhóm này với đơn vị của mình. Sau đó mỗi thành viên gõ /thamgia <tên tổ>.\n"
    "Gõ /huongdan để xem các lệnh."
)

PRIVACY_TEXT = (
    "Lưu ý: bot chưa đọc được mọi tin trong nhóm, nên lệnh gõ trần như /ghi có thể không tới bot. Quản trị viên "
    "hãy đặt bot làm quản trị viên nhóm; trong lúc chờ, gõ lệnh kèm tên bot, ví dụ /ghi{bot} vneid 5."
)


def _sender_fields(msg: IncomingMessage, now: datetime) -> dict[str, Any]:
    """The sender and chat of `msg` as the org store's group-sender lookups take them."""
    return {
        "platform": msg.platform,
        "user_id": msg.user_id,
        "display_name": msg.display_name,
        "username": msg.username,
        "chat_id": msg.chat_id,
        "now": now,
    }


async def identify(session: AsyncSession, msg: IncomingMessage, now: datetime) -> Sender:
    """The sender as a person (created on first contact), the chat's binding and unit, and the roles held there."""
    known = None if msg.is_private else await org_store.group_sender(session, **_sender_fields(msg, now))
    if known is not None:
        # PostgreSQL, a known sender in a group: person, binding and memberships came back in one round trip.
        person, binding, unit = known
    else:
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
    return await _sender(session, msg, person, binding, unit)


async def _sender(
    session: AsyncSession, msg: IncomingMessage, person: Person, binding: ChatBinding | None, unit: OrgUnit | None
) -> Sender:
    """The sender with the roles held where the message was sent (memberships already read in the session)."""
    roles = {GUEST} | await org_store.roles_in_context(session, person.id or 0, unit)
    if msg.anonymous_admin and unit is not None:
        # An anonymous admin of a bound group acts with the authority of the group's unit's leader (read-only
        # commands only: the router refuses the rest).
        roles.add(ADMIN_ROLE_OF_LEVEL.get(Level(unit.level), Role.STAFF))
    choices = await private_choices(session, person.id or 0) if msg.is_private else []
    return Sender(person=person, binding=binding, unit=unit, roles=roles, choices=choices)


def marking_identify(mark: Any, params: Callable[[str, str, str, datetime], dict[str, Any]]) -> MarkAndIdentify:
    """The router's processed-mark and `identify` in one round trip where they can be (PostgreSQL, a group):
    `mark` is the mark as a data-modifying statement (the inbound store's, given by `tocns.app`) and `params` its
    parameters for (platform, chat, message id, now). Elsewhere the router runs the two apart."""

    async def mark_and_identify(
        session: AsyncSession, msg: IncomingMessage, message_id: str, now: datetime
    ) -> tuple[bool, Sender | None] | None:
        if msg.is_private:
            return None
        found = await org_store.marked_group_sender(
            session, mark, params(msg.platform, msg.chat_id, message_id, now), **_sender_fields(msg, now)
        )
        if found is None:
            return None
        fresh, known = found
        if known is None:
            return fresh, None  # a retried delivery, or a sender met for the first time (identify creates them)
        return fresh, await _sender(session, msg, *known)

    return mark_and_identify


async def private_choices(session: AsyncSession, person_id: int) -> list[UnitChoice]:
    """The units a person acts on from a private chat: where they hold a role, a unit below another one left out
    (a commune leader who is also in one of its teams acts on the commune), each with the roles held there."""
    units = [unit for _membership, unit in await org_store.memberships_of(session, person_id)]
    top = [u for u in units if not any(o.id != u.id and u.path.startswith(o.path) for o in units)]
    choices = []
    for unit in {u.id: u for u in top}.values():
        roles = {GUEST} | await org_store.roles_in_context(session, person_id, unit)
        choices.append(UnitChoice(unit=unit, roles=roles, label=unit_label(unit)))
    return choices


ADMIN_ROLE_OF_LEVEL = {Level.TEAM: Role.TEAM_LEADER, Level.COMMUNE: Role.COMMUNE_LEADER}
"""The role an anonymous admin of a group holds there, by the level of the group's unit (staff above a commune)."""


async def bot_added(session: AsyncSession, event: ChatEvent, now: datetime) -> list[Reply]:
    """The bot joined a group: greet it and say how to connect it to a unit."""
    text = WELCOME_TEXT
    if event.address_as:
        text += "\n" + PRIVACY_TEXT.format(bot=event.address_as)
    return [Reply(text=text, chat_id=event.chat_id, platform=event.platform)]


async def bot_removed(session: AsyncSession, event: ChatEvent, now: datetime) -> list[Reply]:
    """The bot left a group: its binding stops receiving anything."""
    binding = await org_store.deactivate_binding(
        session, event.platform, event.chat_id, reason="bot bị xóa khỏi nhóm", actor_label=event.platform
    )
    log.info(
        "bot removed from %s chat %s (binding %s)", event.platform, event.chat_id, "deactivated" if binding else "none"
    )
    return []


async def chat_migrated(session: AsyncSession, event: ChatEvent, now: datetime) -> list[Reply]:
    """A group moved to a new id: its binding and the messages waiting for it follow (the second half of a
    migration finds nothing to move)."""
    if event.new_chat_id is None:
        return []
    moved = await org_store.move_binding(session, event.platform, event.chat_id, event.new_chat_id)
    waiting = await outbox_store.move_waiting(session, event.platform, event.chat_id, event.new_chat_id)
    if moved is not None or waiting:
        log.info(
            "%s chat %s migrated to %s; binding %s, %d waiting message(s) moved",
            event.platform,
            event.chat_id,
            event.new_chat_id,
            "moved" if moved is not None else "none",
            waiting,
        )
    return []


ChatEventHandler = Callable[[AsyncSession, ChatEvent, datetime], Awaitable[list[Reply]]]


def follow_moved_chat(*followers: ChatEventHandler) -> ChatEventHandler:
    """The one handler of a moved chat, whether an update or a send's answer told: the binding and waiting messages
    move, then each of `followers` (another feature's records of the chat: directive targets), in one transaction."""

    async def handle(session: AsyncSession, event: ChatEvent, now: datetime) -> list[Reply]:
        replies = await chat_migrated(session, event, now)
        for follower in followers:
            replies += await follower(session, event, now)
        return replies

    return handle
