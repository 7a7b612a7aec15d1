"""Zalo: webhook shapes, secret, mention stripping, own messages, duplicates, polling and the transport."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from tests.factories import FakeClock, build_tree, join_code
from tests.fakes.platforms import (
    ZALO_HEADER,
    ZALO_SECRET,
    channels_for,
    inbound_rows,
    outbox,
    platform_app,
    platform_settings,
    web,
    zalo_update,
)
from tests.fakes.telegram_server import TelegramServer
from tests.fakes.zalo_api import BOT_ID, FakeZaloApi
from tocns.app import BotApp, run_polling
from tocns.channels.base import SendStatus
from tocns.channels.zalo import ZaloTransport
from tocns.config import Settings
from tocns.core.mentions import person_marker
from tocns.core.messages import Attachment
from tocns.core.roles import Role
from tocns.features.activity.models import ActivityItem, ActivityRecord
from tocns.features.org import store as org_store

OK = {ZALO_HEADER: ZALO_SECRET}
HELP = "Các lệnh bạn dùng được"


@pytest.fixture
def papp(app: BotApp, settings: Settings, tmp_path: Path) -> BotApp:
    """The bot configured for both platforms."""
    return platform_app(app, platform_settings(settings, tmp_path))


@pytest.fixture
def zalo() -> FakeZaloApi:
    """The fake Zalo Bot API of a bot in two groups (the beta group feature granted)."""
    return FakeZaloApi(known_chats={"zgroup-1", "zgroup-2"}, can_join_groups=True, groups={"zgroup-1", "zgroup-2"})


@pytest.fixture
def channels(papp: BotApp, zalo: FakeZaloApi, tg_server: TelegramServer) -> list[Any]:
    """Telegram and Zalo channels on the fakes."""
    return list(channels_for(papp, tg_server, zalo))


@pytest.mark.parametrize("wrapped", [True, False])
async def test_webhook_accepts_wrapped_and_bare_bodies(papp: BotApp, channels: list[Any], wrapped: bool) -> None:
    async with web(papp, channels) as (client, _):
        response = await client.post("/webhook/zalo", json=zalo_update("/huongdan", wrapped=wrapped), headers=OK)
    assert response.status_code == 200
    rows = await outbox(papp)
    assert [(r.platform, r.chat_id) for r in rows] == [("zalo", "zgroup-1")] and HELP in rows[0].text


@pytest.mark.parametrize("text", ["@ToCNSBot /huongdan", "@ToCNSBot huongdan", "@Tổ CNS huongdan", "@to cns help"])
async def test_mentions_are_stripped(papp: BotApp, channels: list[Any], text: str) -> None:
    async with web(papp, channels) as (client, _):
        await client.post("/webhook/zalo", json=zalo_update(text), headers=OK)
    rows = await outbox(papp)
    assert len(rows) == 1 and HELP in rows[0].text


async def test_mention_with_arguments_runs_the_command(papp: BotApp, channels: list[Any], clock: FakeClock) -> None:
    async with papp.db.session() as session:
        tree = await build_tree(session)
        code = await join_code(session, tree.commune, Role.COMMUNE_LEADER, clock())
    async with web(papp, channels) as (client, _):
        await client.post("/webhook/zalo", json=zalo_update(f"@ToCNSBot ketnoi {code}"), headers=OK)
    assert "Đã kết nối nhóm này với Xã Tân Lập" in (await outbox(papp))[0].text
    async with papp.db.session() as session:
        assert await org_store.get_binding(session, "zalo", "zgroup-1") is not None


async def test_own_messages_are_ignored(papp: BotApp, channels: list[Any]) -> None:
    channels[1].bot_user_id = BOT_ID
    async with web(papp, channels) as (client, _):
        await client.post("/webhook/zalo", json=zalo_update("/huongdan", is_bot=True), headers=OK)
        await client.post("/webhook/zalo", json=zalo_update("/huongdan", user_id=BOT_ID), headers=OK)
    assert await outbox(papp) == []


async def test_duplicate_message_id_is_processed_once(papp: BotApp, channels: list[Any]) -> None:
    body = zalo_update("/huongdan", message_id="zm-dup")
    async with web(papp, channels) as (client, web_app):
        for _ in range(3):
            assert (await client.post("/webhook/zalo", json=body, headers=OK)).status_code == 200
            await web_app.state.pipeline.drain()
    assert len(await outbox(papp)) == 1 and len(await inbound_rows(papp)) == 1


@pytest.mark.parametrize("headers", [{}, {ZALO_HEADER: "nope"}, {"X-Telegram-Bot-Api-Secret-Token": ZALO_SECRET}])
async def test_bad_secret_is_401(papp: BotApp, channels: list[Any], headers: dict[str, str]) -> None:
    async with web(papp, channels) as (client, _):
        response = await client.post("/webhook/zalo", json=zalo_update("/huongdan"), headers=headers)
    assert response.status_code == 401
    assert await inbound_rows(papp) == [] and await outbox(papp) == []


@pytest.mark.parametrize(
    "body",
    [
        b'{"ok": true, "result": null}',
        b'{"message": {"text": "x"}}',
        b'{"ok": false}',
        b"[]",
        b'{"message": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    ],
)
async def test_unknown_shapes_are_400(papp: BotApp, channels: list[Any], body: bytes) -> None:
    async with web(papp, channels) as (client, _):
        response = await client.post("/webhook/zalo", content=body, headers=OK)
    assert response.status_code == 400


async def test_polling_treats_408_as_no_update(papp: BotApp, channels: list[Any], zalo: FakeZaloApi) -> None:
    stop = asyncio.Event()
    zalo.fail["getUpdates"] = [(200, {"ok": False, "error_code": 408, "description": "Request timeout"})]
    empties = 0

    def on_empty() -> None:
        nonlocal empties
        empties += 1
        if empties == 1:
            zalo.updates = [zalo_update("/huongdan")["result"], zalo_update("@ToCNSBot help", chat_id="zgroup-2")]
        else:
            stop.set()

    zalo.on_empty = on_empty
    await asyncio.wait_for(run_polling(papp, ["zalo"], channels=channels[1:], stop=stop), timeout=10)
    methods = [m for m, _ in zalo.calls]
    assert methods[0] == "getMe" and methods.count("getUpdates") >= 4
    assert [r.chat_id for r in await outbox(papp)] == ["zgroup-1", "zgroup-2"]


async def test_set_webhook_sends_url_and_secret(papp: BotApp, channels: list[Any], zalo: FakeZaloApi) -> None:
    await channels[1].set_webhook("https://bot.example.vn/webhook/zalo")
    assert zalo.sent("setWebhook") == [{"url": "https://bot.example.vn/webhook/zalo", "secret_token": ZALO_SECRET}]


# ---------------------------------------------------------------- transport


def _transport(papp: BotApp, zalo: FakeZaloApi) -> ZaloTransport:
    return ZaloTransport(papp.settings, client=zalo.client())


async def test_long_message_is_split_at_2000(papp: BotApp, zalo: FakeZaloApi) -> None:
    lines = [f"Dòng {i}: đã hỗ trợ người dân cài VNeID và dịch vụ công." for i in range(120)]
    text = "\n".join(lines)
    result = await _transport(papp, zalo).send("zgroup-1", text, [])
    assert result.status == SendStatus.OK
    pieces = [p["text"] for p in zalo.sent()]
    assert len(pieces) >= 3 and all(len(p) <= 2000 for p in pieces)
    assert "\n".join(pieces) == text and {p["chat_id"] for p in zalo.sent()} == {"zgroup-1"}


async def test_a_long_message_resumes_after_the_parts_already_delivered(papp: BotApp, zalo: FakeZaloApi) -> None:
    text = "\n".join(f"Dòng {i}: đã hỗ trợ người dân cài VNeID và dịch vụ công." for i in range(120))
    zalo.fail["sendMessage"] = [None, (200, {"ok": False, "error_code": 429, "description": "quota exceeded"})]
    transport = _transport(papp, zalo)
    first = await transport.send("zgroup-1", text, [])
    assert first.status == SendStatus.RATE_LIMITED and first.parts_sent == 1
    second = await transport.send("zgroup-1", text, [], skip=first.parts_sent)
    assert second.status == SendStatus.OK
    # The group reads each piece once: the retry started after the piece that had gone through.
    attempts = [p["text"] for p in zalo.sent()]
    refused = attempts.pop(1)  # the request answered 429 showed nothing in the group
    assert attempts[1] == refused
    assert "\n".join(attempts) == text and second.parts_sent == len(attempts) >= 3


async def test_plain_text_by_default_so_a_typed_link_stays_text(papp: BotApp, zalo: FakeZaloApi) -> None:
    text = "Đã ghi #3, người ghi [bấm vào đây](http://lua-dao.example)"
    result = await _transport(papp, zalo).send("zgroup-1", text, [])
    assert result.status == SendStatus.OK
    assert [(p.get("parse_mode"), p["text"]) for p in zalo.sent()] == [(None, text)]


async def test_configured_markdown_is_sent_escaped(papp: BotApp, zalo: FakeZaloApi) -> None:
    papp.settings.zalo_parse_mode = "Markdown"
    text = "Người ghi [bấm vào đây](http://x.vn) *đậm*"
    await _transport(papp, zalo).send("zgroup-1", text, [])
    sent = zalo.sent()[0]
    assert sent["parse_mode"] == "Markdown"
    assert sent["text"] == r"Người ghi \[bấm vào đây\]\(http://x\.vn\) \*đậm\*"


async def test_rejected_markdown_is_resent_plain(papp: BotApp, zalo: FakeZaloApi) -> None:
    papp.settings.zalo_parse_mode = "Markdown"
    zalo.reject_markdown = True
    result = await _transport(papp, zalo).send("zgroup-1", "Báo cáo *tuần* [lỗi", [])
    assert result.status == SendStatus.OK
    assert [p.get("parse_mode") for p in zalo.sent()] == ["Markdown", None]
    assert zalo.sent()[-1]["text"] == "Báo cáo *tuần* [lỗi"


@pytest.mark.parametrize(
    ("status", "body", "expected", "gone"),
    [
        (200, {"ok": False, "error_code": 429, "description": "quota exceeded"}, SendStatus.RATE_LIMITED, False),
        (429, {"ok": False, "error_code": 429, "description": "Too many"}, SendStatus.RATE_LIMITED, False),
        (502, {"ok": False, "description": "bad gateway"}, SendStatus.TRANSIENT, False),
        # Zalo documents 403 as "internal server error": retried, the group's binding kept.
        (200, {"ok": False, "error_code": 403, "description": "Internal server error"}, SendStatus.TRANSIENT, False),
        (200, {"ok": False, "error_code": 400, "description": "Bad request"}, SendStatus.PERMANENT, False),
        (200, {"ok": False, "error_code": 404, "description": "Not found"}, SendStatus.PERMANENT, False),
        (401, {"ok": False, "error_code": 401, "description": "Unauthorized"}, SendStatus.UNAUTHORIZED, False),
        # A code Zalo does not document is retried (up to OUTBOX_MAX_ATTEMPTS), not failed at once.
        (200, {"ok": False, "error_code": 999, "description": "?"}, SendStatus.TRANSIENT, False),
        (200, {"ok": False, "error_code": -5, "description": "?"}, SendStatus.TRANSIENT, False),
    ],
)
async def test_send_errors_are_classified(
    papp: BotApp, zalo: FakeZaloApi, status: int, body: dict[str, Any], expected: SendStatus, gone: bool
) -> None:
    zalo.fail["sendMessage"] = [(status, body)]
    result = await _transport(papp, zalo).send("zgroup-1", "Xin chào", [])
    assert result.status == expected and result.chat_gone is gone and result.retry_after is None


async def test_unknown_chat_is_permanent(papp: BotApp, zalo: FakeZaloApi) -> None:
    result = await _transport(papp, zalo).send("zgroup-404", "Xin chào", [])
    assert result.status == SendStatus.PERMANENT and "chat not found" in (result.error or "")


async def test_network_error_is_transient(papp: BotApp) -> None:
    def boom(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("down", request=request)

    transport = ZaloTransport(papp.settings, client=httpx.AsyncClient(transport=httpx.MockTransport(boom)))
    assert (await transport.send("zgroup-1", "Xin chào", [])).status == SendStatus.TRANSIENT


async def test_image_by_url_and_document_as_signed_link(papp: BotApp, zalo: FakeZaloApi, channels: list[Any]) -> None:
    png = Attachment("bieu-do.png", b"\x89PNG fake chart", "image/png")
    xlsx = Attachment("bao-cao-tuan.xlsx", b"PK fake excel", "application/vnd.ms-excel")
    result = await _transport(papp, zalo).send("zgroup-1", "Báo cáo tuần", [png, xlsx])
    assert result.status == SendStatus.OK
    text = zalo.sent()[0]["text"]
    assert text.startswith("Báo cáo tuần")
    assert "bao-cao-tuan.xlsx (tải về trong 7 ngày): https://bot.example.vn/files/" in text
    photo_url = zalo.sent("sendPhoto")[0]["photo"]
    assert photo_url.startswith("https://bot.example.vn/files/") and "bieu-do.png?exp=" in photo_url
    doc_url = text.rsplit(": ", 1)[1]
    async with web(papp, channels) as (client, _):
        got = await client.get(doc_url.replace("https://bot.example.vn", ""))
        assert got.status_code == 200 and got.content == b"PK fake excel"
        good = photo_url.replace("https://bot.example.vn", "")
        # Change the signature's last character to a different one (never a no-op).
        tampered = await client.get(good[:-1] + ("1" if good[-1] == "0" else "0"))
        assert tampered.status_code == 403
        image = await client.get(photo_url.replace("https://bot.example.vn", ""))
        assert image.status_code == 200 and image.content == b"\x89PNG fake chart"


async def test_image_with_command_caption_carries_the_photo_url(papp: BotApp, channels: list[Any]) -> None:
    from tocns.channels.zalo import to_incoming, unwrap

    body = zalo_update("x", wrapped=False)
    message = body["message"]
    del message["text"]
    body["event_name"] = "message.image.received"
    message.update({"photo_url": "https://zalo.example/p/1.jpg", "caption": "@ToCNSBot huongdan"})
    incoming = to_incoming(unwrap(body))
    assert incoming is not None and incoming.photo == "https://zalo.example/p/1.jpg"
    async with web(papp, channels) as (client, _):
        await client.post("/webhook/zalo", json=body, headers=OK)
    assert HELP in (await outbox(papp))[0].text


async def test_without_signing_secret_files_become_a_note(papp: BotApp, zalo: FakeZaloApi) -> None:
    papp.settings.link_signing_secret = ""
    png = Attachment("bieu-do.png", b"\x89PNG fake chart", "image/png")
    xlsx = Attachment("bao-cao-tuan.xlsx", b"PK fake excel", "application/vnd.ms-excel")
    result = await _transport(papp, zalo).send("zgroup-1", "Báo cáo tuần", [png, xlsx])
    assert result.status == SendStatus.OK
    text = zalo.sent()[0]["text"]
    assert "bao-cao-tuan.xlsx: chưa gửi được qua Zalo" in text and "bieu-do.png: chưa gửi được" in text
    assert "http" not in text and zalo.sent("sendPhoto") == []


async def test_a_mention_reaches_zalo_as_the_persons_name(papp: BotApp, zalo: FakeZaloApi) -> None:
    text = f"Chưa xong: {person_marker('z-42', 'Lò Thị Mai')}, {person_marker('z-7', 'Lan', 'lan')}"
    result = await _transport(papp, zalo).send("zgroup-1", text, [])
    assert result.status == SendStatus.OK
    assert [p["text"] for p in zalo.sent()] == ["Chưa xong: Lò Thị Mai, @lan"]


# ---------------------------------------------------------------- addressing forms in a group


@pytest.mark.parametrize("configured", [True, False])
async def test_leading_and_trailing_zalo_mentions_log_clean_records(
    app: BotApp,
    settings: Settings,
    tmp_path: Path,
    clock: FakeClock,
    zalo: FakeZaloApi,
    tg_server: TelegramServer,
    configured: bool,
) -> None:
    zname = "Bot Tổ CNS Xã Tân Lập"
    zsettings = platform_settings(settings, tmp_path).model_copy(update={"zalo_bot_name": zname if configured else ""})
    papp = platform_app(app, zsettings)
    channels = list(channels_for(papp, tg_server, zalo))
    async with papp.db.session() as session:
        tree = await build_tree(session)
        code = await join_code(session, tree.commune, Role.COMMUNE_LEADER, clock())
    async with web(papp, channels) as (client, _):
        for text in (f"@{zname} ketnoi {code}", f"thamgia Thôn 3 @{zname}", f"@{zname} ghi vneid 5"):
            await client.post("/webhook/zalo", json=zalo_update(text), headers=OK)
        await client.post("/webhook/zalo", json=zalo_update(f"ghi dvc 2 @{zname}", user_id="zuser-11"), headers=OK)
    async with papp.db.session() as session:
        records = (await session.exec(select(ActivityRecord).order_by(col(ActivityRecord.id)))).all()
        items = (await session.exec(select(ActivityItem).order_by(col(ActivityItem.id)))).all()
    assert [i.quantity for i in items] == [5, 2]
    # The mention is never glued into the record: no note, no extra item.
    assert [r.note for r in records] == [None, None]


@pytest.mark.parametrize("can_join", [False, True])
async def test_start_reads_can_join_groups_and_says_what_it_means(
    papp: BotApp, can_join: bool, caplog: pytest.LogCaptureFixture, tg_server: TelegramServer
) -> None:
    fake = FakeZaloApi(can_join_groups=can_join)
    channel = channels_for(papp, tg_server, fake)[1]
    with caplog.at_level("INFO", logger="tocns.channels.zalo"):
        await channel.start()
    assert channel.can_join_groups is can_join
    said = " ".join(r.getMessage() for r in caplog.records)
    expected = "mention it" if can_join else "cannot be added to any group, only private chats"
    assert expected in said


async def test_the_configured_zalo_name_is_known_before_any_getme(
    app: BotApp, settings: Settings, tmp_path: Path
) -> None:
    zsettings = platform_settings(settings, tmp_path).model_copy(update={"zalo_bot_name": "Bot Tổ CNS Xã An Phú"})
    assert "Bot Tổ CNS Xã An Phú" in platform_app(app, zsettings).router.bot_names


async def test_an_emoji_heavy_text_is_split_in_utf16_units(papp: BotApp, zalo: FakeZaloApi) -> None:
    text = "🎉 Chúc mừng! " * 180  # 2,520 characters, 2,700 UTF-16 units
    result = await _transport(papp, zalo).send("zgroup-1", text, [])
    assert result.status == SendStatus.OK and result.parts_sent == 2
    assert "".join(p["text"] for p in zalo.sent()).replace(" ", "") == text.replace(" ", "")
