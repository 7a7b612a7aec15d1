"""One conversation through the console, Telegram and Zalo channels gets the same answers."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.factories import FakeClock, build_tree, join_code
from tests.fakes.platforms import (
    TG_HEADER,
    TG_SECRET,
    ZALO_HEADER,
    ZALO_SECRET,
    channels_for,
    outbox,
    platform_app,
    platform_settings,
    tg_message_update,
    web,
    zalo_update,
)
from tests.fakes.telegram_server import TelegramServer
from tests.fakes.zalo_api import FakeZaloApi
from tocns.app import BotApp, print_console_outbox, sender_hooks
from tocns.channels.console import ConsoleChannel
from tocns.channels.zalo import ZaloTransport
from tocns.config import Settings
from tocns.core.roles import Role
from tocns.outbox import store as outbox_store
from tocns.outbox.models import OutboxState
from tocns.outbox.sender import OutboxSender
from tocns.scheduler import run_due_jobs

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


async def _telegram(app: BotApp, channels: list[Any], lines: list[str]) -> list[str]:
    answers = []
    async with web(app, channels) as (client, web_app):
        for line in lines:
            before = len(await outbox(app))
            response = await client.post(
                "/webhook/telegram", json=tg_message_update(line, user_id=11), headers={TG_HEADER: TG_SECRET}
            )
            assert response.status_code == 200
            await web_app.state.pipeline.drain()
            answers.append("\n".join(r.text for r in (await outbox(app))[before:]))
    return answers


async def _zalo(app: BotApp, channels: list[Any], lines: list[str]) -> list[str]:
    answers = []
    async with web(app, channels) as (client, web_app):
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
    channels = list(channels_for(papp, tg, FakeZaloApi()))
    if platform == "console":
        answers = await _console(papp, lines)
    elif platform == "telegram":
        answers = await _telegram(papp, channels, lines)
    else:
        answers = await _zalo(papp, channels, lines)
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


# ---------------------------------------------------------------- the whole conversation, end to end, per Zalo mode
# One team's week: join, log, task, reminder, directive, acknowledgement, report. Each mode says how a person's line
# reaches the bot and where the bot's own messages must land; the steps are shared helpers, so another mode (the
# OA group chat) is one more `Mode` in MODES. Everything goes through the webhook, the outbox and the fake server.

LEADER_ID, MEMBER_ID, STAFF_ID = "zlead", "zmember", "zstaff"
GROUP = "zgroup-1"


@dataclass
class Mode:
    """How a Zalo bot meets the team: in private chats only, or in the commune's group (mentions only)."""

    name: str
    fake: Callable[[], FakeZaloApi]
    # Whether the leader and the member talk in the group (the staff always writes privately).
    in_group: bool

    def chat_of(self, user: str) -> str:
        """The chat a person's lines go to (a Zalo private chat's id is the user's id)."""
        return GROUP if self.in_group and user != STAFF_ID else user

    def body(self, user: str, line: str) -> dict[str, Any]:
        """The update Zalo sends for a line typed by `user`; in a group it only arrives with the bot's mention."""
        chat = self.chat_of(user)
        text = f"@ToCNSBot {line}" if chat == GROUP else line
        return zalo_update(text, chat_id=chat, user_id=user, private=chat != GROUP, wrapped=False, name=user)


MODES = [
    Mode("zalo-private-only", lambda: FakeZaloApi(), in_group=False),
    Mode("zalo-group-mentions", lambda: FakeZaloApi(can_join_groups=True, groups={GROUP}), in_group=True),
]


@dataclass
class Conversation:
    """A running conversation: the app, its web client, the fake server and a sender in simulated time."""

    app: BotApp
    mode: Mode
    fake: FakeZaloApi
    client: httpx.AsyncClient
    web_app: Any
    sender: OutboxSender

    async def say(self, user: str, line: str) -> str:
        """One line typed by `user`, through the fake server and the webhook; the bot's answer once delivered."""
        before = len(self.fake.sent())
        update = self.fake.deliver(self.mode.body(user, line))
        assert update is not None, f"{self.mode.name}: Zalo would not deliver {line!r}"
        response = await self.client.post("/webhook/zalo", json=update, headers={ZALO_HEADER: ZALO_SECRET})
        assert response.status_code == 200, response.text
        await self.web_app.state.pipeline.drain()
        await self.deliver()
        chat = self.mode.chat_of(user)
        return "\n".join(p["text"] for p in self.fake.sent()[before:] if p["chat_id"] == chat)

    async def deliver(self) -> None:
        """Run the outbox sender in simulated time until nothing is left; nothing may fail."""
        clock = self.app.clock
        for _ in range(200):
            if await self.sender.run_once():
                continue
            async with self.app.db.session() as session:
                due = await outbox_store.next_due(session, ["zalo"])
            if due is None:
                break
            due = due if due.tzinfo else due.replace(tzinfo=UTC)
            clock.now = max(due, clock() + timedelta(milliseconds=10))  # type: ignore[attr-defined]
        failed = [r for r in await outbox(self.app) if r.state == OutboxState.FAILED]
        assert not failed, [(r.chat_id, r.last_error) for r in failed]

    def received(self, text: str) -> set[str]:
        """The chats that were sent a message containing `text`."""
        return {p["chat_id"] for p in self.fake.sent() if text in p.get("text", "")}


@asynccontextmanager
async def conversation(app: BotApp, settings: Settings, tmp_path: Path, mode: Mode) -> AsyncIterator[Conversation]:
    """The bot on Zalo in this mode, with a sender whose clocks are the test's fake clock."""
    papp = platform_app(app, platform_settings(settings, tmp_path))
    fake = mode.fake()
    with TelegramServer() as tg:
        channels = list(channels_for(papp, tg, fake))
        clock = papp.clock
        start = clock()
        transport = ZaloTransport(papp.settings, client=fake.client(), clock=clock)
        sender = OutboxSender(
            papp.db,
            papp.settings,
            {"zalo": transport},
            clock=clock,
            monotonic=lambda: (clock() - start).total_seconds(),
            hooks=sender_hooks(),
        )
        async with web(papp, channels) as (client, web_app):
            yield Conversation(papp, mode, fake, client, web_app, sender)
        await transport.close()


async def _codes(app: BotApp) -> dict[str, str]:
    async with app.db.session() as session:
        tree = await build_tree(session)
        now = app.clock()
        return {
            LEADER_ID: await join_code(session, tree.commune, Role.COMMUNE_LEADER, now),
            MEMBER_ID: await join_code(session, tree.teams[1], Role.MEMBER, now),  # Thôn 3
            STAFF_ID: await join_code(session, tree.province, Role.STAFF, now),
        }


async def join(talk: Conversation, codes: dict[str, str]) -> None:
    """The leader connects (the group, or himself privately), the member joins Thôn 3, the staff connects."""
    assert "Xã Tân Lập" in await talk.say(LEADER_ID, f"/ketnoi {codes[LEADER_ID]}")
    if talk.mode.in_group:
        assert "đã tham gia Thôn 3" in await talk.say(MEMBER_ID, "/thamgia thon 3")
    else:
        joined = await talk.say(MEMBER_ID, f"/ketnoi {codes[MEMBER_ID]}")
        assert "Thành viên tổ của Thôn 3" in joined and "ngay trong tin nhắn riêng" in joined
    assert "Cán bộ Sở của Tỉnh Thử" in await talk.say(STAFF_ID, f"/ketnoi {codes[STAFF_ID]}")


async def log_and_task(talk: Conversation) -> None:
    """The member logs; the leader assigns the member's team a task."""
    assert "Đã ghi #1 cho Thôn 3 (Xã Tân Lập)" in await talk.say(MEMBER_ID, "/ghi vneid 5")
    assert "Đã giao việc #1" in await talk.say(LEADER_ID, "/giaoviec 25/11 Hướng dẫn cài VNeID tổ Thôn 3")
    assert "Hướng dẫn cài VNeID" in await talk.say(MEMBER_ID, "/nhiemvu")


async def reminder(talk: Conversation, expected: set[str]) -> None:
    """The morning before the deadline the reminder reaches the team where it is."""
    talk.app.clock.set_local("2026-11-24 08:00")  # type: ignore[attr-defined]
    assert await run_due_jobs(talk.app, talk.app.clock(), wait=True)
    await talk.deliver()
    assert talk.received("⏰ Nhắc việc #1") == expected
    assert "Đã ghi nhận Thôn 3 hoàn thành việc #1" in await talk.say(MEMBER_ID, "/xong 1")


async def directive(talk: Conversation, expected: set[str]) -> str:
    """The department's directive to the commune reaches it; the member acknowledges; the staff reads the status."""
    receipt = await talk.say(STAFF_ID, "/chidao X1: Họp giao ban lúc 14:00 thứ Sáu")
    assert receipt.startswith("Đã gửi chỉ đạo số 1 (Xã Tân Lập (X1))")
    assert talk.received("📢 CHỈ ĐẠO SỐ 1") == expected
    assert "Đã ghi nhận: zmember (Thành viên tổ, Xã Tân Lập) đã nhận chỉ đạo số 1" in await talk.say(
        MEMBER_ID, "/danhan 1"
    )
    status = await talk.say(STAFF_ID, "/tinhtrang 1")
    assert "Xã/phường đã xác nhận: 1/1." in status and "đã xác nhận (zmember, Thành viên tổ" in status
    return receipt + "\n" + status


async def report(talk: Conversation) -> None:
    """The leader's report counts the member's log."""
    text = await talk.say(LEADER_ID, "/baocao")
    assert "BÁO CÁO XÃ TÂN LẬP (mã X1)" in text and "5 người" in text


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.name)
async def test_the_whole_conversation_end_to_end(
    app: BotApp, settings: Settings, tmp_path: Path, clock: FakeClock, mode: Mode
) -> None:
    codes = await _codes(app)
    async with conversation(app, settings, tmp_path, mode) as talk:
        await join(talk, codes)
        await log_and_task(talk)
        team_chats = {GROUP} if mode.in_group else {MEMBER_ID}
        await reminder(talk, team_chats)
        commune_chats = {GROUP} if mode.in_group else {LEADER_ID, MEMBER_ID}
        told = await directive(talk, commune_chats)
        if mode.in_group:
            assert "tới 1 nhóm của 1 xã/phường" in told
        else:
            # Reached through each person's private chat, counted and acknowledged per person.
            assert "tới 0 nhóm và 2 người (tin nhắn riêng) của 1 xã/phường" in told
            assert "Tin riêng: 2/2 người đã nhận, 1/2 người đã xác nhận." in told
            assert "1/2 người đã xác nhận, chưa: zlead" in told
        await report(talk)
    # A bot that cannot join groups never sent anything to one.
    if not mode.in_group:
        assert all(p["chat_id"] != GROUP for p in talk.fake.sent())


@pytest.mark.parametrize("in_group", [True, False], ids=["gapowork-group", "gapowork-private"])
async def test_the_conversation_through_gapowork(
    app: BotApp, settings: Settings, tmp_path: Path, clock: FakeClock, in_group: bool
) -> None:
    """GapoWork: join, log, task, reminder ("Xong" button), directive ("Đã nhận" button), report, in a group chat or
    in private chats (receiver_id), through the webhook and the outbox to the strict fake. A directive acknowledged
    by the button reads in /tinhtrang exactly as one acknowledged by typing /danhan."""
    from tests.channels.gapowork_conversation import gapowork_conversation

    status = await gapowork_conversation(app, settings, tmp_path, clock, in_group)

    def shape(text: str) -> str:
        return re.sub(r"\d+", "#", text.replace("Họp giao ban", "").replace("Nộp báo cáo", ""))

    assert shape(status["button"]) == shape(status["typed"]), status
