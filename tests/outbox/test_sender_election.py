"""One sender at a time, really: the election covers `tocns outbox send`, a 429 pauses its chat (the platform when
several chats are refused in a row), a restart keeps the chats' budgets, and a dead sender's claims are taken over in
seconds, not a lease."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import select

from tests.factories import FakeClock, RunningClock, bound_groups, queue
from tests.fakes.telegram_server import FakeTelegram, Fault, TelegramServer
from tocns.channels.telegram import TelegramTransport
from tocns.config import Settings
from tocns.db.engine import Database
from tocns.outbox import store as outbox_store
from tocns.outbox.models import OutboxMessage, OutboxState
from tocns.outbox.sender import GLOBAL_429_STREAK, SENDER_LOCK_KEY, OutboxSender, PlatformLimits, run_elected


def _fast(settings: Settings) -> Settings:
    return settings.model_copy(update={"outbox_poll_seconds": 0.05, "outbox_max_attempts": 5})


@pytest.fixture
def running(clock: FakeClock) -> RunningClock:
    """The test's clock (a weekday morning, outside the quiet hours) moving on at real speed."""
    return RunningClock(clock)


def _sender(
    db: Database, settings: Settings, server: TelegramServer, running: RunningClock, per_chat: int = 20
) -> OutboxSender:
    transport = TelegramTransport("123:abc", server.base_url, timeout=2)
    limits = {"telegram": PlatformLimits.build(30, per_chat, 1)}
    return OutboxSender(db, _fast(settings), {"telegram": transport}, running, limits=limits)


async def _rows(db: Database) -> list[OutboxMessage]:
    async with db.session() as session:
        return list((await session.exec(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def test_a_429_from_one_chat_pauses_only_that_chat(
    db: Database, settings: Settings, running: RunningClock
) -> None:
    chats = await bound_groups(db, 6)
    await queue(db, chats, now=running())
    fake = FakeTelegram()
    fake.script(chats[0], Fault("429", retry_after=2))
    with TelegramServer(fake) as server:
        await asyncio.wait_for(_sender(db, settings, server, running).drain(until_empty=True), timeout=30)
    flood = next(c for c in fake.calls if c.status == 429)
    others = [c for c in fake.calls if c.chat_id != chats[0]]
    again = [c for c in fake.calls if c.chat_id == chats[0] and c.at > flood.at]
    # The other groups get the directive at once; the group that was refused waits its retry_after.
    assert max(c.at for c in others) - flood.at < 1.5
    assert again and min(c.at for c in again) - flood.at >= 1.9
    assert set(fake.delivered_per_chat().values()) == {1} and len(fake.delivered_per_chat()) == 6


async def test_429s_from_several_chats_in_a_row_pause_every_chat(
    db: Database, settings: Settings, running: RunningClock
) -> None:
    chats = await bound_groups(db, 6)
    await queue(db, chats, now=running())
    fake = FakeTelegram()
    for chat in chats[:GLOBAL_429_STREAK]:
        fake.script(chat, Fault("429", retry_after=2))
    with TelegramServer(fake) as server:
        await asyncio.wait_for(_sender(db, settings, server, running).drain(until_empty=True), timeout=30)
    floods = [c for c in fake.calls if c.status == 429]
    after = [c for c in fake.calls if c.at > floods[-1].at]
    # Refusals from several chats in a row are the bot's flood control: nothing, to any chat, until it has passed.
    assert len(floods) == GLOBAL_429_STREAK
    assert after and min(c.at for c in after) - floods[-1].at >= 1.9
    assert set(fake.delivered_per_chat().values()) == {1} and len(fake.delivered_per_chat()) == 6


async def test_a_restarted_sender_keeps_each_chats_minute_budget(
    db: Database, settings: Settings, running: RunningClock
) -> None:
    chats = await bound_groups(db, 1)
    await queue(db, chats * 3, now=running())
    fake = FakeTelegram()
    with TelegramServer(fake) as server:
        await asyncio.wait_for(_sender(db, settings, server, running, per_chat=3).drain(until_empty=True), timeout=20)
        assert fake.delivered_per_chat()[chats[0]] == 3
        await queue(db, chats, text="Tin thứ tư", now=running())
        restarted = _sender(db, settings, server, running, per_chat=3)  # a new process: empty windows in memory
        assert await restarted.rebuild_windows() == 3
        await restarted.run_once()
    assert fake.delivered_per_chat()[chats[0]] == 3
    fourth = (await _rows(db))[-1]
    assert fourth.state == OutboxState.PENDING and fourth.attempts == 0
    assert fourth.next_attempt_at.replace(tzinfo=None) > (running() + timedelta(seconds=30)).replace(tzinfo=None)


@pytest.fixture
def pg_only(is_postgres: bool) -> None:
    """The election lock is a PostgreSQL advisory lock; SQLite has one writer and no election."""
    if not is_postgres:
        pytest.skip("the sender election runs on PostgreSQL")


async def test_outbox_send_waits_while_another_process_sends_then_takes_over(
    db: Database, settings: Settings, pg_only: None, running: RunningClock
) -> None:
    chats = await bound_groups(db, 4)
    await queue(db, chats, now=running())
    fake = FakeTelegram()
    with TelegramServer(fake) as server:
        transport = TelegramTransport("123:abc", server.base_url, timeout=2)
        async with db.engine.connect() as serving:  # `tocns serve`'s sender holds the election lock
            await serving.execute(text("SELECT pg_advisory_lock(:k)"), {"k": SENDER_LOCK_KEY})
            await serving.commit()
            cli = asyncio.create_task(
                run_elected(
                    db,
                    _fast(settings),
                    {"telegram": transport},
                    asyncio.Event(),
                    running,
                    until_empty=True,
                    takeover_seconds=0.2,
                )
            )
            await asyncio.sleep(1.0)
            assert fake.calls == [] and not cli.done()  # it waited: no second sender at the platform
            await serving.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SENDER_LOCK_KEY})
            await serving.commit()
        await asyncio.wait_for(cli, timeout=15)
    assert set(fake.delivered_per_chat().values()) == {1} and len(fake.delivered_per_chat()) == 4


async def test_a_dead_senders_claims_are_taken_over_in_seconds_not_after_the_lease(
    db: Database, settings: Settings, pg_only: None, running: RunningClock
) -> None:
    chats = await bound_groups(db, 5)
    await queue(db, chats, now=running())
    async with db.session() as session:  # a sender claimed them for 300 s, then was killed
        claimed = await outbox_store.claim(
            session, owner="killed-sender", platforms=["telegram"], now=running(), lease_seconds=300, limit=10
        )
    assert len(claimed) == 5
    fake = FakeTelegram()
    with TelegramServer(fake) as server:
        transport = TelegramTransport("123:abc", server.base_url, timeout=2)
        await asyncio.wait_for(
            run_elected(db, _fast(settings), {"telegram": transport}, asyncio.Event(), running, until_empty=True),
            timeout=20,
        )
    assert set(fake.delivered_per_chat().values()) == {1} and len(fake.delivered_per_chat()) == 5
    assert {r.state for r in await _rows(db)} == {OutboxState.SENT}
