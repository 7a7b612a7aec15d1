"""/ghi, /sua, /xoa, /cuatoi and /chitieu through the router, as a member sees them."""

from __future__ import annotations

import json

from sqlmodel import col, select

from tests.factories import LEADER, MEMBER, OTHER_MEMBER, ChatHarness, FakeClock, record_id, setup_group
from tocns.app import BotApp
from tocns.db.audit import audit_trail
from tocns.features.activity.models import ActivityItem, ActivityRecord


async def _records(app: BotApp) -> list[ActivityRecord]:
    async with app.db.session() as session:
        return list((await session.exec(select(ActivityRecord).order_by(col(ActivityRecord.id)))).all())


async def _items(app: BotApp, rid: int) -> list[tuple[str, int]]:
    from tocns.features.activity import store

    async with app.db.session() as session:
        view = await store.get_record(session, rid)
        assert view is not None
        return [(ind.code, item.quantity) for item, ind in view.items]


async def test_ghi_echoes_exactly_what_was_recorded(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_group(app, chat, clock)
    reply = await chat.text(
        "/ghi hom qua dinh danh 5 nguoi, Dịch vụ công: 3 hồ sơ tại nhà văn hóa", user=MEMBER, photo="file-abc"
    )
    rid = record_id(reply)
    assert "Thôn 3 (Xã Tân Lập)" in reply
    assert "ngày 22/11/2026 (Chủ Nhật)" in reply
    assert "- Định danh điện tử VNeID (vneid): 5 người" in reply
    assert "- Hướng dẫn dịch vụ công trực tuyến (dvc): 3 hồ sơ" in reply
    assert "Ghi chú: “tại nhà văn hóa”" in reply
    assert "Ảnh minh chứng: đã nhận, bot đang tải về để lưu" in reply
    assert f"/sua {rid}" in reply and f"/xoa {rid}" in reply
    assert await _items(app, rid) == [("vneid", 5), ("dvc", 3)]
    (record,) = await _records(app)
    assert record.photo == "file-abc" and record.note == "tại nhà văn hóa"
    assert str(record.activity_date) == "2026-11-22"


async def test_rejection_records_nothing(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_group(app, chat, clock)
    reply = await chat.text("/ghi vnied 5", user=MEMBER)
    assert "Không có chỉ tiêu 'vnied'. Có phải bạn muốn ghi 'vneid'" in reply
    assert "Chưa có gì được ghi." in reply and "Ví dụ: /ghi vneid 5" in reply
    assert "Traceback" not in reply
    assert await _records(app) == []


async def test_person_in_no_team_is_asked_to_join(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_group(app, chat, clock)
    reply = await chat.text("/ghi vneid 5", user="77", name="Khách")
    assert "Bạn chưa ở tổ nào trong Xã Tân Lập" in reply and "/thamgia" in reply
    assert await _records(app) == []


async def test_same_message_delivered_twice_gives_one_record(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_group(app, chat, clock)
    first = await chat.text("/ghi vneid 5", user=MEMBER, message_id="m-42")
    again = await chat.text("/ghi vneid 5", user=MEMBER, message_id="m-42")
    assert "Đã ghi #" in first and again == ""
    assert len(await _records(app)) == 1


async def test_sua_replaces_items_and_keeps_audit(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_group(app, chat, clock)
    rid = record_id(await chat.text("/ghi vneid 5, dvc 3", user=MEMBER))
    reply = await chat.text(f"/sua {rid} vneid 6", user=MEMBER)
    assert f"Đã sửa phiếu #{rid}." in reply
    before, after = reply.split("Sau (")
    assert "vneid): 5 người" in before and "dvc): 3 hồ sơ" in before
    assert "vneid): 6 người" in after and "dvc" not in after
    assert await _items(app, rid) == [("vneid", 6)]
    (record,) = await _records(app)
    assert record.updated_at is not None
    async with app.db.session() as session:
        trail = await audit_trail(session, "activity_record", rid)
    assert [a.action for a in trail] == ["create", "edit"]
    assert json.loads(trail[1].before or "{}")["items"] == [
        {"indicator": "vneid", "quantity": 5},
        {"indicator": "dvc", "quantity": 3},
    ]
    assert json.loads(trail[1].after or "{}")["items"] == [{"indicator": "vneid", "quantity": 6}]


async def test_bad_correction_changes_nothing(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_group(app, chat, clock)
    rid = record_id(await chat.text("/ghi vneid 5", user=MEMBER))
    assert "phải lớn hơn 0" in await chat.text(f"/sua {rid} vneid 0", user=MEMBER)
    assert "Thiếu nội dung mới" in await chat.text(f"/sua {rid}", user=MEMBER)
    assert "Thiếu số phiếu" in await chat.text("/sua vneid 5", user=MEMBER)
    assert "Không có phiếu #999" in await chat.text("/sua 999 vneid 5", user=MEMBER)
    assert await _items(app, rid) == [("vneid", 5)]


async def test_xoa_soft_deletes_and_reports_leave_it_out(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_group(app, chat, clock)
    rid = record_id(await chat.text("/ghi vneid 5", user=MEMBER))
    reply = await chat.text(f"/xoa {rid}", user=MEMBER)
    assert f"Đã xóa phiếu #{rid}" in reply and "vneid): 5 người" in reply
    (record,) = await _records(app)
    assert record.deleted_at is not None
    assert "chưa ghi phiếu nào" in await chat.text("/cuatoi", user=MEMBER)
    assert "Không có phiếu" in await chat.text(f"/xoa {rid}", user=MEMBER)
    async with app.db.session() as session:
        trail = await audit_trail(session, "activity_record", rid)
    assert [a.action for a in trail] == ["create", "delete"]


async def test_permissions_of_corrections(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_group(app, chat, clock)
    rid = record_id(await chat.text("/ghi vneid 5", user=MEMBER))
    # Another member of the same team may not touch it.
    assert "Bạn không được sửa phiếu" in await chat.text(f"/sua {rid} vneid 1", user=OTHER_MEMBER)
    assert "Bạn không được xóa phiếu" in await chat.text(f"/xoa {rid}", user=OTHER_MEMBER)
    assert await _items(app, rid) == [("vneid", 5)]
    # Past the window the author may not, the commune leader still may.
    clock.advance(days=40)
    assert "Bạn không được sửa phiếu" in await chat.text(f"/sua {rid} vneid 4", user=MEMBER)
    assert "Đã sửa phiếu" in await chat.text(f"/sua {rid} vneid 4", user=LEADER)
    assert await _items(app, rid) == [("vneid", 4)]


async def test_cuatoi_lists_this_week_with_totals(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_group(app, chat, clock)
    clock.set_local("2026-11-25 10:00")
    await chat.text("/ghi 23/11 vneid 5, dvc 2", user=MEMBER)
    await chat.text("/ghi vneid 3", user=MEMBER)
    await chat.text("/ghi 22/11 vneid 100", user=MEMBER)  # last week's Sunday
    await chat.text("/ghi vneid 7", user=OTHER_MEMBER)
    reply = await chat.text("/cuatoi", user=MEMBER)
    assert "tuần 23/11/2026 - 29/11/2026" in reply
    assert "- Định danh điện tử VNeID: 8 người" in reply
    assert "- Hướng dẫn dịch vụ công trực tuyến: 2 hồ sơ" in reply
    assert "100" not in reply


async def test_chitieu_lists_catalogue(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_group(app, chat, clock)
    reply = await chat.text("/chitieu", user=MEMBER)
    for code in ("dvc", "vneid", "thanhtoan", "tmdt", "nentang", "suckhoe", "bhxh", "attt", "taphuan", "khac"):
        assert f"- {code}: " in reply
    assert "Định danh điện tử VNeID (đơn vị: người)" in reply and "dinh danh" in reply
    items = await _count_items(app)
    assert items == 0


async def _count_items(app: BotApp) -> int:
    async with app.db.session() as session:
        return len((await session.exec(select(ActivityItem))).all())


async def test_a_double_tap_is_not_a_second_record(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_group(app, chat, clock)
    first = await chat.text("/ghi vneid 1", user=MEMBER, message_id="tap-1")
    rid = record_id(first)
    taps = [await chat.text("/ghi vneid 1", user=MEMBER, message_id=f"tap-{n}") for n in range(2, 41)]
    assert all(f"#{rid}" in t and "không ghi thêm" in t and "ghi chú" in t for t in taps), taps[0]
    async with app.db.session() as session:
        assert len((await session.exec(select(ActivityRecord))).all()) == 1
    # Something different, or the same after the window, is a genuine second record.
    assert "Đã ghi #" in await chat.text("/ghi vneid 1 ở nhà văn hóa", user=MEMBER, message_id="tap-x")
    clock.advance(minutes=3)
    assert "Đã ghi #" in await chat.text("/ghi vneid 1", user=MEMBER, message_id="tap-later")


async def test_a_double_tap_compares_the_items_not_their_order(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    # On PostgreSQL the check runs inside the record's statement: the same answers as the check made apart.
    await setup_group(app, chat, clock)
    rid = record_id(await chat.text("/ghi vneid 1, dvc 2", user=MEMBER))
    assert f"#{rid}" in await chat.text("/ghi dvc 2, vneid 1", user=MEMBER)
    assert "Đã ghi #" in await chat.text("/ghi dvc 3, vneid 1", user=MEMBER)  # another quantity
    assert "Đã ghi #" in await chat.text("/ghi vneid 1", user=MEMBER)  # fewer items
    assert "Đã ghi #" in await chat.text("/ghi vneid 1, dvc 2", user=OTHER_MEMBER)  # someone else
    assert "đã xóa" in (await chat.text(f"/xoa {rid}", user=MEMBER)).lower()
    again = record_id(await chat.text("/ghi vneid 1, dvc 2", user=MEMBER))  # the first one is deleted
    assert again > rid
    assert len(await _records(app)) == 5


async def test_tagged_people_are_kept_in_the_note_by_name(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    """Issue 28: a tapped name (Telegram), an OA tag `[@id]` of a person the bot knows and an unknown tag are people
    in the note, never numbers or indicators."""
    from tocns.core.messages import Mention

    await setup_group(app, chat, clock)
    await chat.text("/cuatoi", user=OTHER_MEMBER, name="Lò Thị Hoa")  # the bot now knows this person
    tapped = Mention(user_id="555", display_name="Nguyễn Văn Nam", text="Nam Nguyễn")
    tag = Mention(user_id=OTHER_MEMBER, text=f"[@{OTHER_MEMBER}]")
    reply = await chat.text(
        f"/ghi vneid 4 cùng Nam Nguyễn và [@{OTHER_MEMBER}] ở nhà văn hoá, [@f414c8ab] hỗ trợ",
        user=MEMBER,
        mentions=[tapped, tag],
    )
    rid = record_id(reply)
    assert await _items(app, rid) == [("vneid", 4)]
    (record,) = await _records(app)
    assert record.note == "cùng Nguyễn Văn Nam và Lò Thị Hoa ở nhà văn hoá, người được gắn thẻ hỗ trợ"
