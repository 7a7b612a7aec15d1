"""The shared conversation (join, log, task, reminder, directive, acknowledgement, report) in a Zalo OA group."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.factories import ChatHarness, FakeClock, build_tree, join_code, tick
from tests.fakes.platforms import outbox, sender, web
from tests.fakes.zalo_oa_api import GROUP, OA_LEADER, OA_MEMBER, FakeZaloOa, deliver, group_text
from tests.fakes.zalo_oa_bot import oa_bot
from tocns.app import BotApp
from tocns.config import Settings
from tocns.core.roles import Role


async def oa_group_conversation(app: BotApp, settings: Settings, tmp_path: Path, clock: FakeClock) -> None:
    """Run the conversation in an OA group and check what the group received from the fake OA."""
    members = {OA_LEADER: "Chủ tịch Bình", OA_MEMBER: "Lò Thị Lan"}
    fake = FakeZaloOa(groups={GROUP: {"name": "Tổ CNS Xã Tân Lập", "status": "enabled", "members": members}})
    oa = await oa_bot(app, settings, tmp_path, fake)
    await oa.channel.start()  # as `tocns serve` does: checks the token, reads the groups' member names
    async with oa.app.db.session() as session:
        tree = await build_tree(session)
        commune = await join_code(session, tree.commune, Role.COMMUNE_LEADER, clock())
        staff = await join_code(session, tree.province, Role.STAFF, clock())
    steps = [
        (OA_LEADER, f"/ketnoi {commune}", "Chủ tịch Bình được giao vai trò Lãnh đạo xã/phường"),
        (OA_MEMBER, "/thamgia thon 3", "Lò Thị Lan đã tham gia Thôn 3"),
        (OA_MEMBER, "/ghi vneid 5", "Đã ghi #"),
        (OA_LEADER, f"/giaoviec 05/12 Kiểm tra sổ hộ [@{OA_MEMBER}]", "Đã giao việc #1"),
    ]
    async with web(oa.app, [oa.channel]) as (client, web_app):
        for user, line, expected in steps:
            before = len(await outbox(oa.app, GROUP))
            assert (await deliver(client, group_text(line, user_id=user))).status_code == 200
            await web_app.state.pipeline.drain()
            answer = "\n".join(r.text for r in (await outbox(oa.app, GROUP))[before:])
            assert expected in answer, (line, answer)
    staff_chat = ChatHarness(oa.app)
    assert "Cán bộ Sở" in await staff_chat.text(
        f"/ketnoi {staff}", user="1", name="Cán bộ Mai", private=True, chat="p1"
    )
    # The reminder the day before the deadline.
    await tick(oa.app, clock, "2026-12-04 08:00")
    # A directive from the province's staff (another platform), to the commune: it reaches the OA group.
    receipt = await staff_chat.text("/chidao X1: Rà soát số hộ đã cài VNeID", user="1", private=True, chat="p1")
    assert "Đã gửi chỉ đạo số 1" in receipt, receipt
    async with web(oa.app, [oa.channel]) as (client, web_app):
        for user, line in ((OA_LEADER, "/danhan 1"), (OA_LEADER, "/baocao")):
            assert (await deliver(client, group_text(line, user_id=user))).status_code == 200
    await asyncio.wait_for(sender(oa.app, {"zalo_oa": oa.transport}).drain(until_empty=True), timeout=30)
    await oa.transport.close()
    got = "\n".join(fake.texts(GROUP))
    for expected in (
        "Đã kết nối nhóm này với Xã Tân Lập",
        "Đã ghi #1",
        "Đã giao việc #1",
        "CHỈ ĐẠO SỐ 1",
        "Đã ghi nhận:",
    ):
        assert expected in got, (expected, got)
    # The task's member is tagged for real in the group, by the OA-scoped id Zalo gave us.
    reminders = [t for t in fake.texts(GROUP) if t.startswith("⏰ Nhắc việc #1: Kiểm tra sổ hộ")]
    assert len(reminders) == 1 and f"Chưa xong: [@{OA_MEMBER}]" in reminders[0], got
    report = next(t for t in fake.texts(GROUP) if t.startswith("📊 BÁO CÁO XÃ TÂN LẬP"))
    assert "Định danh điện tử VNeID" in report and "#1 Kiểm tra sổ hộ" in report
    # The report's workbook: Zalo's file upload takes no .xlsx, so it goes as a signed link.
    assert any(t.startswith("📎 bao-cao-X1-") and ".xlsx (tải về trong 7 ngày): https://" in t for t in fake.texts())
    assert all(r.state == "sent" for r in await outbox(oa.app, GROUP))
