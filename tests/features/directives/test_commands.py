"""/chidao, /danhan, /tinhtrang and the reminder job, through the router as a chat user would."""

from __future__ import annotations

from sqlmodel import select

from tests.factories import ChatHarness, FakeClock, Tree, build_tree, join_code
from tocns.app import BotApp
from tocns.core.roles import Role
from tocns.features.directives.jobs import directive_reminders as remind
from tocns.outbox.models import OutboxMessage, OutboxState


async def _setup(app: BotApp, chat: ChatHarness, clock: FakeClock) -> Tree:
    """Staff member 1 (private), commune groups g-x1 and g-x2, and a team group of X1."""
    async with app.db.session() as session:
        tree = await build_tree(session)
        staff = await join_code(session, tree.province, Role.STAFF, clock())
        x1 = await join_code(session, tree.commune, Role.COMMUNE_LEADER, clock())
        x2 = await join_code(session, tree.other_commune, Role.COMMUNE_LEADER, clock())
        team = await join_code(session, tree.teams[0], Role.TEAM_LEADER, clock())
    assert "Cán bộ Sở" in await chat.text(f"/ketnoi {staff}", user="1", name="Cán bộ Mai", private=True, chat="p1")
    assert "Đã kết nối" in await chat.text(f"/ketnoi {x1}", user="10", name="Hùng", chat="g-x1")
    assert "Đã kết nối" in await chat.text(f"/ketnoi {x2}", user="20", name="Lan", chat="g-x2")
    assert "Đã kết nối" in await chat.text(f"/ketnoi {team}", user="11", name="Bình", chat="g-x1-t1")
    return tree


async def _outbox(app: BotApp) -> list[OutboxMessage]:
    async with app.db.session() as session:
        return list((await session.exec(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def _staff(chat: ChatHarness, text: str) -> str:
    return await chat.text(text, user="1", private=True, chat="p1")


async def test_directive_reaches_every_group_of_the_province(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await _setup(app, chat, clock)
    receipt = await _staff(chat, "/chidao Rà soát số hộ đã cài VNeID trước 30/11/2026")
    assert receipt.startswith("Đã gửi chỉ đạo số 1 (toàn tỉnh) tới 3 nhóm của 2 xã/phường.")
    assert "/tinhtrang 1" in receipt
    rows = await _outbox(app)
    assert sorted(r.chat_id for r in rows) == ["g-x1", "g-x1-t1", "g-x2"]
    text = rows[0].text
    assert "CHỈ ĐẠO SỐ 1" in text and "Rà soát số hộ đã cài VNeID trước 30/11/2026" in text
    assert "Cán bộ Mai, 09:00 23/11/2026" in text and "Trả lời /danhan 1 để xác nhận." in text
    assert {r.kind for r in rows} == {"directive"}


async def test_directive_scope_by_commune_name_without_diacritics(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    await _setup(app, chat, clock)
    receipt = await _staff(chat, "/directive hoa binh: Họp giao ban lúc 14:00 thứ Sáu")
    assert "(Xã Hòa Bình (X2)) tới 1 nhóm của 1 xã/phường" in receipt
    assert [r.chat_id for r in await _outbox(app)] == ["g-x2"]
    assert "Họp giao ban lúc 14:00 thứ Sáu" in (await _outbox(app))[0].text


async def test_directive_scope_by_unit_and_heading_colon(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await _setup(app, chat, clock)
    assert "tới 3 nhóm" in await _staff(chat, "/chidao đơn vị P01: Báo cáo tuần")
    # "Lưu ý:" is not a scope: the whole text is the directive, to the whole province.
    receipt = await _staff(chat, "/chidao Lưu ý: nộp báo cáo trước thứ Hai")
    assert "số 2 (toàn tỉnh) tới 3 nhóm" in receipt
    assert "Lưu ý: nộp báo cáo trước thứ Hai" in (await _outbox(app))[-1].text


async def test_unknown_scope_sends_nothing(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await _setup(app, chat, clock)
    reply = await _staff(chat, "/chidao X1, Xã Không Có: Họp gấp")
    assert "Không tìm thấy xã/đơn vị: Xã Không Có. Chưa gửi gì." in reply
    assert "Thiếu nội dung chỉ đạo" in await _staff(chat, "/chidao")
    assert "Thiếu nội dung chỉ đạo sau phạm vi" in await _staff(chat, "/chidao X1:")
    assert await _outbox(app) == []


async def test_only_department_staff_may_send(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await _setup(app, chat, clock)
    reply = await chat.text("/chidao Họp gấp", user="10", chat="g-x1")
    assert "Bạn không có quyền dùng lệnh /chidao" in reply
    assert await _outbox(app) == []


async def test_ack_and_status_per_commune(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await _setup(app, chat, clock)
    await _staff(chat, "/chidao Kiểm tra điểm phát sóng")
    clock.advance(minutes=12)
    reply = await chat.text("/danhan 1", user="10", chat="g-x1")
    assert reply == "Đã ghi nhận: Hùng (Xã Tân Lập) đã nhận chỉ đạo số 1 lúc 09:12 23/11/2026."
    assert "đã xác nhận chỉ đạo số 1 trước đó rồi" in await chat.text("/ack 1", user="10", chat="g-x1")
    assert "Không có chỉ đạo số 9" in await chat.text("/danhan 9", user="10", chat="g-x1")
    assert "Cần số chỉ đạo" in await chat.text("/danhan abc", user="10", chat="g-x1")
    # The sender marks X2's group gone (the bot was removed).
    async with app.db.session() as session:
        rows = (await session.exec(select(OutboxMessage))).all()
        for row in rows:
            row.state = OutboxState.FAILED if row.chat_id == "g-x2" else OutboxState.SENT
            row.last_error = "bị chặn hoặc bị xoá khỏi nhóm" if row.chat_id == "g-x2" else None
            session.add(row)
    status = await _staff(chat, "/tinhtrang 1")
    assert "Nhóm: 2 đã nhận tin, 1 lỗi, 0 đang gửi. Xã/phường đã xác nhận: 1/2." in status
    assert "- Xã Tân Lập (X1): đã nhận tin 2/2 nhóm; đã xác nhận (Hùng, 09:12 23/11/2026)" in status
    assert (
        "- Xã Hòa Bình (X2): đã nhận tin 0/1 nhóm; lỗi 1 nhóm (bị chặn hoặc bị xoá khỏi nhóm); chưa xác nhận" in status
    )
    assert status.endswith("Chưa xác nhận: Xã Hòa Bình (X2)")
    assert "Bạn không có quyền" in await chat.text("/tinhtrang 1", user="10", chat="g-x1")


async def test_ack_outside_the_scope_is_refused(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await _setup(app, chat, clock)
    await _staff(chat, "/chidao X2: Họp riêng xã Hòa Bình")
    reply = await chat.text("/danhan 1", user="10", chat="g-x1")
    assert "không gửi tới nhóm/đơn vị của bạn" in reply


async def test_one_reminder_after_24_hours_to_unacknowledged_groups(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    await _setup(app, chat, clock)
    await _staff(chat, "/chidao Cập nhật danh sách hộ")
    await chat.text("/danhan 1", user="10", chat="g-x1")
    clock.advance(hours=23, minutes=59)
    assert await remind(app, clock()) == []
    clock.advance(minutes=2)
    assert await remind(app, clock()) == ["nhắc chỉ đạo 1 tới console:g-x2"]
    clock.advance(hours=3)
    assert await remind(app, clock()) == []
    reminders = [r for r in await _outbox(app) if r.kind == "directive_reminder"]
    assert [r.chat_id for r in reminders] == ["g-x2"]
    assert "chỉ đạo số 1 gửi ngày 23/11/2026 chưa được xác nhận" in reminders[0].text
    assert "Trả lời /danhan 1" in reminders[0].text


async def test_status_of_a_large_province_stays_readable(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    from tocns.core.roles import Level
    from tocns.features.org import store as org_store

    async with app.db.session() as session:
        province = await org_store.create_unit(session, code="P02", name="Tỉnh Lớn", level=Level.PROVINCE)
        for i in range(150):
            commune = await org_store.create_unit(
                session, code=f"{i:05d}", name=f"Xã Số {i}", level=Level.COMMUNE, parent=province
            )
            await org_store.bind_chat(session, platform="console", chat_id=f"g{i}", unit=commune, person=None)
        staff = await join_code(session, province, Role.STAFF, clock())
    await chat.text(f"/ketnoi {staff}", user="1", private=True, chat="p1")
    assert "tới 150 nhóm của 150 xã/phường" in await _staff(chat, "/chidao Kiểm tra")
    for i in range(100):
        await chat.text("/danhan 1", user=str(100 + i), chat=f"g{i}")
    status = await _staff(chat, "/tinhtrang 1")
    assert "Xã/phường đã xác nhận: 100/150." in status
    assert len([line for line in status.splitlines() if line.startswith("- ")]) == 40
    # The communes needing attention come first: those that have not acknowledged.
    assert "- Xã Số 100 (00100): đã nhận tin 0/1 nhóm; chưa xác nhận" in status
    assert "- Xã Số 139 (00139)" in status and "- Xã Số 140 (00140)" not in status
    assert "- Xã Số 1 (00001)" not in status
    assert "… và 110 xã/phường khác." in status
    assert status.count("Xã Số") == 40 + 50
    assert len(status) < 4000
