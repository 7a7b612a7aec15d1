"""The shared conversation (join, log, task, reminder, directive, acknowledgement by button, report) on GapoWork, in
a commune's group chat or, where the commune has no group, in private chats (`receiver_id`), end to end through the
webhook, the outbox and the strict fake."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests.factories import FakeClock, build_tree, join_code
from tests.fakes.gapowork_api import FakeGapoWork
from tests.fakes.gapowork_bot import GapoBot, gapo_bot
from tocns.app import BotApp
from tocns.config import Settings
from tocns.core.roles import Role
from tocns.scheduler import run_due_jobs


@dataclass
class Talk:
    """Who is where: the group chat (None in private mode) and the three people."""

    bot: GapoBot
    group: int | None
    leader: int
    member: int
    staff: int

    def chat_of(self, user: int) -> tuple[str, int]:
        """Where a person's lines go and where the bot's answers to them land."""
        if self.group is not None and user != self.staff:
            return "thread_id", self.group
        return "receiver_id", user

    async def say(self, user: int, line: str) -> str:
        """A line typed by `user` (in the group, or privately); the bot's answers there once delivered."""
        key, target = self.chat_of(user)
        before = len(self.bot.fake.sent_to(key, target))
        thread = target if key == "thread_id" else None
        await self.bot.post(self.bot.fake.say(user, line, thread_id=thread))
        await self.bot.deliver()
        return "\n".join(self.bot.fake.texts(key, target)[before:])

    async def tap(self, user: int, title: str, in_text: str) -> str:
        """`user` taps the button `title` under the last message containing `in_text` in their chat; the answers."""
        key, target = self.chat_of(user)
        fake = self.bot.fake
        found = [
            option
            for text, options in zip(fake.texts(key, target), fake.buttons(key, target), strict=True)
            if in_text in text
            for option in options
            if option["title"] == title
        ]
        assert found, (title, in_text, fake.buttons(key, target))
        before = len(fake.sent_to(key, target))
        thread = target if key == "thread_id" else None
        await self.bot.post(fake.tap(user, found[-1]["payload"], thread_id=thread))
        await self.bot.deliver()
        return "\n".join(fake.texts(key, target)[before:])

    def received(self, text: str) -> set[tuple[str, int]]:
        """The chats that were sent a message containing `text`."""
        return {(k, t) for k, t, b in self.bot.fake.messages if text in (b.get("tmp_text") or b.get("text", ""))}


async def gapowork_conversation(
    app: BotApp, settings: Settings, tmp_path: Path, clock: FakeClock, in_group: bool
) -> dict[str, str]:
    """Run the conversation; returns the two /tinhtrang answers (acknowledged by button, then by /danhan)."""
    fake = FakeGapoWork()
    leader, member, staff = fake.user("Chủ tịch Bình"), fake.user("Lò Thị Lan"), fake.user("Cán bộ Mai")
    group = fake.group("Tổ CNS Xã Tân Lập") if in_group else None
    async with app.db.session() as session:
        tree = await build_tree(session)
        now = clock()
        codes = {
            leader: await join_code(session, tree.commune, Role.COMMUNE_LEADER, now),
            member: await join_code(session, tree.teams[1], Role.MEMBER, now),  # Thôn 3
            staff: await join_code(session, tree.province, Role.STAFF, now),
        }
    async with gapo_bot(app, settings, tmp_path, fake) as bot:
        talk = Talk(bot, group, leader, member, staff)
        # Join. The fake delivers its first message event twice: the bot answers once.
        joined = await talk.say(leader, f"/ketnoi {codes[leader]}")
        assert joined.count("Xã Tân Lập") >= 1 and len(fake.sent_to(*talk.chat_of(leader))) == 1, joined
        if in_group:
            # Group chatter (GapoWork may deliver every message) is neither answered nor kept.
            assert await talk.say(member, "Chào cả nhà, chiều nay họp nhé") == ""
            assert "đã tham gia Thôn 3" in await talk.say(member, "/thamgia thon 3")
        else:
            assert "Thành viên tổ của Thôn 3" in await talk.say(member, f"/ketnoi {codes[member]}")
        assert "Cán bộ Sở của Tỉnh Thử" in await talk.say(staff, f"/ketnoi {codes[staff]}")
        # Log and task.
        assert "Đã ghi #1 cho Thôn 3 (Xã Tân Lập)" in await talk.say(member, "/ghi vneid 5")
        assert "Đã giao việc #1" in await talk.say(leader, "/giaoviec 25/11 Hướng dẫn cài VNeID tổ Thôn 3")
        # The reminder reaches the team where it is, with "Xong" under it; the member taps it.
        clock.set_local("2026-11-24 08:00")
        assert await run_due_jobs(bot.app, clock(), wait=True)
        await bot.deliver()
        team = {talk.chat_of(member)}
        assert talk.received("⏰ Nhắc việc #1") == team
        assert "Đã ghi nhận Thôn 3 hoàn thành việc #1" in await talk.tap(member, "Xong", "⏰ Nhắc việc #1")
        # A directive reaches the commune with "Đã nhận" under it; the member taps it.
        receipt = await talk.say(staff, "/chidao X1: Họp giao ban lúc 14:00 thứ Sáu")
        assert receipt.startswith("Đã gửi chỉ đạo số 1 (Xã Tân Lập (X1))"), receipt
        commune = {talk.chat_of(leader), talk.chat_of(member)}
        assert talk.received("📢 CHỈ ĐẠO SỐ 1") == commune
        acked = await talk.tap(member, "Đã nhận", "📢 CHỈ ĐẠO SỐ 1")
        assert "Đã ghi nhận: Lò Thị Lan (Thành viên tổ, Xã Tân Lập) đã nhận chỉ đạo số 1" in acked, acked
        by_button = await talk.say(staff, "/tinhtrang 1")
        assert "Xã/phường đã xác nhận: 1/1." in by_button and "đã xác nhận (Lò Thị Lan, Thành viên tổ" in by_button
        # The same directive flow acknowledged by typing /danhan: /tinhtrang reads the same.
        assert "Đã gửi chỉ đạo số 2" in await talk.say(staff, "/chidao X1: Nộp báo cáo tuần trước thứ Hai")
        typed = await talk.say(member, "/danhan 2")
        assert "Đã ghi nhận: Lò Thị Lan (Thành viên tổ, Xã Tân Lập) đã nhận chỉ đạo số 2" in typed, typed
        by_typing = await talk.say(staff, "/tinhtrang 2")
        # Report: the leader's report counts the member's log; the workbook goes as a signed HTTPS link.
        report = await talk.say(leader, "/baocao")
        assert "BÁO CÁO XÃ TÂN LẬP (mã X1)" in report and "5 người" in report, report
        assert re.search(r"📎 bao-cao-X1-\S+\.xlsx \(mở hoặc tải về trong 7 ngày\): https://bot\.example\.vn/", report)
        if not in_group:
            # Every private message went by receiver_id: the bot never wrote into a thread.
            assert {k for k, _t, _b in fake.messages} == {"receiver_id"}
        assert not fake.refused, fake.refused
    return {"button": by_button, "typed": by_typing}
