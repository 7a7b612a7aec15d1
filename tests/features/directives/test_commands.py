"""/chidao, /danhan, /tinhtrang and the reminder job, through the router as a chat user would."""

from __future__ import annotations

from sqlmodel import select

from tests.factories import ChatHarness, FakeClock, Tree, build_tree, count_statements, join_code
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


async def _send(chat: ChatHarness, text: str) -> str:
    """/chidao, then /xacnhan when the directive reaches several communes and waits for confirmation."""
    reply = await _staff(chat, text)
    if "/xacnhan " in reply:
        number = reply.split("/xacnhan ")[1].split()[0]
        reply = await _staff(chat, f"/xacnhan {number}")
    return reply


async def test_directive_reaches_every_group_of_the_province(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await _setup(app, chat, clock)
    receipt = await _send(chat, "/chidao toàn tỉnh: Rà soát số hộ đã cài VNeID trước 30/11/2026")
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
    assert "tới 3 nhóm" in await _send(chat, "/chidao đơn vị P01: Báo cáo tuần")
    # The scope comes first and is required: a heading after it stays in the text.
    receipt = await _send(chat, "/chidao toàn tỉnh: Lưu ý: nộp báo cáo trước thứ Hai")
    assert "số 2 (toàn tỉnh) tới 3 nhóm" in receipt
    assert "Lưu ý: nộp báo cáo trước thứ Hai" in (await _outbox(app))[-1].text


async def test_unknown_scope_sends_nothing(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await _setup(app, chat, clock)
    reply = await _staff(chat, "/chidao X1, Xã Không Có: Họp gấp")
    assert "Không tìm thấy xã/đơn vị «Xã Không Có»." in reply and "Chưa gửi gì." in reply
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
    await _send(chat, "/chidao toàn tỉnh: Kiểm tra điểm phát sóng")
    clock.advance(minutes=12)
    reply = await chat.text("/danhan 1", user="10", chat="g-x1")
    assert reply == "Đã ghi nhận: Hùng (Lãnh đạo xã/phường, Xã Tân Lập) đã nhận chỉ đạo số 1 lúc 09:12 23/11/2026."
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
    assert "- Xã Tân Lập (X1): đã nhận tin 2/2 nhóm; đã xác nhận (Hùng, Lãnh đạo xã/phường, 09:12 23/11/2026)" in status
    assert (
        "- Xã Hòa Bình (X2): đã nhận tin 0/1 nhóm; lỗi 1 nhóm (bị chặn hoặc bị xoá khỏi nhóm); chưa xác nhận" in status
    )
    assert status.endswith("Chưa xác nhận: Xã Hòa Bình (X2)")
    # A commune leader follows their own commune's part, and nothing of the other communes (docs/private-chats.md).
    own = await chat.text("/tinhtrang 1", user="10", chat="g-x1")
    assert "- Xã Tân Lập (X1): đã nhận tin 2/2 nhóm; đã xác nhận (Hùng" in own and "Hòa Bình" not in own


async def test_no_reminder_to_a_group_the_directive_never_reached(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    await _setup(app, chat, clock)
    await _send(chat, "/chidao toàn tỉnh: Rà soát thuê bao")
    async with app.db.session() as session:
        for row in (await session.exec(select(OutboxMessage))).all():
            row.state = OutboxState.FAILED if row.chat_id == "g-x2" else OutboxState.SENT
            session.add(row)
    clock.advance(hours=24, minutes=1)
    # X2 did not acknowledge, but its group is gone (the bot was removed): a reminder would fail the same way.
    lines = sorted(await remind(app, clock()))
    assert lines == ["nhắc chỉ đạo 1 tới console:g-x1", "nhắc chỉ đạo 1 tới console:g-x1-t1"]


async def test_ack_outside_the_scope_is_refused(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await _setup(app, chat, clock)
    await _staff(chat, "/chidao X2: Họp riêng xã Hòa Bình")
    reply = await chat.text("/danhan 1", user="10", chat="g-x1")
    assert "không gửi tới nhóm/đơn vị của bạn" in reply


async def test_one_reminder_after_24_hours_to_unacknowledged_groups(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    await _setup(app, chat, clock)
    await _send(chat, "/chidao toàn tỉnh: Cập nhật danh sách hộ")
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
            if i < 100:  # a commune leader who acknowledges
                leader = await org_store.upsert_person(
                    session, platform="console", user_id=str(100 + i), display_name=f"Lãnh đạo {i}"
                )
                await org_store.set_membership(session, person=leader, unit=commune, role=Role.COMMUNE_LEADER)
        staff = await join_code(session, province, Role.STAFF, clock())
    await chat.text(f"/ketnoi {staff}", user="1", private=True, chat="p1")
    assert "tới 150 nhóm của 150 xã/phường" in await _send(chat, "/chidao toàn tỉnh: Kiểm tra")
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


async def _other_province(app: BotApp, clock: FakeClock) -> None:
    """Province P09 with its own "Xã Tân Lập" (X9) and a bound group g-x9."""
    from tocns.core.roles import Level
    from tocns.features.org import store as org_store

    async with app.db.session() as session:
        province = await org_store.create_unit(session, code="P09", name="Tỉnh Khác", level=Level.PROVINCE)
        commune = await org_store.create_unit(
            session, code="X9", name="Xã Tân Lập", level=Level.COMMUNE, parent=province
        )
        await org_store.bind_chat(session, platform="console", chat_id="g-x9", unit=commune, person=None)


async def test_a_misspelt_commune_refuses_the_whole_directive(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await _setup(app, chat, clock)
    reply = await _staff(chat, "/chidao Hoa Binh, Tan Lapp: Họp giao ban")
    assert "Không tìm thấy xã/đơn vị «Tan Lapp». Có phải: Xã Tân Lập (X1)?" in reply
    assert "Chưa gửi gì." in reply
    # Without a scope nothing goes to the whole province: "toàn tỉnh" must be written.
    reply = await _staff(chat, "/chidao Lưu ý: nộp báo cáo trước thứ Hai")
    assert "Không tìm thấy xã/đơn vị «Lưu ý»" in reply
    assert "Hãy ghi phạm vi" in await _staff(chat, "/chidao Họp giao ban chiều nay")
    assert await _outbox(app) == []


async def test_scope_stays_within_the_senders_province(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await _setup(app, chat, clock)
    await _other_province(app, clock)
    # "Tân Lập" exists in both provinces: the sender's own is meant.
    assert "Xã Tân Lập (X1)) tới 2 nhóm" in await _staff(chat, "/chidao Tân Lập: Họp")
    reply = await _staff(chat, "/chidao X9: Họp")
    assert "Chỉ gửi được tới các xã thuộc Tỉnh Thử (P01); ngoài phạm vi: Xã Tân Lập (X9)." in reply
    preview = await _staff(chat, "/chidao toàn tỉnh: Họp toàn tỉnh")
    assert "sẽ gửi tới 3 nhóm của 2 xã/phường" in preview
    await _staff(chat, "/xacnhan 2")
    assert "g-x9" not in [r.chat_id for r in await _outbox(app)]


async def test_wide_directive_waits_for_its_author_to_confirm(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    tree = await _setup(app, chat, clock)
    preview = await _staff(chat, "/chidao X1, X2: Họp giao ban")
    assert preview == (
        "Chỉ đạo số 1 (Xã Tân Lập (X1), Xã Hòa Bình (X2)) sẽ gửi tới 3 nhóm của 2 xã/phường: Xã Tân Lập (X1), "
        "Xã Hòa Bình (X2).\nGõ /xacnhan 1 trong 10 phút để gửi, hoặc /thuhoi 1 để huỷ. Chưa gửi gì."
    )
    assert await _outbox(app) == []
    async with app.db.session() as session:
        other = await join_code(session, tree.province, Role.STAFF, clock())
    await chat.text(f"/ketnoi {other}", user="2", name="Cán bộ Nam", private=True, chat="p2")
    refused = await chat.text("/xacnhan 1", user="2", private=True, chat="p2")
    assert refused == "Chỉ người soạn chỉ đạo số 1 mới xác nhận gửi được."
    assert "Không có chỉ đạo số 1." in await chat.text("/tinhtrang 1", user="2", private=True, chat="p2")
    assert await _outbox(app) == []
    assert "đang chờ xác nhận" in await _staff(chat, "/tinhtrang 1")
    assert (await _staff(chat, "/xacnhan 1")).startswith("Đã gửi chỉ đạo số 1 (Xã Tân Lập (X1), Xã Hòa Bình (X2))")
    assert len(await _outbox(app)) == 3
    assert "đã được gửi rồi" in await _staff(chat, "/xacnhan 1")
    assert len(await _outbox(app)) == 3
    await _staff(chat, "/chidao toàn tỉnh: Họp lần hai")
    clock.advance(minutes=11)
    expired = await _staff(chat, "/xacnhan 2")
    assert "Chỉ đạo số 2 đã quá 10 phút chưa xác nhận nên hết hạn. Chưa gửi gì." in expired
    assert len(await _outbox(app)) == 3


async def test_recall_cancels_pending_sends_and_notifies_groups_that_got_it(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    tree = await _setup(app, chat, clock)
    await _send(chat, "/chidao toàn tỉnh: Nộp số liệu trước 15:00")
    async with app.db.session() as session:
        row = (await session.exec(select(OutboxMessage).where(OutboxMessage.chat_id == "g-x2"))).one()
        row.state = OutboxState.SENT
        session.add(row)
    assert "Bạn không có quyền dùng lệnh /thuhoi" in await chat.text("/thuhoi 1", user="10", chat="g-x1")
    reply = await _staff(chat, "/thuhoi 1")
    assert reply == "Đã thu hồi chỉ đạo số 1: huỷ 2 tin chưa gửi, gửi thông báo thu hồi tới 1 nhóm đã nhận."
    rows = await _outbox(app)
    assert {r.chat_id: r.state for r in rows if r.kind == "directive"} == {
        "g-x1": OutboxState.CANCELLED,
        "g-x1-t1": OutboxState.CANCELLED,
        "g-x2": OutboxState.SENT,
    }
    notices = [r for r in rows if r.kind == "directive_recall"]
    assert [r.chat_id for r in notices] == ["g-x2"] and "Chỉ đạo số 1 đã được thu hồi" in notices[0].text
    assert "đã được thu hồi trước đó" in await _staff(chat, "/thuhoi 1")
    assert "đã bị thu hồi" in await chat.text("/danhan 1", user="20", chat="g-x2")
    clock.advance(hours=25)
    assert await remind(app, clock()) == []
    assert "ĐÃ THU HỒI" in await _staff(chat, "/tinhtrang 1")
    await _send(chat, "/chidao X2: Họp")
    async with app.db.session() as session:
        other = await join_code(session, tree.province, Role.STAFF, clock())
    await chat.text(f"/ketnoi {other}", user="2", name="Cán bộ Nam", private=True, chat="p2")
    refused = await chat.text("/thuhoi 2", user="2", private=True, chat="p2")
    assert refused == "Chỉ người gửi chỉ đạo số 2 mới thu hồi được."


async def test_recalling_a_pending_directive_sends_nothing(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await _setup(app, chat, clock)
    await _staff(chat, "/chidao toàn tỉnh: Họp nhầm")
    assert await _staff(chat, "/thuhoi 1") == "Đã huỷ chỉ đạo số 1; chưa gửi tới nhóm nào."
    assert "đã bị huỷ/thu hồi" in await _staff(chat, "/xacnhan 1")
    assert await _outbox(app) == []


async def test_only_people_with_a_role_in_the_commune_acknowledge(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    await _setup(app, chat, clock)
    await _staff(chat, "/chidao X1: Kiểm tra")
    reply = await chat.text("/danhan 1", user="99", name="Người lạ", chat="g-x1")
    assert "Bạn chưa giữ vai trò nào ở Xã Tân Lập" in reply and "Chưa ghi nhận." in reply
    status = await _staff(chat, "/tinhtrang 1")
    assert "Xã/phường đã xác nhận: 0/1." in status and "Người lạ" not in status
    # A team leader of the commune acknowledges for it, and /tinhtrang names the role.
    assert "Đã ghi nhận: Bình (Tổ trưởng" in await chat.text("/danhan 1", user="11", chat="g-x1-t1")
    status = await _staff(chat, "/tinhtrang 1")
    assert "Xã/phường đã xác nhận: 1/1." in status and "đã xác nhận (Bình, " in status


async def test_urgent_directive_is_marked(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    from tocns.features.directives.models import Directive

    await _setup(app, chat, clock)
    assert "Đã gửi chỉ đạo số 1 (Xã Hòa Bình (X2))" in await _staff(chat, "/chidao khẩn: X2: Bão số 3, sơ tán ngay")
    async with app.db.session() as session:
        directive = (await session.exec(select(Directive))).one()
    assert directive.urgent and directive.text == "Bão số 3, sơ tán ngay"


async def test_preview_counts_the_groups_and_names_communes_no_group_reaches(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    """Before confirming, the author sees how many groups will be notified, not only how many communes."""
    from tocns.core.roles import Level
    from tocns.features.org import store as org_store

    tree = await _setup(app, chat, clock)
    async with app.db.session() as session:
        await org_store.create_unit(session, code="X3", name="Xã Khe Sanh", level=Level.COMMUNE, parent=tree.province)
    preview = await _staff(chat, "/chidao toàn tỉnh: Họp giao ban")
    # The communes whose groups receive it first, then the ones that will not.
    assert preview.startswith(
        "Chỉ đạo số 1 (toàn tỉnh) sẽ gửi tới 3 nhóm của 2 xã/phường: Xã Tân Lập (X1), Xã Hòa Bình (X2).\n"
    )
    assert "\nKhông nhận được (chưa có nhóm kết nối): 1 xã/phường: Xã Khe Sanh (X3).\n" in preview
    assert await _outbox(app) == []
    assert "tới 3 nhóm của 2 xã/phường" in await _staff(chat, "/xacnhan 1")


async def test_scopes_are_capped_with_a_clear_refusal(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await _setup(app, chat, clock)
    # Thousands of unknown names took 38 s and answered 126 KB: refused at once, before any name is looked up.
    many = ", ".join(f"Xã {i}" for i in range(400))
    reply = await _staff(chat, f"/chidao {many}: Họp gấp")
    assert reply.startswith("Phạm vi dài quá (") and "tối đa 200 tên và 2000 ký tự" in reply
    assert "Chưa gửi gì." in reply and len(reply) < 1000
    names = ", ".join(["X1"] * 201)
    assert "tối đa 200 tên" in await _staff(chat, f"/chidao {names}: Họp")
    assert "Phạm vi dài quá (2001 ký tự" in await _staff(chat, f"/chidao {'x' * 2001}: Họp")
    # Within the caps, unknown names are refused too, the first ten explained and the rest counted.
    unknown = ", ".join(f"Xã Không Có {i}" for i in range(30))
    reply = await _staff(chat, f"/chidao {unknown}: Họp")
    assert reply.count("Không tìm thấy xã/đơn vị") == 10 and "… và 20 tên khác" in reply
    assert await _outbox(app) == []
    # 200 names that exist are accepted (each unit once).
    reply = await _send(chat, f"/chidao {', '.join(['X1', 'X2'] * 100)}: Họp")
    assert "(Xã Tân Lập (X1), Xã Hòa Bình (X2)) tới 3 nhóm của 2 xã/phường" in reply


async def test_replies_say_exactly_what_happens(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    """A time in the text is not the scope's colon; a directive held by the quiet hours says when it goes; an
    urgent one says so where it arrives."""
    await _setup(app, chat, clock)
    no_scope = await _staff(chat, "/chidao Họp giao ban trực tuyến 14:00 thứ Sáu")
    assert no_scope.startswith("Hãy ghi phạm vi trước dấu hai chấm"), no_scope
    assert "Không tìm thấy" not in no_scope
    timed = await _staff(chat, "/chidao X1: Họp giao ban trực tuyến 14:00 thứ Sáu")
    assert timed.startswith("Đã gửi chỉ đạo số 1"), timed
    clock.set_local("2026-11-24 06:08")
    held = await _staff(chat, "/chidao X1: Rà soát hộ nghèo")
    assert held.startswith("Đã xếp hàng chỉ đạo số 2"), held
    assert "sẽ tới các nhóm lúc 07:00 24/11/2026" in held and "khẩn:" in held
    preview = await _staff(chat, "/chidao toàn tỉnh: Rà soát hộ nghèo")
    assert "sẽ tới các nhóm lúc 07:00" in preview
    urgent = await _staff(chat, "/chidao khẩn: X1: Phòng chống bão")
    assert urgent.startswith("Đã gửi chỉ đạo số 4") and "giờ nghỉ" not in urgent
    rows = [r for r in await _outbox(app) if "Phòng chống bão" in r.text]
    assert rows and all(r.text.startswith("🚨 KHẨN — 📢 CHỈ ĐẠO SỐ 4") for r in rows)


async def test_a_national_preview_says_how_long_sending_takes_and_what_paid_broadcast_costs(
    app: BotApp, clock: FakeClock
) -> None:
    """Before confirming a directive to hundreds of groups, staff see how long it takes at Telegram's pace, and with
    the paid broadcast on, how many Stars it costs."""
    from tests.factories import bound_groups
    from tocns.features.org import store as org_store

    await bound_groups(app.db, 400)
    async with app.db.session() as session:
        province = await org_store.get_unit_by_code(session, "P01")
        assert province is not None
        code = await join_code(session, province, Role.STAFF, clock())
    chat = ChatHarness(app, platform="telegram")
    await chat.text(f"/ketnoi {code}", user="7", name="Cán bộ Mai", chat="-999")
    preview = await chat.text("/chidao toàn tỉnh: Rà soát VNeID", user="7", chat="-999")
    assert "tới 400 nhóm" in preview
    assert "Thời gian gửi dự kiến: khoảng 14 giây (Telegram tối đa 30 tin/giây)." in preview
    assert "Stars" not in preview
    paid = app.settings.model_copy(update={"telegram_paid_broadcast": True})
    from collections import Counter

    from tocns.features.directives.service import sending_estimate

    assert sending_estimate(Counter(telegram=80_000), paid) == [
        "Thời gian gửi dự kiến: khoảng 2 phút (Telegram tối đa 1.000 tin/giây).",
        "Telegram gửi nhanh có phí (allow_paid_broadcast): tối đa 8.000 Telegram Stars (80.000 tin × 0,1 Star), trừ "
        "vào số dư Stars của bot.",
    ]
    assert sending_estimate(Counter(telegram=80_000), app.settings) == [
        "Thời gian gửi dự kiến: khoảng 45 phút (Telegram tối đa 30 tin/giây)."
    ]


async def test_reminders_to_many_groups_go_once_each_in_the_same_statements(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    from tocns.core.roles import Level
    from tocns.features.org import store as org_store

    counts = []
    for number, size in ((1, 3), (2, 60)):
        async with app.db.session() as session:
            province = await org_store.create_unit(
                session, code=f"P{number}", name=f"Tỉnh {number}", level=Level.PROVINCE
            )
            for i in range(size):
                commune = await org_store.create_unit(
                    session, code=f"{number}{i:04d}", name=f"Xã {number}-{i}", level=Level.COMMUNE, parent=province
                )
                await org_store.bind_chat(
                    session, platform="console", chat_id=f"g{number}-{i}", unit=commune, person=None
                )
            staff = await join_code(session, province, Role.STAFF, clock())
        await chat.text(f"/ketnoi {staff}", user=f"s{number}", private=True, chat=f"p{number}")
        staff_chat = {"user": f"s{number}", "private": True, "chat": f"p{number}"}
        reply = await chat.text(f"/chidao toàn tỉnh: Kiểm tra {number}", **staff_chat)
        if "/xacnhan " in reply:
            reply = await chat.text(f"/xacnhan {reply.split('/xacnhan ')[1].split()[0]}", **staff_chat)
        assert f"tới {size} nhóm của {size} xã/phường" in reply, reply
        clock.advance(hours=24, minutes=1)
        seen, stop = count_statements(app)
        try:
            lines = await remind(app, clock())
        finally:
            stop()
        assert len(lines) == size and len(set(lines)) == size, lines
        counts.append(len(seen))
        assert await remind(app, clock()) == []  # once per group
    reminders = [r for r in await _outbox(app) if r.kind == "directive_reminder"]
    assert sorted(r.chat_id for r in reminders) == sorted(
        [f"g1-{i}" for i in range(3)] + [f"g2-{i}" for i in range(60)]
    )
    # A directive to every commune of the country is one INSERT per batch of groups, not one per group.
    assert counts[0] == counts[1], counts
