"""The console reads a multi-line message (a month plan) with a trailing backslash or a fenced paste, and a photo
with its caption (`/anh FILE <caption>`)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlmodel import select

from tests.factories import MEMBER, ChatHarness, FakeClock, setup_commune, setup_group
from tocns.app import BotApp
from tocns.channels.console import ConsoleChannel, read_message
from tocns.features.activity.evidence import keep_photos
from tocns.features.activity.models import ActivityRecord


async def _messages(typed: str) -> list[str]:
    lines = iter(typed.split("\n"))

    async def next_line() -> str | None:
        return next(lines, None)

    out = []
    while (message := await read_message(next_line)) is not None:
        out.append(message)
    return out


@pytest.mark.parametrize(
    ("typed", "messages"),
    [
        ("/ghi vneid 5\n/cuatoi", ["/ghi vneid 5", "/cuatoi"]),
        (
            "/giaoviec thang 12/2026 \\\n15/12 Họp dân\\\n20/12 Tập huấn\n/nhiemvu",
            [
                "/giaoviec thang 12/2026 \n15/12 Họp dân\n20/12 Tập huấn",
                "/nhiemvu",
            ],
        ),
        (
            '"""\n/giaoviec thang 12/2026\n15/12 Họp dân\n"""\n/nhiemvu',
            ["/giaoviec thang 12/2026\n15/12 Họp dân", "/nhiemvu"],
        ),
        ('"""\n/ghi vneid 1', ["/ghi vneid 1"]),  # an unclosed paste ends with the input
        ("/ghi vneid 1 \\", ["/ghi vneid 1 "]),
    ],
)
async def test_messages_from_typed_lines(typed: str, messages: list[str]) -> None:
    assert await _messages(typed) == messages


async def test_a_month_plan_can_be_tried_in_the_console(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_commune(app, chat, clock)
    out = io.StringIO()
    console = ConsoleChannel(app.pipeline, chat_id="group-1", user_id="10", name="Chủ tịch", out=out)
    await console.run(io.StringIO('"""\n/giaoviec thang 12/2026\n15/12 Họp dân thôn 1\n20/12 Tập huấn VNeID\n"""\n'))
    printed = out.getvalue()
    assert "Họp dân thôn 1" in printed and "Tập huấn VNeID" in printed, printed


async def test_a_photo_with_a_caption_is_logged_as_photo_evidence(
    app: BotApp, chat: ChatHarness, clock: FakeClock, tmp_path: Path
) -> None:
    await setup_group(app, chat, clock)
    picture = tmp_path / "ảnh họp dân.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    out = io.StringIO()
    console = ConsoleChannel(
        app.pipeline, chat_id="group-1", user_id=MEMBER, name="Lan", out=out, files_dir=Path(app.settings.files_dir)
    )
    await console.send_line(f'/anh "{picture}" /ghi vneid 5')
    assert "Ảnh minh chứng: đã nhận" in out.getvalue(), out.getvalue()
    # The photo job keeps it as it keeps a platform's photo: under FILES_DIR, the record pointing there.
    assert await keep_photos(app, clock()) == ["ảnh minh chứng phiếu #1: đã lưu"]
    async with app.db.session() as session:
        record = (await session.exec(select(ActivityRecord))).one()
    assert record.photo is not None and record.photo.startswith("files:")
    kept = Path(app.settings.files_dir).resolve() / record.photo.removeprefix("files:")
    assert kept.read_bytes() == picture.read_bytes()


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("/anh", "Thiếu tệp ảnh"),
        ("/anh {png}", "Ảnh cần lời nhắn kèm theo"),
        ("/anh {missing} /ghi vneid 5", "Không tìm thấy tệp ảnh"),
        ("/anh {text} /ghi vneid 5", "không phải tệp ảnh"),
    ],
)
async def test_a_photo_line_that_cannot_be_sent_says_why_and_logs_nothing(
    app: BotApp, chat: ChatHarness, clock: FakeClock, tmp_path: Path, line: str, said: str
) -> None:
    await setup_group(app, chat, clock)
    (tmp_path / "a.png").write_bytes(b"\x89PNG")
    (tmp_path / "a.txt").write_text("không phải ảnh")
    out = io.StringIO()
    console = ConsoleChannel(
        app.pipeline, chat_id="group-1", user_id=MEMBER, name="Lan", out=out, files_dir=Path(app.settings.files_dir)
    )
    paths = {"png": tmp_path / "a.png", "missing": tmp_path / "none.jpg", "text": tmp_path / "a.txt"}
    assert await console.send_line(line.format(**paths)) == []
    assert said in out.getvalue() and "/anh <tệp ảnh>" in out.getvalue(), out.getvalue()
    async with app.db.session() as session:
        assert (await session.exec(select(ActivityRecord))).all() == []
