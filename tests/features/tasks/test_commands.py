"""Chat commands for tasks: /giaoviec, /nhiemvu, /xong, /huyviec, /caidat and their permissions."""

from __future__ import annotations

import pytest
from sqlmodel import select

from tests.factories import ChatHarness, FakeClock, setup_commune
from tocns.app import BotApp
from tocns.core.mentions import render_plain
from tocns.features.tasks.models import Task


async def _tasks(app: BotApp) -> list[Task]:
    async with app.db.session() as session:
        return list((await session.exec(select(Task))).all())


async def test_leader_assigns_team_task_and_team_completes(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_commune(app, chat, clock)
    reply = await chat.text("/giaoviec 27/11 Hướng dẫn cài VNeID tổ Thôn 1", user="10")
    assert "Đã giao việc #1: “Hướng dẫn cài VNeID" in reply
    assert "Hạn: Thứ Sáu, 27/11/2026" in reply
    assert "Người nhận: Thôn 1" in reply
    assert "#1 Hướng dẫn cài VNeID" in await chat.text("/nhiemvu", user="21")
    assert "Không có việc nào" in await chat.text("/nhiemvu", user="31")
    assert "không giao cho bạn" in await chat.text("/xong 1", user="31")
    reply = await chat.text("/xong 1 đã hướng dẫn 40 hộ", user="21")
    assert "Đã ghi nhận Thôn 1 hoàn thành việc #1" in reply and "(1/1 xong)" in reply
    assert "đã được báo xong" in await chat.text("/xong 1", user="20")
    assert "Không có việc nào" in await chat.text("/nhiemvu", user="21")


async def test_deadline_forms_without_diacritics(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_commune(app, chat, clock)
    # The clock is Monday 23/11/2026.
    assert "30/11/2026" in await chat.text("/giaoviec cuoi thang Nộp báo cáo tat ca", user="10")
    assert "Thứ Sáu, 27/11/2026" in await chat.text("/task thu 6 Rà soát hộ @binh", user="10")
    assert "Thứ Sáu, 04/12/2026" in await chat.text("/giaoviec thứ sáu tuần sau Họp tổ tổ Thôn 3", user="10")
    assert "05/01/2027" in await chat.text("/giaoviec 05/01 Tổng kết năm tất cả", user="10")
    reply = await chat.text("/giaoviec 31/02/2027 Sai ngày tất cả", user="10")
    assert "không có thật" in reply
    assert "đã qua" in await chat.text("/giaoviec 01/11/2026 Việc cũ tất cả", user="10")
    assert "Thiếu người nhận" in await chat.text("/giaoviec 30/11 Việc không ai nhận", user="10")
    assert len(await _tasks(app)) == 4


async def test_commune_task_is_completed_per_team(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_commune(app, chat, clock)
    assert "tất cả 3 tổ" in await chat.text("/giaoviec 30/11 Nộp báo cáo tháng tất cả", user="10")
    assert "(1/3 xong)" in await chat.text("/xong 1", user="31")
    listing = await chat.text("/nhiemvu", user="10")
    assert "chưa xong: Thôn 1 (@minh), Bản Nà Hin" not in listing  # labels in lists are plain names
    assert "chưa xong: Thôn 1, Bản Nà Hin" in listing and "1/3 xong" in listing


async def test_members_cannot_create_or_cancel(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_commune(app, chat, clock)
    assert "không có quyền" in await chat.text("/giaoviec 30/11 Việc tất cả", user="21")
    await chat.send("/giaoviec 30/11 Việc của xã tất cả", user="10")
    assert "không có quyền" in await chat.text("/huyviec 1", user="21")
    assert len(await _tasks(app)) == 1


async def test_team_leader_acts_only_within_own_team(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_commune(app, chat, clock)
    assert "không phải tổ của bạn" in await chat.text("/giaoviec 30/11 Việc tổ Thôn 3", user="20")
    assert "không thuộc tổ bạn" in await chat.text("/giaoviec 30/11 Việc @binh", user="20")
    assert "Chỉ lãnh đạo xã" in await chat.text("/giaoviec 30/11 Việc tất cả", user="20")
    assert "Đã giao việc #1" in await chat.text("/giaoviec 30/11 Dán tờ rơi @Lan", user="20")
    await chat.send("/giaoviec 30/11 Việc của xã tất cả", user="10")
    assert "Chỉ người giao việc #2" in await chat.text("/huyviec 2", user="20")
    assert "Đã huỷ việc #1" in await chat.text("/huyviec 1", user="20")
    assert "Đã huỷ việc #2" in await chat.text("/huyviec 2", user="10")
    assert "Không có việc nào" in await chat.text("/nhiemvu", user="10")


async def test_month_plan(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_commune(app, chat, clock)
    reply = await chat.text(
        "/giaoviec thang 12/2026\n15/12 Hướng dẫn dịch vụ công tất cả\nNộp báo cáo tháng\n10/12 Họp tổ tổ Thôn 3",
        user="10",
    )
    assert "Đã lập kế hoạch tháng 12/2026" in reply and "3 việc" in reply
    assert "#2 · Nộp báo cáo tháng · hạn 31/12/2026" in reply
    await chat.send("/xong 3", user="31")
    view = await chat.text("/nhiemvu thang 12/2026", user="21")
    assert "✅ #3 Họp tổ" in view and "⬜ #1 Hướng dẫn dịch vụ công" in view
    bad = await chat.text("/giaoviec thang 12/2026\nViệc tốt\n05/01/2027 Việc sai tháng", user="10")
    assert "Dòng 2" in bad and "không thuộc tháng 12/2026" in bad
    assert len(await _tasks(app)) == 3


async def test_caidat_lead_days(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_commune(app, chat, clock)
    shown = await chat.text("/caidat", user="10")
    assert "3 ngày trước, 1 ngày trước, đúng ngày hạn" in shown
    # The overdue cadence it announces is the one the reminder job keeps (not "every day").
    assert "khi quá hạn: sau 1, 3, 7, 14, 21, 28 ngày rồi chỉ nêu trong bản tổng hợp" in shown
    assert "Đã lưu" in await chat.text("/caidat nhac 2, 0", user="10")
    assert "2 ngày trước, đúng ngày hạn" in await chat.text("/caidat", user="10")
    refused = await chat.text("/caidat nhac hai", user="10")
    assert refused.startswith("'hai' không đọc được") or "không đọc được" in refused.splitlines()[0], refused
    assert refused.count("Cách dùng") == 1, refused  # the reason first, the usage once
    both = await chat.text("/caidat nhac 5,2,0 baolanhdao 1", user="10")
    assert "Đã lưu" in both and "5 ngày trước, 2 ngày trước, đúng ngày hạn" in both and "quá hạn 1 ngày" in both
    assert "không có quyền" in await chat.text("/caidat nhac 1", user="20")


async def test_caidat_is_one_command_for_reminders_and_households(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    """The households form comes from the targets feature (wired by tocns.app): one usage, each form its own."""
    await setup_commune(app, chat, clock)
    refused = await chat.text("/caidat nhac hai", user="10")
    assert "/caidat nhac 3,1,0 baolanhdao 2" in refused and "/caidat tổ Thôn 3 hộ 120 người lớn 400" in refused
    assert "Đã lưu Thôn 1: 120 hộ" in await chat.text("/caidat tổ Thôn 1 hộ 120", user="10")
    assert "3 ngày trước, 1 ngày trước, đúng ngày hạn" in await chat.text("/caidat", user="10")


async def test_a_deadline_on_a_public_holiday_is_accepted_with_a_warning(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    await setup_commune(app, chat, clock)
    reply = await chat.text("/giaoviec 24/11 Trực điểm tuyên truyền tất cả", user="10")
    assert "Đã giao việc #1" in reply
    assert "Hạn: Thứ Ba, 24/11/2026\nLưu ý: hạn rơi vào ngày nghỉ lễ (Ngày Văn hóa Việt Nam)." in reply
    assert "Lưu ý" not in await chat.text("/giaoviec 25/11 Họp tổ tất cả", user="10")


async def _said(chat: ChatHarness, text: str, **kwargs: str) -> str:
    """A reply as the person reads it: named people as names, ordinary spaces."""
    return render_plain(await chat.text(text, **kwargs)).replace("\xa0", " ")


@pytest.mark.parametrize("platform", ["console", "telegram", "zalo", "zalo_oa", "gapowork"])
async def test_people_are_named_by_whole_names_or_whole_words(app: BotApp, clock: FakeClock, platform: str) -> None:
    """Typed names, no tap: the same on every platform (on Telegram a tap is also possible, tested elsewhere)."""
    chat = ChatHarness(app, platform=platform)
    await setup_commune(app, chat, clock)
    await chat.send("/thamgia thon 3", user="40", name="Bế Thị Hoa")
    await chat.send("/thamgia thon 3", user="41", name="Hoàng Văn Tùng")
    await chat.send("/thamgia thon 1", user="42", name="Nguyễn Thị Hoa")
    # The full name of several words, typed without a tap.
    full = await _said(chat, "/giaoviec 30/11 Rà soát hộ nghèo @Bế Thị Hoa", user="10")
    assert "Bế Thị Hoa" in full and "Rà soát hộ nghèo" in full and "Thiếu người" not in full, full
    # A whole word of one name: "Tùng" is Hoàng Văn Tùng.
    assert "Hoàng Văn Tùng" in await _said(chat, "/giaoviec 30/11 Cài VNeID @Tùng", user="10")
    # A fragment of a word never matches: "Hoan" is not "Hoàng".
    fragment = await _said(chat, "/giaoviec 30/11 Cài VNeID @Hoan", user="10")
    assert "Không tìm thấy người" in fragment and "@Hoan" in fragment, fragment
    # An ambiguous word lists the candidates with a way to pick.
    ambiguous = await _said(chat, "/giaoviec 30/11 Cài VNeID @Hoa", user="10")
    assert "Có 2 người khớp" in ambiguous and "1. @" in ambiguous and "2. @" in ambiguous, ambiguous
    assert "Bế Thị Hoa" in ambiguous and "Nguyễn Thị Hoa" in ambiguous and "Tùng" not in ambiguous
    # Several people, one of them with a several-word name.
    both = await _said(chat, "/giaoviec 30/11 Họp tổ @Nguyễn Thị Hoa @Tùng", user="10")
    assert "Nguyễn Thị Hoa" in both and "Hoàng Văn Tùng" in both, both
    # An unknown team is named in the refusal.
    unknown = await _said(chat, "/giaoviec 30/11 Họp tổ Thôn 9", user="10")
    assert "Không tìm thấy tổ" in unknown and "Thôn 9" in unknown and "Thôn 1" in unknown, unknown


async def test_a_deadline_without_a_year_is_the_next_such_day_within_six_months(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    await setup_commune(app, chat, clock)
    clock.set_local("2026-12-06 09:00")
    past = await _said(chat, "/giaoviec 01/12 Nộp báo cáo tổ Thôn 1", user="10")
    assert "01/12 đã qua; ý bạn là 01/12/2027?" in past and "Đã giao" not in past, past
    long_past = await _said(chat, "/giaoviec 30/07 Tổng kết tổ Thôn 1", user="10")
    assert "30/07 đã qua; ý bạn là 30/07/2027?" in long_past, long_past
    january = await _said(chat, "/giaoviec 15/01 Rà soát hộ nghèo tổ Thôn 1", user="10")
    assert "Hạn: Thứ Sáu, 15/01/2027" in january, january
    assert "Hạn: Thứ Tư, 01/12/2027" in await _said(chat, "/giaoviec 01/12/2027 Tổng kết năm tổ Thôn 1", user="10")
    clock.set_local("2027-01-05 09:00")
    far = await _said(chat, "/giaoviec 30/11 Tổng kết tổ Thôn 1", user="10")
    assert "30/11 còn hơn 6 tháng nữa (30/11/2027)" in far and "Đã giao" not in far, far
