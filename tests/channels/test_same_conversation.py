"""One conversation through the console, Telegram and Zalo adapters gets the same answers."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from tests.factories import FakeClock, build_tree, join_code
from tests.fakes.platforms import (
    TG_HEADER,
    TG_SECRET,
    ZALO_HEADER,
    ZALO_SECRET,
    adapters_for,
    outbox,
    platform_app,
    platform_settings,
    tg_message_update,
    web,
    zalo_update,
)
from tests.fakes.telegram_server import TelegramServer
from tests.fakes.zalo_api import FakeZaloApi
from tocns.app import BotApp, print_console_outbox
from tocns.channels.console import ConsoleChannel
from tocns.config import Settings
from tocns.core.roles import Role

CONVERSATION = ["/huongdan", "/ketnoi {code}", "/thamgia thon 3", "/batdau", "/khongco", "/huongdan ketnoi"]


async def _console(app: BotApp, lines: list[str]) -> list[str]:
    out = io.StringIO()
    console = ConsoleChannel(
        app.pipeline,
        chat_id="-1001",
        user_id="11",
        name="Lan Nguyễn",
        out=out,
        deliver_outbox=lambda: print_console_outbox(app, out),
    )
    answers = []
    for line in lines:
        answers.append("\n".join(r.text for r in await console.send_line(line)))
    assert all(a in out.getvalue() for a in answers)
    return answers


async def _telegram(app: BotApp, adapters: list[Any], lines: list[str]) -> list[str]:
    answers = []
    async with web(app, adapters) as (client, web_app):
        for line in lines:
            before = len(await outbox(app))
            response = await client.post(
                "/webhook/telegram", json=tg_message_update(line, user_id=11), headers={TG_HEADER: TG_SECRET}
            )
            assert response.status_code == 200
            await web_app.state.pipeline.drain()
            answers.append("\n".join(r.text for r in (await outbox(app))[before:]))
    return answers


async def _zalo(app: BotApp, adapters: list[Any], lines: list[str]) -> list[str]:
    answers = []
    async with web(app, adapters) as (client, web_app):
        for line in lines:
            before = len(await outbox(app))
            # In a Zalo group the bot only sees messages that mention it.
            body = zalo_update(f"@ToCNSBot {line}", user_id="11", name="Lan Nguyễn")
            response = await client.post("/webhook/zalo", json=body, headers={ZALO_HEADER: ZALO_SECRET})
            assert response.status_code == 200
            await web_app.state.pipeline.drain()
            answers.append("\n".join(r.text for r in (await outbox(app))[before:]))
    return answers


async def _run(papp: BotApp, platform: str, code: str, tg: TelegramServer) -> list[str]:
    lines = [line.format(code=code) for line in CONVERSATION]
    adapters = list(adapters_for(papp, tg, FakeZaloApi()))
    if platform == "console":
        answers = await _console(papp, lines)
    elif platform == "telegram":
        answers = await _telegram(papp, adapters, lines)
    else:
        answers = await _zalo(papp, adapters, lines)
    return [a.replace(code, "{code}") for a in answers]


@pytest.mark.parametrize("platform", ["console", "telegram", "zalo"])
async def test_same_conversation_same_answers(
    app: BotApp, settings: Settings, tmp_path: Path, clock: FakeClock, tg_server: TelegramServer, platform: str
) -> None:
    papp = platform_app(app, platform_settings(settings, tmp_path))
    async with papp.db.session() as session:
        tree = await build_tree(session)
        codes = [await join_code(session, tree.commune, Role.COMMUNE_LEADER, clock()) for _ in range(2)]
    answers = await _run(papp, platform, codes[0], tg_server)
    assert "Các lệnh bạn dùng được" in answers[0]
    assert "Đã kết nối nhóm này với Xã Tân Lập" in answers[1]
    assert "Thôn 3" in answers[2]
    assert "Nhóm này thuộc: Xã Tân Lập" in answers[3] and "Lan Nguyễn" in answers[3]
    assert answers[4].startswith("Không có lệnh /khongco.")
    assert "/ketnoi" in answers[5]
    # The reference: the same conversation typed in the console (its own platform, so its own group).
    reference = await _run(papp, "console", codes[1], tg_server) if platform != "console" else answers
    assert answers == reference


async def test_the_conversation_through_an_official_account_group_chat(
    app: BotApp, settings: Settings, tmp_path: Path, clock: FakeClock
) -> None:
    """Zalo OA with GMF: join, log, task, reminder, directive, acknowledgement and report in an OA group, through
    the signed webhook and the outbox to the fake OA (every message reaches the OA: no tag needed)."""
    from tests.channels.zalo_oa_conversation import oa_group_conversation

    await oa_group_conversation(app, settings, tmp_path, clock)
