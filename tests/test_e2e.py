"""End to end: a platform update in, a record stored, the reply through the outbox to a fake platform server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from tests.cli.test_cli import TOCNS
from tests.factories import LEADER, MEMBER, FakeClock, build_tree
from tests.fakes import zalo_api
from tests.fakes.platforms import (
    channels_for,
    commune_join_code,
    e2e_settings,
    logged_quantities,
    outbox,
    platform_app,
    post_telegram,
    post_zalo,
    sender,
    stop_tocns,
    tg_message_update,
    zalo_update,
)
from tests.fakes.telegram_server import FakeTelegram, Fault, TelegramServer
from tests.fakes.zalo_api import FakeZaloApi
from tests.fakes.zalo_server import ZaloServer
from tocns.app import BotApp
from tocns.channels.telegram import TelegramTransport
from tocns.channels.zalo import ZaloTransport
from tocns.config import Settings
from tocns.core.metrics import METRICS
from tocns.features.org import store as org_store
from tocns.features.reports import jobs as report_jobs
from tocns.outbox import store as outbox_store
from tocns.web.app import create_app

GROUP = -1001
HELP = "Các lệnh bạn dùng được"


@asynccontextmanager
async def web(app: BotApp, channels: list[Any] | None = None) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    """The web app exactly as `tocns serve` builds it (channels from the settings unless given)."""
    web_app = create_app(app.settings, bot_app=app, channels=channels)
    try:
        transport = httpx.ASGITransport(app=web_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client, web_app
        await web_app.state.pipeline.drain()
    finally:
        if channels is None:
            for channel in web_app.state.channels.values():
                await channel.close()


def telegram(app: BotApp) -> TelegramTransport:
    """The Telegram transport on the fake server named in the settings."""
    return TelegramTransport(app.settings.telegram_bot_token, app.settings.telegram_api_base_url, timeout=3)


async def _telegram_group_with_member(papp: BotApp) -> None:
    """Through the webhook: the leader binds the group, a member joins Thôn 3; their replies are delivered."""
    code = await commune_join_code(papp)
    async with web(papp) as (client, _):
        await post_telegram(client, tg_message_update(f"/ketnoi {code}", chat_id=GROUP, user_id=int(LEADER)))
        await post_telegram(client, tg_message_update("/thamgia thon 3", chat_id=GROUP, user_id=int(MEMBER)))


async def test_telegram_webhook_ghi_is_stored_and_the_receipt_reaches_the_group(
    app: BotApp, settings: Settings, tmp_path: Path
) -> None:
    with TelegramServer() as server:
        papp = platform_app(app, e2e_settings(settings, tmp_path, server.base_url))
        await _telegram_group_with_member(papp)
        async with web(papp) as (client, _):
            await post_telegram(client, tg_message_update("/ghi vneid 5", chat_id=GROUP, user_id=int(MEMBER)))
        assert await logged_quantities(papp) == [("telegram", str(GROUP), 5)]
        before = METRICS.registry.get_sample_value("tocns_send_latency_seconds_count", {"platform": "telegram"}) or 0
        transport = telegram(papp)
        await asyncio.wait_for(sender(papp, {"telegram": transport}).drain(until_empty=True), timeout=30)
        await transport.close()
    receipts = [r for r in await outbox(papp, str(GROUP)) if "Đã ghi #" in r.text]
    assert len(receipts) == 1 and "VNeID (vneid): 5 người" in receipts[0].text
    messages = [c for c in server.fake.delivered() if c.method == "sendMessage"]
    assert {c.chat_id for c in messages} == {str(GROUP)}
    # The group got the receipt exactly once, word for word (other replies may share its message).
    assert sum(receipts[0].text in c.text for c in messages) == 1
    assert any("Đã kết nối nhóm này với Xã Tân Lập" in c.text for c in messages)
    after = METRICS.registry.get_sample_value("tocns_send_latency_seconds_count", {"platform": "telegram"}) or 0
    assert after - before == len(await outbox(papp, str(GROUP)))  # one latency sample per delivered row


async def test_reply_answered_429_arrives_once_after_retry_after(
    app: BotApp, settings: Settings, tmp_path: Path
) -> None:
    fake = FakeTelegram()
    with TelegramServer(fake) as server:
        papp = platform_app(app, e2e_settings(settings, tmp_path, server.base_url))
        await _telegram_group_with_member(papp)
        transport = telegram(papp)
        await asyncio.wait_for(sender(papp, {"telegram": transport}).drain(until_empty=True), timeout=30)
        setup_calls = len(fake.calls)
        fake.script(str(GROUP), Fault("429", retry_after=1))
        async with web(papp) as (client, _):
            await post_telegram(client, tg_message_update("/ghi vneid 5", chat_id=GROUP, user_id=int(MEMBER)))
        await asyncio.wait_for(sender(papp, {"telegram": transport}).drain(until_empty=True), timeout=30)
        await transport.close()
    calls = fake.calls[setup_calls:]
    assert [(c.method, c.status) for c in calls] == [("sendMessage", 429), ("sendMessage", 200)]
    assert "Đã ghi #" in calls[1].text and calls[1].chat_id == str(GROUP)
    # Measured on the server's own clock: the retry came after the retry_after it asked for.
    assert calls[1].at - calls[0].at >= 1.0
    assert sum("Đã ghi #" in c.text for c in fake.delivered()) == 1


async def test_zalo_webhook_ghi_is_stored_and_the_receipt_reaches_the_group(
    app: BotApp, settings: Settings, tmp_path: Path, tg_server: TelegramServer
) -> None:
    zalo = FakeZaloApi(known_chats={"zgroup-1"}, can_join_groups=True, groups={"zgroup-1"})
    papp = platform_app(app, e2e_settings(settings, tmp_path, "http://127.0.0.1:9"))
    code = await commune_join_code(papp)
    channels = list(channels_for(papp, tg_server, zalo))
    async with web(papp, channels) as (client, _):
        await post_zalo(client, zalo_update(f"/ketnoi {code}", user_id="zlead"))
        await post_zalo(client, zalo_update("/thamgia thon 3", user_id="zmember"))
        await post_zalo(client, zalo_update("@ToCNSBot /ghi vneid 5", user_id="zmember"))
    assert await logged_quantities(papp) == [("zalo", "zgroup-1", 5)]
    transport = ZaloTransport(papp.settings, client=zalo.client())
    await asyncio.wait_for(sender(papp, {"zalo": transport}).drain(until_empty=True), timeout=30)
    await transport.close()
    receipt = next(r for r in await outbox(papp, "zgroup-1") if "Đã ghi #" in r.text)
    sent = zalo.sent("sendMessage")
    assert {p["chat_id"] for p in sent} == {"zgroup-1"}
    assert sum(receipt.text in p["text"] for p in sent) == 1


async def test_weekly_summary_reaches_telegram_as_files_and_zalo_as_links(
    app: BotApp, settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    zalo = FakeZaloApi(known_chats={"zso"}, can_join_groups=True, groups={"zso"})
    with TelegramServer() as server:
        papp = platform_app(app, e2e_settings(settings, tmp_path, server.base_url))
        async with papp.db.session() as session:
            tree = await build_tree(session)
            await org_store.bind_chat(session, platform="telegram", chat_id="-100so", unit=tree.province, person=None)
            await org_store.bind_chat(session, platform="zalo", chat_id="zso", unit=tree.province, person=None)
        clock.set_local("2026-11-23 07:30")
        assert len(await report_jobs.weekly_summary(papp, clock())) == 4  # per chat: the text, then the files
        zalo_transport = ZaloTransport(papp.settings, client=zalo.client(), clock=papp.clock)
        transports = {"telegram": telegram(papp), "zalo": zalo_transport}
        await asyncio.wait_for(sender(papp, transports).drain(until_empty=True), timeout=30)
        for transport in transports.values():
            await transport.close()  # type: ignore[attr-defined]
    got = [(c.method, c.chat_id) for c in server.fake.delivered()]
    assert got == [("sendMessage", "-100so")] * 2 + [("sendPhoto", "-100so"), ("sendDocument", "-100so")]
    photo, document = (c.text for c in server.fake.delivered()[2:])
    assert photo == "<file bao-cao-P01-2026-W47.png>" and document == "<file bao-cao-P01-2026-W47.xlsx>"
    # The summary's text first, then the line that introduces the files.
    assert "BÁO CÁO TỈNH THỬ" in server.fake.delivered()[0].text
    assert server.fake.delivered()[1].text.startswith("📎 Tệp báo cáo Tỉnh Thử")
    # Zalo: the text, then the files' line with a 7-day link to the workbook, the chart by URL; both links download
    # from /files.
    summary, text = (m["text"] for m in zalo.sent("sendMessage"))
    assert "BÁO CÁO TỈNH THỬ" in summary and "bao-cao-P01-2026-W47.xlsx (tải về trong 7 ngày): " in text
    link = text.rsplit(": ", 1)[1].removeprefix("https://bot.example.vn")
    picture = zalo.sent("sendPhoto")[0]["photo"].removeprefix("https://bot.example.vn")
    async with web(papp, []) as (client, _):
        workbook = await client.get(link)
        assert workbook.status_code == 200 and workbook.content.startswith(b"PK")
        assert (await client.get(picture)).content.startswith(b"\x89PNG")
        clock.advance(days=7, minutes=5)  # signed when sent (a few seconds after the job): expired now
        assert (await client.get(link)).status_code == 403
    # The links point at the files the job wrote: each week's workbook and chart is stored once, not copied.
    files = Path(papp.settings.files_dir)
    assert len(list(files.rglob("bao-cao-P01-2026-W47.xlsx"))) == 1
    assert len(list(files.rglob("bao-cao-P01-2026-W47.png"))) == 1


async def test_metrics_show_outbox_depth(app: BotApp, settings: Settings, tmp_path: Path) -> None:
    papp = platform_app(app, e2e_settings(settings, tmp_path, "http://127.0.0.1:9"))
    async with papp.db.session() as session:
        for i in range(3):
            await outbox_store.enqueue(session, platform="telegram", chat_id=f"-{i}", text="Chỉ đạo", kind="directive")
    async with web(papp, []) as (client, _):
        body = (await client.get("/metrics")).text
    assert "tocns_outbox_depth 3.0" in body and "tocns_send_latency_seconds" in body


async def test_serve_starts_both_platforms_the_scheduler_and_the_sender(
    app: BotApp, settings: Settings, tmp_path: Path
) -> None:
    with TelegramServer() as tg_server, ZaloServer() as zalo_server:
        serve_settings = e2e_settings(settings, tmp_path, tg_server.base_url).model_copy(
            update={"zalo_api_base_url": zalo_server.base_url}
        )
        papp = platform_app(app, serve_settings)
        async with papp.db.session() as session:
            for platform, chat in (("telegram", "-42"), ("zalo", "zg-42")):
                await outbox_store.enqueue(
                    session, platform=platform, chat_id=chat, text="Chỉ đạo khẩn", kind="directive", now=papp.clock()
                )
        # What `tocns serve` runs: webhooks and menu set at start, the scheduler and the sender in the background.
        web_app = create_app(serve_settings, with_scheduler=True, bot_app=papp, with_platforms=True)
        async with web_app.router.lifespan_context(web_app):
            for _ in range(200):
                if tg_server.fake.delivered() and zalo_server.fake.sent():
                    break
                await asyncio.sleep(0.05)
    assert {"setWebhook", "setMyCommands"} <= set(tg_server.fake.methods())
    assert [(c.chat_id, c.text) for c in tg_server.fake.delivered()] == [("-42", "Chỉ đạo khẩn")]
    zalo_methods = [m for m, _ in zalo_server.fake.calls]
    assert zalo_methods[:2] == ["getMe", "setWebhook"]
    assert [(p["chat_id"], p["text"]) for p in zalo_server.fake.sent()] == [("zg-42", "Chỉ đạo khẩn")]
    webhook = zalo_server.fake.sent("setWebhook")[0]
    assert webhook["url"] == "https://bot.example.vn/webhook/zalo" and webhook["secret_token"]


async def test_tocns_run_polls_both_platforms_and_sends_the_replies(
    app: BotApp, settings: Settings, db_url: str, tmp_path: Path
) -> None:
    fake_tg = FakeTelegram(updates=[tg_message_update("/huongdan", chat_id=-2002)])
    fake_zalo = FakeZaloApi(on_empty=lambda: time.sleep(0.2), can_join_groups=True)
    fake_zalo.updates.append(zalo_update("@ToCNSBot huongdan", chat_id="zg-run")["result"])
    with TelegramServer(fake_tg) as tg_server, ZaloServer(fake_zalo) as zalo_server:
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "AUTO_MIGRATE": "false",
            "TELEGRAM_BOT_TOKEN": "123:run-test",
            "TELEGRAM_API_BASE_URL": tg_server.base_url,
            "ZALO_BOT_TOKEN": zalo_api.TOKEN,
            "ZALO_API_BASE_URL": zalo_server.base_url,
            "POLLING_TIMEOUT_SECONDS": "1",
            "OUTBOX_POLL_SECONDS": "0.2",
            "FILES_DIR": str(tmp_path / "files"),
        }
        proc = subprocess.Popen([*TOCNS, "run"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            for _ in range(300):
                if (fake_tg.delivered() and fake_zalo.sent()) or proc.poll() is not None:
                    break
                await asyncio.sleep(0.1)
        finally:
            err = stop_tocns(proc)
    assert "setMyCommands" in fake_tg.methods() and "getUpdates" in fake_tg.methods(), err[-2000:]
    # The update each platform handed out by polling was answered through the outbox sender.
    assert [c.chat_id for c in fake_tg.delivered()] == ["-2002"] and HELP in fake_tg.delivered()[0].text
    assert [p["chat_id"] for p in fake_zalo.sent()] == ["zg-run"] and HELP in fake_zalo.sent()[0]["text"]
    assert "Traceback" not in err.split("KeyboardInterrupt")[0]
