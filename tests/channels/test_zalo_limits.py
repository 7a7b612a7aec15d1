"""Zalo Bot Platform failures as the real server produces them: quota storms, a revoked token, a refused setup."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from tests.cli.test_cli import TOCNS
from tests.factories import FakeClock
from tests.fakes import zalo_api
from tests.fakes.platforms import ZALO_SECRET, platform_settings, zalo_update
from tests.fakes.zalo_api import FakeZaloApi
from tests.fakes.zalo_server import ZaloServer
from tocns.app import BotApp
from tocns.channels.zalo import ZaloApi, ZaloChannel, ZaloTransport
from tocns.config import Settings
from tocns.core.metrics import METRICS
from tocns.outbox import store as outbox_store
from tocns.outbox.models import OutboxMessage, OutboxState
from tocns.outbox.sender import OutboxSender, PlatformLimits

CHATS = ["zuser-1", "zuser-2", "zuser-3"]


async def _queue(app: BotApp, chats: list[str]) -> None:
    # Urgent directives: sent at any hour, so the simulated hours are not held back by the quiet hours.
    async with app.db.session() as session:
        for chat in chats:
            await outbox_store.enqueue(
                session,
                platform="zalo",
                chat_id=chat,
                text=f"Chỉ đạo cho {chat}",
                kind="directive_urgent",
                now=app.clock(),
            )


async def _rows(app: BotApp) -> list[OutboxMessage]:
    async with app.db.session() as session:
        return list((await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all())


def _simulated_sender(app: BotApp, settings: Settings, fake: FakeZaloApi, clock: FakeClock) -> OutboxSender:
    """A sender whose wall clock and monotonic clock are the fake clock: waits pass without real sleeping."""
    start = clock()
    transport = ZaloTransport(settings, client=fake.client(), clock=clock)
    return OutboxSender(
        app.db,
        settings,
        {"zalo": transport},
        clock=clock,
        monotonic=lambda: (clock() - start).total_seconds(),
        limits={"zalo": PlatformLimits.build(10, 20, 1)},
    )


async def _run_until(sender: OutboxSender, clock: FakeClock, until: timedelta) -> None:
    """Run the sender in simulated time, jumping to whatever is due next, up to `until` from now."""
    end = clock() + until
    while clock() < end:
        if await sender.run_once():
            continue
        async with sender.db.session() as session:
            due = await outbox_store.next_due(session, ["zalo"])
        if due is None:
            return
        due = due if due.tzinfo else due.replace(tzinfo=clock().tzinfo)
        clock.now = min(end, max(due, clock() + timedelta(milliseconds=10)))


async def test_a_429_storm_pauses_the_channel_then_everything_is_delivered(
    app: BotApp, settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    zsettings = platform_settings(settings, tmp_path)
    fake = FakeZaloApi()
    fake.quota_exceeded = True
    await _queue(app, CHATS)
    sender = _simulated_sender(app, zsettings, fake, clock)
    await _run_until(sender, clock, timedelta(minutes=10))
    storm = len(fake.sent())
    # Ten minutes of "Quota exceeded": a few requests (60 s, 120 s, 240 s... apart), not one a second per message.
    assert 1 <= storm <= 20
    assert all(r.state == OutboxState.PENDING and r.attempts == 0 for r in await _rows(app))
    fake.quota_exceeded = False
    await _run_until(sender, clock, timedelta(minutes=31))
    delivered = [p["chat_id"] for p in fake.sent()[storm:]]
    assert sorted(delivered) == CHATS
    assert all(r.state == OutboxState.SENT for r in await _rows(app))


async def test_a_message_is_given_up_only_after_hours_of_quota_errors(
    app: BotApp, settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    zsettings = platform_settings(settings, tmp_path)
    fake = FakeZaloApi()
    fake.quota_exceeded = True
    await _queue(app, CHATS[:1])
    sender = _simulated_sender(app, zsettings, fake, clock)
    await _run_until(sender, clock, timedelta(hours=11))
    assert (await _rows(app))[0].state == OutboxState.PENDING
    await _run_until(sender, clock, timedelta(hours=2))
    row = (await _rows(app))[0]
    assert row.state == OutboxState.FAILED and "429" in (row.last_error or "") and "12 giờ" in (row.last_error or "")
    # The pause grew to half an hour: 13 hours cost about 30 requests.
    assert len(fake.sent()) <= 35


async def test_a_revoked_token_stops_the_channel_and_keeps_the_messages(
    app: BotApp, settings: Settings, clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    zsettings = platform_settings(settings, tmp_path)
    fake = FakeZaloApi()
    fake.token = "a-new-token-after-reset"  # the operator reset the token in Zalo Bot Creator
    await _queue(app, CHATS)
    sender = _simulated_sender(app, zsettings, fake, clock)
    with caplog.at_level(logging.ERROR):
        await asyncio.wait_for(sender.drain(until_empty=True), timeout=30)
    # One request found the token refused; nothing was failed, nothing more was tried.
    assert fake.unauthorized == 1
    rows = await _rows(app)
    assert all(r.state == OutboxState.PENDING and r.attempts == 0 for r in rows)
    assert "401" in (rows[0].last_error or "")
    assert any(r.levelno == logging.ERROR and "token" in r.getMessage() for r in caplog.records)
    assert sender.stopped.keys() == {"zalo"}
    assert METRICS.channel_stopped.labels("zalo")._value.get() == 1
    METRICS.channel_stopped.labels("zalo").set(0)
    # With the right token (a restart), the waiting messages go out.
    fake.token = zalo_api.TOKEN
    restarted = _simulated_sender(app, zsettings, fake, clock)
    await asyncio.wait_for(restarted.drain(until_empty=True), timeout=30)
    assert sorted(p["chat_id"] for p in fake.sent()) == CHATS


async def test_unknown_error_codes_are_retried_then_given_up(
    app: BotApp, settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    zsettings = platform_settings(settings, tmp_path).model_copy(update={"outbox_max_attempts": 3})
    fake = FakeZaloApi()
    fake.fail["sendMessage"] = [(200, {"ok": False, "error_code": -999, "description": "?"})] * 10
    await _queue(app, CHATS[:1])
    sender = _simulated_sender(app, zsettings, fake, clock)
    await _run_until(sender, clock, timedelta(hours=1))
    row = (await _rows(app))[0]
    assert len(fake.sent()) == 3 and row.state == OutboxState.FAILED and row.last_error == "-999: ?"


async def test_polling_deletes_the_webhook_first(app: BotApp, settings: Settings, tmp_path: Path) -> None:
    zsettings = platform_settings(settings, tmp_path)
    papp = BotApp.build(zsettings, app.db, app.clock)
    # The bot was served by webhook before: getUpdates is refused until the webhook is deleted.
    fake = FakeZaloApi(webhook_url="https://old.example.vn/webhook/zalo")
    fake.updates.append(zalo_update("huongdan", private=True)["result"])
    stop = asyncio.Event()
    fake.on_empty = stop.set
    channel = ZaloChannel(
        zsettings, papp.router, api=ZaloApi(zsettings.zalo_api_base_url, zalo_api.TOKEN, fake.client())
    )
    received: list[object] = []

    async def process(_channel: object, update: object) -> None:
        received.append(update)

    await asyncio.wait_for(channel.poll(process, stop), timeout=10)
    methods = [m for m, _ in fake.calls]
    assert methods[0] == "deleteWebhook" and fake.webhook_url == ""
    assert len(received) == 1


async def test_polling_stops_on_a_refused_token(
    app: BotApp, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    zsettings = platform_settings(settings, tmp_path)
    fake = FakeZaloApi()
    channel = ZaloChannel(zsettings, app.router, api=ZaloApi(zsettings.zalo_api_base_url, "revoked", fake.client()))
    with caplog.at_level(logging.ERROR):
        await asyncio.wait_for(channel.poll(lambda *_: asyncio.sleep(0), asyncio.Event()), timeout=10)
    assert fake.unauthorized == 2  # deleteWebhook, one getUpdates: then stopped, not retried every 3 s forever
    assert any(r.levelno == logging.ERROR and "401" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("env", "token", "expected"),
    [
        ({}, "wrong-token", "Zalo không nhận mã bot (lỗi 401"),
        ({"ZALO_WEBHOOK_SECRET": "short"}, zalo_api.TOKEN, "ZALO_WEBHOOK_SECRET phải dài 8-256 ký tự"),
        ({"PUBLIC_BASE_URL": "http://bot.example.vn"}, zalo_api.TOKEN, "Zalo chỉ nhận webhook HTTPS"),
    ],
)
def test_serve_refuses_a_configuration_zalo_refuses(
    tmp_path: Path, env: dict[str, str], token: str, expected: str
) -> None:
    fake = FakeZaloApi()
    with ZaloServer(fake) as server:
        full_env = {
            **os.environ,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}",
            "ZALO_BOT_TOKEN": token,
            "ZALO_API_BASE_URL": server.base_url,
            "ZALO_WEBHOOK_SECRET": ZALO_SECRET,
            "PUBLIC_BASE_URL": "https://bot.example.vn",
            "FILES_DIR": str(tmp_path / "files"),
            **env,
        }
        done = subprocess.run(
            [*TOCNS, "serve"], env=full_env, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
    assert done.returncode == 2
    # Besides the log records (migrations), the operator reads one line: the cause.
    lines = [line for line in done.stderr.splitlines() if line.strip() and not re.match(r"\d{4}-\d\d-\d\d ", line)]
    assert len(lines) == 1 and expected in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert fake.webhook_url == ""  # nothing half-registered
