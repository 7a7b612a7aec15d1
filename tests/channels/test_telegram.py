"""Telegram: webhook and polling modes, secret, duplicates, group add/removal, migration, edits, menu."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.factories import FakeClock, build_tree, join_code
from tests.fakes.platforms import (
    TG_HEADER,
    TG_SECRET,
    channels_for,
    inbound_rows,
    outbox,
    platform_app,
    platform_settings,
    tg_member_update,
    tg_message_update,
    web,
)
from tests.fakes.telegram_server import FakeTelegram, TelegramServer
from tests.fakes.zalo_api import FakeZaloApi
from tocns.app import BotApp, build_channels, configured_platforms, run_polling
from tocns.channels.telegram import parse_update, to_incoming
from tocns.config import Settings
from tocns.core.roles import Role
from tocns.features.org import store as org_store
from tocns.features.org.events import WELCOME_TEXT
from tocns.inbound.pipeline import EDITED_TEXT
from tocns.web.app import setup_platforms

OK = {TG_HEADER: TG_SECRET}


@pytest.fixture
def papp(app: BotApp, settings: Settings, tmp_path: Path) -> BotApp:
    """The bot configured for both platforms."""
    return platform_app(app, platform_settings(settings, tmp_path))


@pytest.fixture
def tg(tg_server: TelegramServer) -> FakeTelegram:
    """What the fake Bot API server was asked, and what it hands out."""
    return tg_server.fake


@pytest.fixture
def channels(papp: BotApp, tg_server: TelegramServer) -> list[Any]:
    """Telegram and Zalo channels on the fakes."""
    return list(channels_for(papp, tg_server, FakeZaloApi()))


def _stop_when_empty(tg: FakeTelegram, stop: asyncio.Event) -> None:
    """Stop polling once getUpdates has nothing left (the fake calls back from its own thread)."""
    loop = asyncio.get_running_loop()
    tg.on_empty = lambda: loop.call_soon_threadsafe(stop.set)


async def _code(app: BotApp, clock: FakeClock) -> str:
    async with app.db.session() as session:
        tree = await build_tree(session)
        return await join_code(session, tree.commune, Role.COMMUNE_LEADER, clock())


async def test_webhook_command_reply_goes_to_outbox(papp: BotApp, channels: list[Any]) -> None:
    async with web(papp, channels) as (client, _):
        response = await client.post("/webhook/telegram", json=tg_message_update("/huongdan"), headers=OK)
    assert response.status_code == 200
    rows = await outbox(papp)
    assert [(r.platform, r.chat_id, r.kind) for r in rows] == [("telegram", "-1001", "reply")]
    assert "Các lệnh bạn dùng được" in rows[0].text


@pytest.mark.parametrize("headers", [{}, {TG_HEADER: "wrong"}, {TG_HEADER: TG_SECRET + "x"}])
async def test_missing_or_wrong_secret_is_401_and_nothing_processed(
    papp: BotApp, channels: list[Any], headers: dict[str, str]
) -> None:
    async with web(papp, channels) as (client, _):
        response = await client.post("/webhook/telegram", json=tg_message_update("/huongdan"), headers=headers)
    assert response.status_code == 401
    assert await inbound_rows(papp) == []
    assert await outbox(papp) == []


async def test_duplicate_delivery_makes_one_binding_and_one_reply(
    papp: BotApp, channels: list[Any], clock: FakeClock
) -> None:
    code = await _code(papp, clock)
    update = tg_message_update(f"/ketnoi {code}")
    async with web(papp, channels) as (client, web_app):
        first = await client.post("/webhook/telegram", json=update, headers=OK)
        await web_app.state.pipeline.drain()
        second = await client.post("/webhook/telegram", json=update, headers=OK)
    assert first.status_code == second.status_code == 200
    rows = await outbox(papp)
    assert len(rows) == 1 and "Đã kết nối nhóm này với Xã Tân Lập" in rows[0].text
    assert len(await inbound_rows(papp)) == 1


async def test_command_addressed_to_this_bot_or_another(papp: BotApp, channels: list[Any]) -> None:
    async with web(papp, channels) as (client, _):
        await client.post("/webhook/telegram", json=tg_message_update("/help@ToCNSBot"), headers=OK)
        await client.post("/webhook/telegram", json=tg_message_update("/help@OtherBot", chat_id=-2002), headers=OK)
    rows = await outbox(papp)
    assert [r.chat_id for r in rows] == ["-1001"]


async def test_photo_with_command_caption(papp: BotApp, channels: list[Any]) -> None:
    body = tg_message_update(caption="/huongdan", photo=True)
    incoming = to_incoming(parse_update(body).message)  # type: ignore[arg-type]
    assert incoming is not None and incoming.photo == "large-id" and incoming.text == "/huongdan"
    async with web(papp, channels) as (client, _):
        await client.post("/webhook/telegram", json=body, headers=OK)
    assert "Các lệnh bạn dùng được" in (await outbox(papp))[0].text


async def test_bot_added_welcomes_and_removed_deactivates_binding(
    papp: BotApp, channels: list[Any], clock: FakeClock, tg: FakeTelegram
) -> None:
    tg.reads_all_group_messages = True  # privacy mode off: the plain welcome (the other case has its own test)
    code = await _code(papp, clock)
    async with web(papp, channels) as (client, web_app):
        await client.post("/webhook/telegram", json=tg_member_update(-1001, "left", "member"), headers=OK)
        await web_app.state.pipeline.drain()
        await client.post("/webhook/telegram", json=tg_message_update(f"/ketnoi {code}"), headers=OK)
        await web_app.state.pipeline.drain()
        await client.post("/webhook/telegram", json=tg_member_update(-1001, "member", "kicked"), headers=OK)
    rows = await outbox(papp)
    assert rows[0].text == WELCOME_TEXT and "/ketnoi" in rows[0].text and rows[0].chat_id == "-1001"
    async with papp.db.session() as session:
        assert await org_store.get_binding(session, "telegram", "-1001") is None
        gone = await org_store.get_binding(session, "telegram", "-1001", active_only=False)
    assert gone is not None and gone.deactivated_reason == "bot bị xóa khỏi nhóm"


async def test_supergroup_migration_moves_binding(papp: BotApp, channels: list[Any], clock: FakeClock) -> None:
    code = await _code(papp, clock)
    new_id = -1009876543210
    async with web(papp, channels) as (client, web_app):
        await client.post("/webhook/telegram", json=tg_message_update(f"/ketnoi {code}", chat_id=-1001), headers=OK)
        await web_app.state.pipeline.drain()
        migrate = tg_message_update(chat_id=-1001, extra={"migrate_to_chat_id": new_id})
        await client.post("/webhook/telegram", json=migrate, headers=OK)
        await web_app.state.pipeline.drain()
        # Telegram also sends the other half of the migration from the new chat; it must be harmless.
        from_half = tg_message_update(chat_id=new_id, extra={"migrate_from_chat_id": -1001})
        await client.post("/webhook/telegram", json=from_half, headers=OK)
        await web_app.state.pipeline.drain()
        await client.post("/webhook/telegram", json=tg_message_update("/batdau", chat_id=new_id), headers=OK)
    replies = await outbox(papp, str(new_id))
    # The /ketnoi confirmation still waiting for the old id followed the group to its new id.
    assert len(replies) == 2 and "Nhóm này thuộc: Xã Tân Lập" in replies[1].text
    assert "Đã kết nối" in replies[0].text and await outbox(papp, "-1001") == []
    async with papp.db.session() as session:
        assert await org_store.get_binding(session, "telegram", "-1001") is None


async def test_edited_command_is_not_rerun(papp: BotApp, channels: list[Any], clock: FakeClock) -> None:
    code = await _code(papp, clock)
    async with web(papp, channels) as (client, _):
        await client.post("/webhook/telegram", json=tg_message_update(f"/ketnoi {code}", edited=True), headers=OK)
        await client.post("/webhook/telegram", json=tg_message_update("chào cả nhà", edited=True), headers=OK)
    rows = await outbox(papp)
    assert [r.text for r in rows] == [EDITED_TEXT]
    async with papp.db.session() as session:
        assert await org_store.get_binding(session, "telegram", "-1001") is None


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b'{"hello": "world"}', 400),
        (b"[1, 2, 3]", 400),
        (b'{"update_id": "7"}', 400),
        (b'{"update_id": 7, "message": {"text": "/huongdan"}}', 400),
        (b'{"update_id": 8}', 200),
        (b"\xff\xfe", 400),
        (b'{"update_id": 9, "x": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", 400),
    ],
)
async def test_bad_bodies_get_400_never_500(papp: BotApp, channels: list[Any], body: bytes, status: int) -> None:
    async with web(papp, channels) as (client, _):
        response = await client.post("/webhook/telegram", content=body, headers=OK)
    assert response.status_code == status


async def test_body_over_one_megabyte_is_refused(papp: BotApp, channels: list[Any]) -> None:
    big = tg_message_update("/huongdan " + "a" * 1_100_000)
    async with web(papp, channels) as (client, _):
        response = await client.post("/webhook/telegram", json=big, headers=OK)
    assert response.status_code == 413
    assert await inbound_rows(papp) == []


async def test_answer_does_not_wait_for_processing(papp: BotApp, channels: list[Any]) -> None:
    gate = asyncio.Event()
    original = papp.router.handle

    async def slow_handle(session: Any, msg: Any) -> Any:
        await gate.wait()
        return await original(session, msg)

    papp.router.handle = slow_handle  # type: ignore[method-assign]
    async with web(papp, channels) as (client, _):
        response = await asyncio.wait_for(
            client.post("/webhook/telegram", json=tg_message_update("/huongdan"), headers=OK), timeout=5
        )
        assert response.status_code == 200
        rows = await inbound_rows(papp)
        assert [r.state for r in rows] == ["pending"]
        gate.set()
    assert [r.state for r in await inbound_rows(papp)] == ["done"]
    assert len(await outbox(papp)) == 1


async def test_setup_sets_webhook_with_secret_and_vietnamese_menu(
    papp: BotApp, channels: list[Any], tg: FakeTelegram
) -> None:
    async with web(papp, channels[:1]) as (_, web_app):
        await setup_platforms(list(web_app.state.channels.values()), papp.settings.public_base_url)
    calls = {c.method: c.params for c in tg.calls}
    assert calls["setWebhook"]["url"] == "https://bot.example.vn/webhook/telegram"
    assert calls["setWebhook"]["secret_token"] == TG_SECRET
    menu = {c["command"]: c["description"] for c in json.loads(calls["setMyCommands"]["commands"])}
    # The menu is the registry, nothing else: every command, in help order, with its Vietnamese summary.
    assert list(menu) == [c.name for c in papp.registry.all()]
    assert all(menu[c.name] == c.summary for c in papp.registry.all())
    assert "Cách dùng" not in menu["huongdan"] and any(ch in menu["ketnoi"] for ch in "ốờảệạ")


async def test_polling_mode_processes_updates_and_sets_menu(
    papp: BotApp, channels: list[Any], tg: FakeTelegram
) -> None:
    stop = asyncio.Event()
    tg.updates = [tg_message_update("/huongdan"), tg_message_update("/help", chat_id=-3003)]
    last_id = tg.updates[-1]["update_id"]
    _stop_when_empty(tg, stop)
    await asyncio.wait_for(run_polling(papp, ["telegram"], channels=channels[:1], stop=stop), timeout=10)
    menus_then_poll = [m for m in tg.methods() if m != "setMyCommands"][:2]
    assert tg.methods()[0] == "getMe" and tg.methods()[1] == "setMyCommands"
    assert menus_then_poll == ["getMe", "deleteWebhook"]
    offsets = [p.get("offset") for p in tg.params("getUpdates")]
    assert offsets[0] is None and offsets[1] == str(last_id + 1)
    assert [r.chat_id for r in await outbox(papp)] == ["-1001", "-3003"]


async def test_updates_stored_before_a_crash_are_processed_at_start(papp: BotApp, channels: list[Any]) -> None:
    update = channels[0].check(tg_message_update("/huongdan"))
    assert await papp.pipeline.store(channels[0], update) is not None  # stored, then the process "died"
    assert await outbox(papp) == []
    assert await papp.pipeline.recover() == 0  # no channel for the platform: left pending
    papp.pipeline.add(channels[0])
    assert await papp.pipeline.recover() == 1
    assert [r.state for r in await inbound_rows(papp)] == ["done"]
    assert len(await outbox(papp)) == 1


async def test_a_backlog_larger_than_one_batch_is_recovered_in_full(papp: BotApp, channels: list[Any]) -> None:
    pipeline = papp.pipeline
    pipeline.add(channels[0])
    for n in range(230):
        await pipeline.store(channels[0], channels[0].check(tg_message_update("/huongdan", chat_id=-7000 - n)))
    assert await pipeline.recover() == 230
    assert {r.state for r in await inbound_rows(papp)} == {"done"}
    assert len(await outbox(papp)) == 230


async def test_one_chat_is_processed_in_arrival_order(papp: BotApp, channels: list[Any], clock: FakeClock) -> None:
    code = await _code(papp, clock)
    seen: list[str] = []
    original = papp.router.handle

    async def recording(session: Any, msg: Any) -> Any:
        seen.append(msg.text)
        await asyncio.sleep(0.05 if msg.text.startswith("/ketnoi") else 0)
        return await original(session, msg)

    papp.router.handle = recording  # type: ignore[method-assign]
    async with web(papp, channels) as (client, _):
        await client.post("/webhook/telegram", json=tg_message_update(f"/ketnoi {code}"), headers=OK)
        await client.post("/webhook/telegram", json=tg_message_update("/batdau"), headers=OK)
    assert seen == [f"/ketnoi {code}", "/batdau"]
    assert "Nhóm này thuộc: Xã Tân Lập" in (await outbox(papp))[1].text


async def test_polling_keeps_the_offset_when_an_update_cannot_be_stored(
    papp: BotApp, channels: list[Any], tg: FakeTelegram
) -> None:
    stop = asyncio.Event()
    tg.updates = [tg_message_update("/huongdan")]
    _stop_when_empty(tg, stop)
    channels[0].retry_delay = 0

    async def database_down(channel: Any, body: dict[str, Any]) -> None:
        raise ConnectionError("database down")

    await asyncio.wait_for(channels[0].poll(database_down, stop), timeout=10)
    # The failed update was not acknowledged: the next getUpdates asks from the same offset again.
    assert [p.get("offset") for p in tg.params("getUpdates")] == [None, None]


def test_channels_use_the_configured_api_base_urls(papp: BotApp) -> None:
    telegram, zalo = build_channels(papp, configured_platforms(papp.settings))
    assert telegram.bot.base_url == "http://fake-telegram.test/bot123456:TEST-telegram-token"
    assert zalo.api.base_url == "http://fake-zalo.test" and zalo.api.token == "zalo-test-token-42"


async def test_serve_startup_registers_webhooks_and_recovers(
    papp: BotApp, channels: list[Any], tg: FakeTelegram
) -> None:
    from tocns.web.app import create_app

    await papp.pipeline.store(channels[0], channels[0].check(tg_message_update("/huongdan")))  # before a crash
    web_app = create_app(papp.settings, bot_app=papp, channels=channels[:1], with_platforms=True)
    async with web_app.router.lifespan_context(web_app):
        assert "setWebhook" in tg.methods() and "setMyCommands" in tg.methods()
    assert len(await outbox(papp)) == 1


async def test_a_burst_with_redeliveries_inside_it_stores_and_answers_each_update_once(
    papp: BotApp, channels: list[Any], clock: FakeClock
) -> None:
    code = await _code(papp, clock)
    updates = [tg_message_update(f"/ketnoi {code}", chat_id=-5000)] + [
        tg_message_update("/huongdan", chat_id=-5001 - n) for n in range(8)
    ]
    async with web(papp, channels) as (client, _):
        # All at once, every update three times: they reach the database in the same batch as their copies.
        statuses = await asyncio.gather(*(client.post("/webhook/telegram", json=u, headers=OK) for u in updates * 3))
    assert [r.status_code for r in statuses] == [200] * 27
    assert len(await inbound_rows(papp)) == 9
    rows = await outbox(papp)
    assert sorted(r.chat_id for r in rows) == sorted(str(u["message"]["chat"]["id"]) for u in updates)
    assert sum("Đã kết nối nhóm này với Xã Tân Lập" in r.text for r in rows) == 1


async def test_store_updates_returns_a_row_only_for_the_first_copy(papp: BotApp) -> None:
    from tocns.inbound import store as inbound_store

    async with papp.db.session() as session:
        assert await inbound_store.store_updates(session, [("telegram", "1", {"update_id": 1})]) != [None]
    async with papp.db.session() as session:
        ids = await inbound_store.store_updates(
            session,
            [("telegram", "1", {}), ("telegram", "2", {}), ("zalo", "2", {}), ("telegram", "2", {})],
        )
    assert ids[0] is None and ids[3] is None  # stored before; a copy later in the same batch
    assert ids[1] is not None and ids[2] is not None and ids[1] != ids[2]


async def test_webhook_decodes_each_update_once(
    papp: BotApp, channels: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tocns.channels import telegram as telegram_channel

    decoded: list[int] = []

    def counting(body: object) -> Any:
        decoded.append(1)
        return parse_update(body)

    monkeypatch.setattr(telegram_channel, "parse_update", counting)
    async with web(papp, channels) as (client, web_app):
        response = await client.post("/webhook/telegram", json=tg_message_update("/huongdan"), headers=OK)
        await web_app.state.pipeline.drain()
    assert response.status_code == 200 and len(decoded) == 1
    assert "Các lệnh bạn dùng được" in (await outbox(papp))[0].text


async def test_many_chats_at_once_are_all_answered_a_few_at_a_time(papp: BotApp, channels: list[Any]) -> None:
    from tocns.inbound.pipeline import PROCESSING_SLOTS

    running, peak = 0, 0
    original = papp.router.handle

    async def counting(session: Any, msg: Any) -> Any:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            await asyncio.sleep(0.01)
            return await original(session, msg)
        finally:
            running -= 1

    papp.router.handle = counting  # type: ignore[method-assign]
    chats = [-8000 - n for n in range(40)]
    async with web(papp, channels) as (client, _):
        await asyncio.gather(
            *(
                client.post("/webhook/telegram", json=tg_message_update("/huongdan", chat_id=c), headers=OK)
                for c in chats
            )
        )
    # Each chat got its answer, while only a pool-friendly number of updates held a database connection at once.
    assert sorted(int(r.chat_id) for r in await outbox(papp)) == sorted(chats)
    assert 1 < peak <= PROCESSING_SLOTS


async def test_a_failed_write_answers_503_and_the_platforms_retry_is_processed_once(
    papp: BotApp, channels: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tocns.inbound import store as inbound_store

    real = inbound_store.store_new_updates

    async def database_down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("database unreachable")

    updates = [tg_message_update("/huongdan", chat_id=-9100 - n) for n in range(3)]
    async with web(papp, channels) as (client, _):
        monkeypatch.setattr(inbound_store, "store_new_updates", database_down)
        refused = await asyncio.gather(*(client.post("/webhook/telegram", json=u, headers=OK) for u in updates))
        monkeypatch.setattr(inbound_store, "store_new_updates", real)
        retried = await asyncio.gather(*(client.post("/webhook/telegram", json=u, headers=OK) for u in updates))
    # 503 tells the platform to deliver again later; nothing was half-stored in between.
    assert [r.status_code for r in refused] == [503] * 3
    assert [r.status_code for r in retried] == [200] * 3
    assert len(await inbound_rows(papp)) == 3
    assert sorted(r.chat_id for r in await outbox(papp)) == sorted(str(u["message"]["chat"]["id"]) for u in updates)


async def test_an_update_the_database_refuses_does_not_refuse_the_others_in_its_batch(
    papp: BotApp, channels: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tocns.inbound import store as inbound_store

    real = inbound_store.store_new_updates
    poison = tg_message_update("/huongdan", chat_id=-9200)

    async def refuses_one(db: Any, updates: list[Any], **kwargs: Any) -> Any:
        if any(body.get("update_id") == poison["update_id"] for _, _, body in updates):
            raise ValueError("value out of range for the column")
        return await real(db, updates, **kwargs)

    monkeypatch.setattr(inbound_store, "store_new_updates", refuses_one)
    others = [tg_message_update("/huongdan", chat_id=-9201 - n) for n in range(4)]
    async with web(papp, channels) as (client, _):
        answers = await asyncio.gather(
            *(client.post("/webhook/telegram", json=u, headers=OK) for u in [others[0], poison, *others[1:]])
        )
    assert [r.status_code for r in answers] == [200, 503, 200, 200, 200]
    assert sorted(r.chat_id for r in await outbox(papp)) == sorted(str(u["message"]["chat"]["id"]) for u in others)


@pytest.mark.parametrize("paid", [False, True])
async def test_the_paid_broadcast_is_asked_for_only_when_enabled(paid: bool) -> None:
    """TELEGRAM_PAID_BROADCAST puts allow_paid_broadcast on every send (it costs Stars); off, no send carries it."""
    from tocns.app import build_transports
    from tocns.channels.base import SendStatus

    fake = FakeTelegram()
    with TelegramServer(fake) as server:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            telegram_bot_token="123:abc",
            telegram_api_base_url=server.base_url,
            telegram_paid_broadcast=paid,
        )
        transport = build_transports(settings)["telegram"]
        result = await transport.send("-1001", "Chỉ đạo toàn quốc", [])
        await transport.close()  # type: ignore[attr-defined]
    assert result.status == SendStatus.OK
    [sent] = fake.params("sendMessage")
    assert (sent.get("allow_paid_broadcast") == "true") is paid
