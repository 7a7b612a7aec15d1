"""Issue 27: one tap instead of a command on Telegram (inline keyboards, callback queries), on the project's fake."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.factories import LEADER, MEMBER, FakeClock, build_tree, join_code, tick
from tests.fakes.platforms import (
    commune_join_code,
    e2e_settings,
    platform_app,
    post_telegram,
    sender,
    tg_message_update,
    tg_user,
)
from tests.fakes.telegram_server import TelegramServer
from tocns.app import BotApp
from tocns.channels.telegram import MAX_CALLBACK_DATA, TelegramTransport, keyboard, tap_text
from tocns.config import Settings
from tocns.core.messages import Button
from tocns.core.roles import Role
from tocns.web.app import create_app

# Telegram carries user ids as numbers.
LEADER_TG = int(LEADER)
MEMBER_TG = int(MEMBER)

GROUP = -1001
STRANGER = 77


@asynccontextmanager
async def web(app: BotApp) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    """The web app as `tocns serve` builds it, its channels on the fake server."""
    web_app = create_app(app.settings, bot_app=app)
    try:
        transport = httpx.ASGITransport(app=web_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client, web_app
        await web_app.state.pipeline.drain()
    finally:
        for channel in web_app.state.channels.values():
            await channel.close()


async def _deliver(papp: BotApp) -> None:
    transport = TelegramTransport(papp.settings.telegram_bot_token, papp.settings.telegram_api_base_url, timeout=3)
    await asyncio.wait_for(sender(papp, {"telegram": transport}).drain(until_empty=True), timeout=30)
    await transport.close()


def _with_button(server: TelegramServer, label: str) -> list[tuple[tuple[str, int], dict[str, Any]]]:
    return [
        (key, sent)
        for key, sent in server.fake.messages.items()
        if any(b["text"] == label for row in (sent["reply_markup"] or {}).get("inline_keyboard", []) for b in row)
    ]


async def test_a_member_taps_xong_under_a_reminder_and_a_strangers_tap_is_refused_to_him_alone(
    app: BotApp, settings: Settings, tmp_path: Path, clock: FakeClock
) -> None:
    with TelegramServer() as server:
        papp = platform_app(app, e2e_settings(settings, tmp_path, server.base_url))
        code = await commune_join_code(papp)
        async with web(papp) as (client, _):
            await post_telegram(client, tg_message_update(f"/ketnoi {code}", chat_id=GROUP, user_id=LEADER_TG))
            await post_telegram(client, tg_message_update("/thamgia thon 3", chat_id=GROUP, user_id=MEMBER_TG))
            await post_telegram(
                client, tg_message_update("/giaoviec 05/12 Rà soát hộ nghèo tất cả", chat_id=GROUP, user_id=LEADER_TG)
            )
        await tick(papp, clock, "2026-12-04 08:00")  # the reminder the day before the deadline
        await _deliver(papp)
        [((chat, message_id), reminder)] = _with_button(server, "Xong")
        assert "Rà soát hộ nghèo" in reminder["text"]
        posted_before = len(server.fake.delivered())

        stranger = server.fake.tap(chat, message_id, tg_user(STRANGER, "Khách", "Lạ"), "Xong")
        member = server.fake.tap(chat, message_id, tg_user(MEMBER_TG), "Xong")
        async with web(papp) as (client, _):
            await post_telegram(client, stranger)
            await post_telegram(client, member)
            await post_telegram(client, member)  # Telegram delivers the same tap again
        await _deliver(papp)

    answers = server.fake.params("answerCallbackQuery")
    # The stranger is told why, in an alert only he sees; the group gets no refusal.
    assert answers[0]["callback_query_id"] == stranger["callback_query"]["id"]  # type: ignore[index]
    assert answers[0]["show_alert"] == "true" and "không có quyền" in answers[0]["text"], answers[0]
    assert not any("không có quyền" in c.text for c in server.fake.delivered())
    # The member's tap ran /xong once (the redelivery did nothing), was answered, and the message says who acted.
    assert len(answers) == 2 and answers[1]["text"] == "✓ Xong", answers
    after = [c.text for c in server.fake.delivered()[posted_before:]]
    assert len(after) == 1 and after[0].startswith("Đã ghi nhận Thôn 3 hoàn thành việc #1"), after
    [edit] = server.fake.params("editMessageText")
    assert edit["text"].endswith("✓ Lan Nguyễn: Xong"), edit["text"]
    assert edit["text"].startswith(reminder["text"][:30])
    # One button stays under the message for the next person.
    assert json.loads(edit["reply_markup"])["inline_keyboard"][0][0]["text"] == "Xong"


async def test_a_chidao_preview_is_sent_by_tapping_gui_and_its_choice_goes(
    app: BotApp, settings: Settings, tmp_path: Path
) -> None:
    official = 31  # a province officer, in a private chat with the bot
    with TelegramServer() as server:
        papp = platform_app(app, e2e_settings(settings, tmp_path, server.base_url))
        async with papp.db.session() as session:
            tree = await build_tree(session)
            codes = [
                (await join_code(session, unit, role, papp.clock()), chat, user)
                for unit, role, chat, user in (
                    (tree.province, Role.STAFF, official, official),
                    (tree.commune, Role.COMMUNE_LEADER, -3001, LEADER_TG),
                    (tree.other_commune, Role.COMMUNE_LEADER, -3002, 8),
                )
            ]
        async with web(papp) as (client, _):
            for code, chat_id, user in codes:
                await post_telegram(client, tg_message_update(f"/ketnoi {code}", chat_id=chat_id, user_id=user))
            chidao = tg_message_update("/chidao toàn tỉnh: Rà soát hộ nghèo", chat_id=official, user_id=official)
            await post_telegram(client, chidao)
        await _deliver(papp)
        [((chat, message_id), preview)] = _with_button(server, "Gửi")
        buttons = [[b["text"] for b in row] for row in preview["reply_markup"]["inline_keyboard"]]  # type: ignore[index]
        assert buttons == [["Gửi", "Huỷ"]]
        tap = server.fake.tap(chat, message_id, tg_user(official, "Mai", "Cán bộ"), "Gửi")
        async with web(papp) as (client, _):
            await post_telegram(client, tap)
        await _deliver(papp)
    [edit] = server.fake.params("editMessageText")
    assert edit["text"].endswith("✓ Mai Cán bộ: Gửi"), edit["text"]
    assert "reply_markup" not in edit  # a choice is made once: Gửi and Huỷ are gone
    assert {c.chat_id for c in server.fake.delivered() if "CHỈ ĐẠO SỐ 1" in c.text} == {"-3001", "-3002"}


def test_a_button_whose_command_is_over_64_bytes_is_left_out_of_the_keyboard() -> None:
    long = "/xong 1 " + "đ" * 40  # 88 bytes in UTF-8
    markup = keyboard([Button("Xong", "/xong 12"), Button("Dài", long)])
    assert markup is not None
    assert [[b.text for b in row] for row in markup.inline_keyboard] == [["Xong"]]
    assert keyboard([Button("Dài", long)]) is None
    assert len(long.encode()) > MAX_CALLBACK_DATA


def test_a_tap_answer_is_the_first_paragraph_cut_to_200_characters() -> None:
    assert tap_text("Không được.\n\nChi tiết dài") == "Không được."
    assert len(tap_text("x" * 500)) == 200


@pytest.mark.parametrize("data", ["", "x" * 65])
async def test_the_fake_refuses_callback_data_telegram_refuses(data: str) -> None:
    with TelegramServer() as server:
        markup = json.dumps({"inline_keyboard": [[{"text": "Xong", "callback_data": data}]]})
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            response = await client.post(
                "/bot123:abc/sendMessage", json={"chat_id": GROUP, "text": "hi", "reply_markup": markup}
            )
    assert response.status_code == 400 and "BUTTON_DATA_INVALID" in response.text
