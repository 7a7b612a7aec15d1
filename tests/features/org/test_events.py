"""A chat that moves (a Telegram group upgraded to a supergroup) takes everything with it, whoever told the bot."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from tests.fakes.telegram_server import FakeTelegram, Fault, TelegramServer
from tocns.app import chat_events, sender_hooks
from tocns.channels.telegram import TelegramTransport
from tocns.config import Settings
from tocns.core.messages import ChatEvent, ChatEventKind
from tocns.db.engine import Database
from tocns.features.directives import store as directive_store
from tocns.features.directives.models import DirectiveTarget
from tocns.features.org import store as org_store
from tocns.features.org.models import Level
from tocns.outbox import store as outbox_store
from tocns.outbox.models import OutboxMessage, OutboxState
from tocns.outbox.sender import OutboxSender, PlatformLimits

OLD, NEW = "-1001", "-1009999"
NOON = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)  # 12:00 in Việt Nam: outside the quiet hours


async def _group_with_directive_and_waiting_digest(db: Database) -> None:
    """A bound group, a directive queued to it (due now) and a digest waiting for it (due in an hour)."""
    async with db.session() as session:
        commune = await org_store.create_unit(session, code="00001", name="Xã Một", level=Level.COMMUNE)
        await org_store.bind_chat(session, platform="telegram", chat_id=OLD, unit=commune, person=None)
        directive = await directive_store.create_directive(
            session, text="Ra quân tuần này", scope_label="Xã Một", person=None, now=NOON
        )
        await directive_store.queue_targets(session, directive, [commune], now=NOON, message="Ra quân tuần này")
        later = NOON + timedelta(hours=1)
        await outbox_store.enqueue(session, platform="telegram", chat_id=OLD, text="Tổng hợp", kind="digest", now=later)


async def _moved_by_a_send(db: Database, settings: Settings) -> FakeTelegram:
    fake = FakeTelegram()
    fake.script(OLD, Fault("migrate", new_chat_id=int(NEW)))
    with TelegramServer(fake) as server:
        transport = TelegramTransport("123:abc", server.base_url, timeout=5)
        limits = {"telegram": PlatformLimits.build(30, 20, 1)}
        sender = OutboxSender(db, settings, {"telegram": transport}, lambda: NOON, limits=limits, hooks=sender_hooks())
        for _ in range(5):
            if not await asyncio.wait_for(sender.run_once(), timeout=20):
                break
    return fake


async def _moved_by_an_update(db: Database) -> None:
    event = ChatEvent(ChatEventKind.CHAT_MIGRATED, "telegram", OLD, new_chat_id=NEW)
    async with db.session() as session:
        # The handler the pipeline routes a migration update to.
        await chat_events()[ChatEventKind.CHAT_MIGRATED](session, event, NOON)


@pytest.mark.parametrize("told_by", ["send", "update"])
async def test_a_moved_chat_takes_binding_directive_targets_and_waiting_messages(
    db: Database, settings: Settings, told_by: str
) -> None:
    await _group_with_directive_and_waiting_digest(db)
    if told_by == "send":
        fake = await _moved_by_a_send(db, settings)
        assert fake.delivered_per_chat() == {NEW: 1}  # the directive reached the group at its new id
    else:
        await _moved_by_an_update(db)
    async with db.session() as session:
        assert await org_store.get_binding(session, "telegram", NEW) is not None
        assert await org_store.get_binding(session, "telegram", OLD, active_only=False) is None
        targets = list((await session.exec(select(DirectiveTarget))).all())
        rows = list((await session.exec(select(OutboxMessage).order_by(OutboxMessage.id))).all())
    # An acknowledgement typed in the new group finds the directive.
    assert [t.chat_id for t in targets] == [NEW]
    # Every message, the one being sent and the digest still waiting, goes to the new id.
    assert [(r.kind, r.chat_id) for r in rows] == [("directive", NEW), ("digest", NEW)]
    assert rows[1].state == OutboxState.PENDING
