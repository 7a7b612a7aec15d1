"""Leaders in a private chat (issue 13): unit commands act on the units where the person holds a role."""

from __future__ import annotations

from pathlib import Path

from tests.factories import ChatHarness, FakeClock, join_code, setup_commune
from tests.fakes.platforms import (
    channels_for,
    outbox,
    platform_app,
    platform_settings,
    post_telegram,
    tg_message_update,
    web,
)
from tests.fakes.zalo_api import FakeZaloApi
from tocns.app import BotApp
from tocns.config import Settings
from tocns.core.roles import Role

HUNG = "10"  # Chủ tịch Hùng, commune leader of Xã Tân Lập (X1), bound to group-1
PRIVATE = {"chat": "p10", "private": True, "user": HUNG}


async def _second_commune(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    """Hùng also becomes a leader of Xã Hòa Bình (X2), from his private chat."""
    async with app.db.session() as session:
        from tocns.features.org import store as org_store

        x2 = await org_store.require_unit(session, "X2")
        code = await join_code(session, x2, Role.COMMUNE_LEADER, clock())
    assert "Lãnh đạo xã/phường của Xã Hòa Bình (X2)" in await chat.text(f"/ketnoi {code}", **PRIVATE)


async def test_a_commune_leader_works_from_a_private_chat(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_commune(app, chat, clock)
    await chat.text("/giaoviec 30/11 Nộp báo cáo tháng tất cả", user=HUNG)
    report = await chat.text("/baocao", **PRIVATE)
    assert "BÁO CÁO XÃ TÂN LẬP (mã X1)" in report
    tasks = await chat.text("/nhiemvu", **PRIVATE)
    assert tasks.startswith("Việc chưa xong (1):") and "Nộp báo cáo tháng" in tasks
    # Assigning from the private chat works on the same commune.
    assert "Đã giao việc #2" in await chat.text("/giaoviec 04/12 Họp tổ tổ Thôn 3", **PRIVATE)
    assert "Việc chưa xong (2):" in await chat.text("/nhiemvu", **PRIVATE)


async def test_a_member_sees_and_completes_tasks_privately(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_commune(app, chat, clock)
    await chat.text("/giaoviec 30/11 Hướng dẫn cài VNeID tổ Thôn 3", user=HUNG)
    member = {"chat": "p31", "private": True, "user": "31"}
    assert "Hướng dẫn cài VNeID" in await chat.text("/nhiemvu", **member)
    assert "Đã ghi nhận Thôn 3 hoàn thành việc #1" in await chat.text("/xong 1 đã xong", **member)


async def test_several_units_ask_which_and_take_the_one_named(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_commune(app, chat, clock)
    await _second_commune(app, chat, clock)
    ask = await chat.text("/baocao tuần trước", **PRIVATE)
    assert "Bạn giữ vai trò ở 2 đơn vị; lệnh /baocao cần biết đơn vị nào." in ask
    assert "- /baocao X1 tuần trước — Xã Tân Lập (X1), Lãnh đạo xã/phường" in ask
    assert "- /baocao X2 tuần trước — Xã Hòa Bình (X2), Lãnh đạo xã/phường" in ask
    assert "BÁO CÁO XÃ HÒA BÌNH (mã X2)" in await chat.text("/baocao X2 tuần trước", **PRIVATE)
    # A name without diacritics, with or without its kind word, names the unit too.
    assert "BÁO CÁO XÃ TÂN LẬP" in await chat.text("/baocao xa tan lap", **PRIVATE)
    assert "BÁO CÁO XÃ TÂN LẬP" in await chat.text("/report Tan Lap thang nay", **PRIVATE)
    await chat.text("/giaoviec 30/11 Tập huấn tất cả", user=HUNG)
    assert "cần biết đơn vị nào" in await chat.text("/nhiemvu", **PRIVATE)
    assert "Tập huấn" in await chat.text("/nhiemvu X1", **PRIVATE)
    assert "Không có việc nào đang chờ" in await chat.text("/nhiemvu hoa binh", **PRIVATE)


async def test_status_privately_shows_the_leaders_own_communes(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    await setup_commune(app, chat, clock)
    async with app.db.session() as session:
        from tocns.features.org import store as org_store

        province = await org_store.require_unit(session, "P01")
        code = await join_code(session, province, Role.STAFF, clock())
    await chat.text(f"/ketnoi {code}", user="99", chat="p99", private=True, name="Sở KH&CN")
    assert "Chỉ đạo số 1" in await chat.text("/chidao toàn tỉnh: Rà soát VNeID", user="99", chat="p99", private=True)
    await chat.text("/xacnhan 1", user="99", chat="p99", private=True)
    await chat.text("/danhan 1", user=HUNG)
    status = await chat.text("/tinhtrang 1", **PRIVATE)
    assert "- Xã Tân Lập (X1): đã nhận tin 0/1 nhóm; đã xác nhận (Chủ tịch Hùng, Lãnh đạo xã/phường" in status
    assert "Hòa Bình" not in status
    # A member has no standing to follow a directive.
    assert "Bạn không có quyền dùng lệnh /tinhtrang" in await chat.text(
        "/tinhtrang 1", user="31", chat="p31", private=True
    )


async def test_help_in_a_private_chat_lists_what_works_there(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_commune(app, chat, clock)
    await _second_commune(app, chat, clock)
    help_text = await chat.text("/huongdan", **PRIVATE)
    assert "Các lệnh bạn dùng được trong tin nhắn riêng:" in help_text
    assert "/baocao" in help_text and "/nhiemvu" in help_text and "/tinhtrang" in help_text
    # Joining a team or giving roles needs the group's unit: not offered where they would be refused.
    assert "/thamgia" not in help_text and "/vaitro" not in help_text
    assert "Lãnh đạo xã/phường, Xã Tân Lập (X1); Lãnh đạo xã/phường, Xã Hòa Bình (X2)" in help_text
    assert "ví dụ /baocao X1" in help_text
    in_group = await chat.text("/huongdan", user=HUNG)
    assert "/thamgia" in in_group and "/vaitro" in in_group


async def test_telegram_leader_reads_the_report_privately(
    app: BotApp, settings: Settings, tmp_path: Path, clock: FakeClock
) -> None:
    papp = platform_app(app, platform_settings(settings, tmp_path))
    async with papp.db.session() as session:
        from tests.factories import build_tree

        tree = await build_tree(session)
        code = await join_code(session, tree.commune, Role.COMMUNE_LEADER, clock())
    channels = list(channels_for(papp, None, FakeZaloApi()))
    async with web(papp, channels) as (client, web_app):
        await post_telegram(client, tg_message_update(f"/ketnoi {code}", chat_id=-1001, user_id=10))
        await post_telegram(client, tg_message_update("/giaoviec 30/11 Nộp báo cáo tất cả", chat_id=-1001, user_id=10))
        # Chats are processed in parallel: the private chat's commands come after the group's are done.
        await web_app.state.pipeline.drain()
        await post_telegram(client, tg_message_update("/baocao", chat_id=10, user_id=10))
        await post_telegram(client, tg_message_update("/nhiemvu", chat_id=10, user_id=10))
        await post_telegram(client, tg_message_update("/huongdan", chat_id=10, user_id=10))
        await web_app.state.pipeline.drain()
    report, tasks, help_text = [r.text for r in await outbox(papp, "10")]
    assert "BÁO CÁO XÃ TÂN LẬP (mã X1)" in report
    assert tasks.startswith("Việc chưa xong (1):")
    assert "trong tin nhắn riêng" in help_text and "/thamgia" not in help_text
