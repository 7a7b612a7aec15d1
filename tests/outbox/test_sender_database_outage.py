"""Fault injection: the database goes away for 8 s under a sender that is sending 200 queued messages; when it is
back, every message goes out exactly once, with no restart, and /healthz answers 503 while the sender cannot
progress with messages due, 200 after (issue 22)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import event, make_url
from sqlmodel import select

from tests.factories import FakeClock, bound_groups
from tests.fakes.platforms import RunningClock
from tests.fakes.tcp_proxy import TcpProxy
from tests.fakes.telegram_server import FakeTelegram, TelegramServer
from tocns.app import BotApp
from tocns.config import Settings
from tocns.db.engine import Database
from tocns.outbox import store as outbox_store
from tocns.outbox.models import OutboxMessage, OutboxState
from tocns.outbox.sender import LOOP_NAME
from tocns.web.app import create_app

CHATS = 20
PER_CHAT = 10  # 200 messages: 10 per group, within a group's 20 a minute
OUTAGE_SECONDS = 8.0  # as long as the audit's
STALL_SECONDS = 2.0  # LOOP_STALL_SECONDS for this test: /healthz turns 503 this long after the sender stops
DEADLINE_SECONDS = 60.0  # a bound on waiting, not a measurement


class SqliteOutage:
    """SQLite has no server to cut: every statement and every new connection of the worker's engine fails, while
    cut, with the errors SQLite gives when its file cannot be read ("disk I/O error", "unable to open database
    file"), at the driver's boundary, so the application sees exactly what a lost file or disk gives it."""

    def __init__(self, db: Database) -> None:
        self.down = False
        self.refused = 0
        event.listen(db.engine.sync_engine, "before_cursor_execute", self._execute)
        event.listen(db.engine.sync_engine, "do_connect", self._connect)

    def _execute(self, *_args: Any) -> None:
        if self.down:
            self.refused += 1
            raise sqlite3.OperationalError("disk I/O error")

    def _connect(self, *_args: Any) -> None:
        if self.down:
            self.refused += 1
            raise sqlite3.OperationalError("unable to open database file")

    async def cut(self) -> None:
        """The database goes away."""
        self.down = True

    async def restore(self) -> None:
        """The database is back."""
        self.down = False


@asynccontextmanager
async def worker(settings: Settings, clock: RunningClock) -> AsyncIterator[tuple[BotApp, httpx.AsyncClient]]:
    """One `tocns serve` worker with its sender and scheduler running (its own engine) and its web app."""
    db = Database(settings.database_url)
    bot = BotApp.build(settings, db, clock)
    web_app = create_app(settings, with_scheduler=True, bot_app=bot, channels=[])
    try:
        async with web_app.router.lifespan_context(web_app):  # starts the loops, as a worker does at start
            transport = httpx.ASGITransport(app=web_app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                yield bot, client
    finally:
        await db.dispose()


async def until(condition: Any, timeout: float = DEADLINE_SECONDS) -> None:
    """Wait (at most `timeout` seconds) until `condition()` (sync or async) is true."""
    async with asyncio.timeout(timeout):
        while True:
            value = condition()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return
            await asyncio.sleep(0.1)


async def test_every_queued_message_goes_out_once_after_a_database_outage_without_a_restart(
    app: BotApp, settings: Settings, clock: FakeClock, is_postgres: bool
) -> None:
    chats = await bound_groups(app.db, CHATS)
    texts = [f"Chỉ đạo số {i}" for i in range(CHATS * PER_CHAT)]
    async with app.db.session() as session:
        for chat, text in zip(chats * PER_CHAT, texts, strict=True):  # due at the test clock's 09:00, Vietnam time
            await outbox_store.enqueue(
                session, platform="telegram", chat_id=chat, text=text, kind="directive", now=clock()
            )
    fake = FakeTelegram()

    async with AsyncExitStack() as stack:
        server = stack.enter_context(TelegramServer(fake))
        url = settings.database_url
        outage: TcpProxy | SqliteOutage | None = None
        if is_postgres:
            # The outage is a TCP proxy between the worker's engine and PostgreSQL that drops every connection.
            direct = make_url(url)
            proxy = TcpProxy(direct.host or "127.0.0.1", direct.port or 5432)
            await proxy.start()
            stack.push_async_callback(proxy.close)
            url = direct.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
            outage = proxy
        served = settings.model_copy(
            update={
                "database_url": url,
                "telegram_bot_token": "123:abc",
                "telegram_api_base_url": server.base_url,
                "telegram_request_timeout": 3,
                "outbox_poll_seconds": 0.05,
                "loop_backoff_max_seconds": 0.5,  # short waits, in real time: the test waits seconds, not minutes
                "loop_stall_seconds": STALL_SECONDS,
            }
        )
        bot, client = await stack.enter_async_context(worker(served, RunningClock(clock)))
        if outage is None:
            outage = SqliteOutage(bot.db)

        # Sending is under way when the database goes away.
        async def healthy() -> bool:
            return (await client.get("/healthz")).status_code == 200

        await until(lambda: len(fake.delivered()) >= 40)
        # Healthy while sending (polled: on a loaded machine one answer can come late).
        await until(healthy, timeout=10)
        await outage.cut()
        cut_at = len(fake.delivered())

        # No loop can progress: once the sender has had messages due and no progress for STALL_SECONDS, /healthz
        # says so (503, the sender named stalled).
        await asyncio.sleep(STALL_SECONDS + 1.5)
        down = await client.get("/healthz")
        assert down.status_code == 503
        assert down.json()["loops"][LOOP_NAME]["stalled"] is True
        assert down.json()["loops"][LOOP_NAME]["due"] is True
        await asyncio.sleep(OUTAGE_SECONDS - STALL_SECONDS - 1.5)
        assert len(fake.delivered()) < len(texts)  # the outage really held messages back
        await outage.restore()

        # Back: no restart, no operator. The same sender takes up where it was and sends everything left.
        await until(lambda: len(fake.delivered()) >= len(texts))
        await until(healthy, timeout=10)
        up = (await client.get("/healthz")).json()
        assert up["loops"][LOOP_NAME]["stalled"] is False
        # The sender loop survived by itself: the supervisor never had to start it again.
        assert bot.loops.state(LOOP_NAME).restarts == 0
        await asyncio.sleep(1.0)  # anything sent twice would have gone out by now
    refused = outage.refused if isinstance(outage, SqliteOutage) else outage.connections
    assert refused > 0 and cut_at < len(texts)

    # Every message exactly once: each text delivered once, to its chat; every row sent, none left "sending".
    delivered = Counter((c.chat_id, c.text) for c in fake.delivered())
    assert sorted(delivered) == sorted(zip(chats * PER_CHAT, texts, strict=True))
    assert set(delivered.values()) == {1}
    async with app.db.session() as session:
        rows = (await session.exec(select(OutboxMessage))).all()
    assert len(rows) == len(texts) and {r.state for r in rows} == {OutboxState.SENT}
