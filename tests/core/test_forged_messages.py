"""No forged messages: what people type is echoed on one quoted line, never as a line of the bot's own."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.factories import MEMBER, ChatHarness, FakeClock, setup_group
from tocns.app import BotApp
from tocns.core.text import one_line, person_name, quoted

FORGED_NOTE = "họp\n\n📢 CHỈ ĐẠO SỐ 7\nCác tổ nộp 200.000đ vào TK 0123456789"
BOT_HEADERS = ("📢", "⏰", "⚠️", "📎", "📊", "✅")


def _no_forged_line(reply: str) -> None:
    for line in reply.splitlines():
        assert not line.lstrip().startswith(BOT_HEADERS), reply


async def test_forged_directive_in_a_note_stays_inside_one_quoted_line(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    await setup_group(app, chat, clock)
    # Numbers in a free note are refused by the /ghi grammar (issue 12); the refusal must not forge a line either.
    _no_forged_line(await chat.text(f"/ghi vneid 1 {FORGED_NOTE}", user=MEMBER))
    wordy = "họp\n\n📢 CHỈ ĐẠO KHẨN\nCác tổ nộp tiền vào tài khoản ngay"
    reply = await chat.text(f"/ghi vneid 1 {wordy}", user=MEMBER)
    assert "Đã ghi #" in reply
    _no_forged_line(reply)
    assert "Ghi chú: “họp 📢 CHỈ ĐẠO KHẨN Các tổ nộp tiền vào tài khoản ngay”" in reply


async def test_forged_header_in_a_display_name_never_starts_a_line(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    await setup_group(app, chat, clock)
    forged = "Lan\n\n📢 CHỈ ĐẠO SỐ 7\nCác tổ nộp tiền"
    for command in ("/ghi vneid 1", "/cuatoi", "/batdau", "/thamgia thon 1"):
        reply = await chat.text(command, user=MEMBER, name=forged)
        _no_forged_line(reply)
        assert "\u202e" not in reply


async def test_team_name_typed_by_a_user_is_quoted_on_one_line(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    await setup_group(app, chat, clock)
    reply = await chat.text("/thamgia xyz\n📢 CHỈ ĐẠO SỐ 7", user="5", name="Mai")
    assert "“xyz 📢 CHỈ ĐẠO SỐ 7”" in reply
    _no_forged_line(reply)


async def test_note_with_nul_is_stored_without_it(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    # PostgreSQL refuses NUL in text: the command used to fail on every retry.
    await setup_group(app, chat, clock)
    reply = await chat.text("/ghi vneid 2 họp\x00 thôn", user=MEMBER, name="Lan\x00")
    assert "Đã ghi #" in reply
    assert "\x00" not in reply
    assert "Đã ghi #" in await chat.text("/ghi vneid 1 \ud800 lẻ", user=MEMBER)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/xoa ²", "Thiếu số phiếu cần xóa"),
        ("/sua ² vneid 1", "Thiếu số phiếu cần sửa"),
        ("/sua 99999999999 vneid 1", "Không có phiếu #99999999999"),
        ("/xoa 2147483648", "Không có phiếu #2147483648"),
        ("/xoa " + "9" * 3000, "Thiếu số phiếu cần xóa"),
        ("/xong ²", "Thiếu mã việc"),
        ("/xong 99999999999", "Không có việc #99999999999"),
        ("/huyviec 99999999999", "Không có việc #99999999999"),
        ("/caidat baolanhdao ²", "phải từ 1 đến 30 (bạn ghi '²')"),
    ],
)
async def test_odd_numbers_get_a_clear_answer(
    app: BotApp, chat: ChatHarness, clock: FakeClock, command: str, expected: str
) -> None:
    await setup_group(app, chat, clock)
    user = "9" if command.startswith(("/caidat", "/huyviec")) else MEMBER
    reply = await chat.text(command, user=user)
    assert expected in reply, reply


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("họp\n\n📢 CHỈ ĐẠO", "họp 📢 CHỈ ĐẠO"),
        ("a\r\nb\tc", "a b c"),
        ("abc\u202edef\u2066x\u2069", "abc def x"),
        ("x\u2028y\u2029z", "x y z"),
        ("\x00\x1b[31mred", "[31mred"),
        ("zero\u200bwidth", "zero width"),
        ("👨\u200d👩\u200d👧", "👨\u200d👩\u200d👧"),
        ("  ", ""),
        (None, ""),
    ],
)
def test_one_line_examples(raw: str | None, folded: str) -> None:
    assert one_line(raw) == folded


@given(st.text())
def test_one_line_is_one_printable_capped_line(text: str) -> None:
    folded = one_line(text, 50)
    assert "\n" not in folded and "\r" not in folded
    assert len(folded) <= 50
    assert not any(ch in folded for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\x00\u2028")
    assert quoted(text, 50).startswith("“") and quoted(text, 50).endswith("”")
    assert person_name(text)


def test_a_typed_mention_marker_never_enters_the_core() -> None:
    from tocns.core.mentions import has_mentions
    from tocns.core.messages import IncomingMessage

    typed = "/giaoviec 05/12 Họp \x1d12345\x1fuser\x1fMai\x1e"
    msg = IncomingMessage(platform="telegram", chat_id="-1", user_id="1", display_name="Lan", text=typed)
    assert not has_mentions(msg.text) and msg.text == "/giaoviec 05/12 Họp 12345userMai"
