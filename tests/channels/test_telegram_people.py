"""Telegram as people use it, through the real HTTP fake Bot API: tapped names, mentions that notify."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.factories import LEADER, FakeClock, tick
from tests.fakes.platforms import (
    commune_join_code,
    e2e_settings,
    outbox,
    platform_app,
    post_telegram,
    sender,
    tg_member_update,
    tg_message_update,
)
from tests.fakes.telegram_server import TelegramServer, visible
from tocns.app import BotApp
from tocns.channels.telegram import TelegramTransport, to_html
from tocns.config import Settings
from tocns.core.mentions import person_marker, render_plain
from tocns.features.org import store as org_store
from tocns.web.app import create_app, register_platforms, setup_platforms

GROUP = -1001


@asynccontextmanager
async def web(app: BotApp) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    """The web app exactly as `tocns serve` builds it, its channels on the fake server."""
    web_app = create_app(app.settings, bot_app=app)
    try:
        transport = httpx.ASGITransport(app=web_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client, web_app
        await web_app.state.pipeline.drain()
    finally:
        for channel in web_app.state.channels.values():
            await channel.close()


MAI = 4242  # a villager with no @username


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def tapped(text: str, name: str, user: dict[str, Any]) -> dict[str, Any]:
    """A group message in which `name` was inserted by tapping the person (a text_mention entity, no "@")."""
    update = tg_message_update(text, chat_id=GROUP, user_id=int(LEADER))
    at = text.rindex(name)
    entity = {"type": "text_mention", "offset": _utf16(text[:at]), "length": _utf16(name), "user": user}
    update["message"]["entities"].append(entity)
    return update


MAI_USER = {"id": MAI, "is_bot": False, "first_name": "Lò Thị", "last_name": "Mai"}


async def _deliver(papp: BotApp) -> None:
    transport = TelegramTransport(papp.settings.telegram_bot_token, papp.settings.telegram_api_base_url, timeout=3)
    await asyncio.wait_for(sender(papp, {"telegram": transport}).drain(until_empty=True), timeout=30)
    await transport.close()


async def test_a_task_given_by_tapping_a_name_reminds_her_with_a_real_mention(
    app: BotApp, settings: Settings, tmp_path: Path, clock: FakeClock
) -> None:
    with TelegramServer() as server:
        papp = platform_app(app, e2e_settings(settings, tmp_path, server.base_url))
        code = await commune_join_code(papp)
        mai_joins = tg_message_update("/thamgia thon 3", chat_id=GROUP, user_id=MAI)
        mai_joins["message"]["from"] = MAI_USER
        async with web(papp) as (client, _):
            await post_telegram(client, tg_message_update(f"/ketnoi {code}", chat_id=GROUP, user_id=int(LEADER)))
            await post_telegram(client, mai_joins)
            text = "/giaoviec 05/12 Kiểm tra sổ hộ Lò Thị Mai"
            await post_telegram(client, tapped(text, "Lò Thị Mai", MAI_USER))
        replies = [render_plain(r.text) for r in await outbox(papp, str(GROUP))]
        assert any("Đã giao việc #1" in r and "Kiểm tra sổ hộ" in r and "Lò Thị Mai" in r for r in replies), replies
        for day in range(1, 10):  # the reminders before, on and after the deadline, and the escalation
            await tick(papp, clock, f"2026-12-{day:02d} 08:00")
        await _deliver(papp)
    # The reminders and the escalation; the Monday digest (📊) also names the overdue task and is not one of them.
    reminders = [
        c
        for c in server.fake.delivered()
        if "Kiểm tra sổ hộ" in c.text and "#1" in c.text and not c.text.startswith("📊")
    ]
    assert reminders, [c.text for c in server.fake.delivered()]
    # Every message naming her mentions her for real: a link to her user id, her name shown as typed.
    bad = [c.text for c in reminders if not (("text_mention", str(MAI)) in c.entities and "Lò Thị Mai" in c.text)]
    assert not bad, bad


async def test_vaitro_by_tapping_a_name_creates_the_person_the_bot_never_met(
    app: BotApp, settings: Settings, tmp_path: Path
) -> None:
    with TelegramServer() as server:
        papp = platform_app(app, e2e_settings(settings, tmp_path, server.base_url))
        code = await commune_join_code(papp)
        async with web(papp) as (client, _):
            await post_telegram(client, tg_message_update(f"/ketnoi {code}", chat_id=GROUP, user_id=int(LEADER)))
            await post_telegram(client, tapped("/vaitro Lò Thị Mai lanh dao xa", "Lò Thị Mai", MAI_USER))
        async with papp.db.session() as session:
            person = await org_store.get_person(session, "telegram", str(MAI))
        assert person is not None and person.display_name == "Lò Thị Mai"
        replies = [render_plain(r.text) for r in await outbox(papp, str(GROUP))]
        assert any("Lò Thị Mai" in r and "lãnh đạo" in r.lower() for r in replies), replies


def test_html_escapes_every_name_and_the_text_around_it() -> None:
    marker = person_marker("77", "<b>Tý & Tèo</b>")
    text, entities = visible(
        to_html(f"Nhắc <việc> & {marker}; @lan_nguyen {person_marker('5', 'X', 'lan_nguyen')}"), "HTML"
    )
    assert text == "Nhắc <việc> & <b>Tý & Tèo</b>; @lan_nguyen @lan_nguyen"
    assert ("text_mention", "77") in entities


def anonymous(text: str) -> dict[str, Any]:
    """A message from an anonymous admin, exactly as Telegram sends it: from GroupAnonymousBot, as the group."""
    update = tg_message_update(text, chat_id=GROUP)
    message = update["message"]
    message["from"] = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
    message["sender_chat"] = {"id": GROUP, "type": "group", "title": message["chat"]["title"]}
    return update


async def test_an_anonymous_admin_is_answered_and_told_how_to_act_as_a_person(
    app: BotApp, settings: Settings, tmp_path: Path
) -> None:
    with TelegramServer() as server:
        papp = platform_app(app, e2e_settings(settings, tmp_path, server.base_url))
        code = await commune_join_code(papp)
        async with web(papp) as (client, _):
            await post_telegram(client, tg_message_update(f"/ketnoi {code}", chat_id=GROUP, user_id=int(LEADER)))
            await post_telegram(client, anonymous("/baocao"))
            await post_telegram(client, anonymous("/nhiemvu"))
            await post_telegram(client, anonymous("/giaoviec 05/12 Kiểm tra sổ hộ tất cả"))
            await post_telegram(client, anonymous("/ghi vneid 5"))
        await _deliver(papp)
    said = "\n".join(c.text for c in server.fake.delivered())
    assert "Tổ chưa báo cáo (3)" in said  # the commune's report
    assert "Không có việc nào đang chờ" in said  # the commune's tasks
    assert said.count("bạn đang gửi ẩn danh") == 2
    assert "/giaoviec cần biết ai gửi" in said and "/ghi cần biết ai gửi" in said


async def test_each_audience_gets_its_own_menu(settings: Settings, tmp_path: Path) -> None:
    with TelegramServer() as server:
        configured = settings.model_copy(
            update={
                "telegram_bot_token": "123456:menu-token",
                "telegram_api_base_url": server.base_url,
                "telegram_webhook_secret": "menu-secret",
                "public_base_url": "https://bot.example.vn",
            }
        )
        await register_platforms(configured)
    menus = server.fake.menus
    for language in ("", "vi"):
        group = menus[("all_group_chats", language)]
        admins = menus[("all_chat_administrators", language)]
        private = menus[("all_private_chats", language)]
        assert {"ghi", "thamgia", "nhiemvu", "baocao", "xong"} <= set(group)
        assert not {"giaoviec", "caidat", "vaitro", "chidao", "tinhtrang", "huyviec"} & set(group)
        assert {"giaoviec", "caidat", "vaitro", "ghi", "baocao"} <= set(admins)
        assert {"huongdan", "cuatoi"} <= set(private) and "giaoviec" not in private and "ghi" not in private
        # Leaders work from a private chat too (docs/private-chats.md).
        assert {"baocao", "nhiemvu", "tinhtrang"} <= set(private)
        # The default menu is replaced too: an old full menu would otherwise stay where no scope applies.
        assert menus[("default", language)] == private


async def test_a_command_in_a_forum_topic_is_answered_in_that_topic(
    app: BotApp, settings: Settings, tmp_path: Path
) -> None:
    forum = -1009990001
    with TelegramServer() as server:
        papp = platform_app(app, e2e_settings(settings, tmp_path, server.base_url))
        in_topic = tg_message_update("/huongdan", chat_id=forum, user_id=int(LEADER))
        in_topic["message"].update({"message_thread_id": 77, "is_topic_message": True})
        in_general = tg_message_update("/huongdan", chat_id=forum, user_id=int(LEADER))
        async with web(papp) as (client, _):
            await post_telegram(client, in_topic)
            await post_telegram(client, in_general)
        await _deliver(papp)
    topics = [c.params.get("message_thread_id") for c in server.fake.delivered() if c.chat_id == str(forum)]
    # Two answers, not merged: one in topic 77, one in the General topic (no thread id).
    assert sorted(topics, key=str) == ["77", None]


@pytest.mark.parametrize(
    ("reads_all", "status", "told"), [(False, "member", True), (False, "administrator", False), (True, "member", False)]
)
async def test_the_welcome_says_how_to_reach_a_bot_in_privacy_mode(
    app: BotApp, settings: Settings, tmp_path: Path, reads_all: bool, status: str, told: bool
) -> None:
    with TelegramServer() as server:
        server.fake.reads_all_group_messages = reads_all
        papp = platform_app(app, e2e_settings(settings, tmp_path, server.base_url))
        async with web(papp) as (client, web_app):
            await setup_platforms([web_app.state.channels["telegram"]], "https://bot.example.vn", register=False)
            await post_telegram(client, tg_member_update(GROUP, "left", status))
        await _deliver(papp)
    [welcome] = [c.text for c in server.fake.delivered()]
    assert "/ketnoi" in welcome
    assert ("đặt bot làm quản trị viên" in welcome and "/ghi@ToCNSBot" in welcome) is told


async def test_reminders_of_a_task_given_in_a_forum_topic_land_in_that_topic(
    app: BotApp, settings: Settings, tmp_path: Path, clock: FakeClock
) -> None:
    forum = -1009990002
    with TelegramServer() as server:
        papp = platform_app(app, e2e_settings(settings, tmp_path, server.base_url))
        code = await commune_join_code(papp)
        in_topic = tg_message_update("/giaoviec 05/12 Rà soát hộ nghèo tất cả", chat_id=forum, user_id=int(LEADER))
        in_topic["message"].update({"message_thread_id": 77, "is_topic_message": True})
        async with web(papp) as (client, _):
            await post_telegram(client, tg_message_update(f"/ketnoi {code}", chat_id=forum, user_id=int(LEADER)))
            await post_telegram(client, in_topic)
        for day in range(1, 10):  # the reminders before, on and after the deadline, and the escalation
            await tick(papp, clock, f"2026-12-{day:02d} 08:00")
        await _deliver(papp)
    about = [c for c in server.fake.delivered() if "Rà soát hộ nghèo" in c.text and not c.text.startswith("📊")]
    kinds = {r.kind for r in await outbox(papp, str(forum)) if "Rà soát hộ nghèo" in r.text}
    assert {"reminder", "escalation"} <= kinds, kinds
    # The confirmation, every reminder and the escalation: all in topic 77, none in the General topic.
    assert len(about) >= 3 and all(c.params.get("message_thread_id") == "77" for c in about), [
        (c.text[:40], c.params.get("message_thread_id")) for c in about
    ]


@pytest.mark.parametrize(("at_start", "at_join", "told"), [(False, True, False), (True, False, True)])
async def test_privacy_mode_is_read_again_when_the_bot_joins_a_group(
    app: BotApp, settings: Settings, tmp_path: Path, at_start: bool, at_join: bool, told: bool
) -> None:
    with TelegramServer() as server:
        server.fake.reads_all_group_messages = at_start
        papp = platform_app(app, e2e_settings(settings, tmp_path, server.base_url))
        async with web(papp) as (client, web_app):
            await setup_platforms([web_app.state.channels["telegram"]], "https://bot.example.vn", register=False)
            # Privacy mode switched in BotFather while the bot runs, then the bot is added to a group.
            server.fake.reads_all_group_messages = at_join
            await post_telegram(client, tg_member_update(GROUP, "left", "member"))
        await _deliver(papp)
    [welcome] = [c.text for c in server.fake.delivered()]
    assert "/ketnoi" in welcome
    assert ("đặt bot làm quản trị viên" in welcome and "/ghi@ToCNSBot" in welcome) is told
