"""Photo evidence (issue 27): a photo sent with /ghi is fetched from its platform into FILES_DIR, retried when the
download fails, the chat told when it cannot be kept, and shown as a signed link."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from openpyxl import load_workbook
from sqlmodel import select

from tests.factories import LEADER, MEMBER, ChatHarness, FakeClock, record_id, setup_group
from tests.fakes.platforms import e2e_settings, platform_app
from tests.fakes.telegram_server import TelegramServer
from tests.fakes.zalo_api import PHOTO_PATH
from tests.fakes.zalo_server import ZaloServer
from tocns.app import BotApp
from tocns.config import Settings
from tocns.core.files import FetchError
from tocns.core.signed_links import LINK_PATH, verify
from tocns.features.activity.evidence import MAX_ATTEMPTS, chat_reason, keep_photos, photo_link
from tocns.features.activity.models import ActivityRecord, PhotoEvidence
from tocns.outbox.models import OutboxMessage

PICTURE = b"\xff\xd8\xff\xe0 a photo of the commune meeting"


async def _record(app: BotApp) -> ActivityRecord:
    async with app.db.session() as session:
        return (await session.exec(select(ActivityRecord))).one()


async def _logged_with_photo(app: BotApp, clock: FakeClock, file_id: str) -> int:
    chat = ChatHarness(app, platform="telegram")
    await setup_group(app, chat, clock)
    reply = await chat.text("/ghi vneid 5", user=MEMBER, photo=file_id)
    assert "Ảnh minh chứng: đã nhận, bot đang tải về để lưu" in reply
    return record_id(reply)


def _opened(settings: Settings, link: str | None, clock: FakeClock) -> bytes:
    """What a reader gets from a signed link (checked as GET /files checks it)."""
    assert link is not None and link.startswith(f"{settings.public_base_url}{LINK_PATH}/"), link
    parts = urlsplit(link)
    query = parse_qs(parts.query)
    relative = parts.path.removeprefix(f"{LINK_PATH}/")
    path = verify(settings, relative, int(query["exp"][0]), query["sig"][0], clock())
    assert path is not None
    return path.read_bytes()


async def test_a_telegram_photo_is_downloaded_kept_and_linked(
    app: BotApp, settings: Settings, tmp_path: Path, clock: FakeClock
) -> None:
    with TelegramServer() as server:
        server.fake.files["AgAD-photo"] = ("photos/file_7.jpg", PICTURE)
        papp = platform_app(app, e2e_settings(settings, tmp_path, server.base_url))
        rid = await _logged_with_photo(papp, clock, "AgAD-photo")
        assert await keep_photos(papp, clock()) == [f"ảnh minh chứng phiếu #{rid}: đã lưu"]
        assert server.fake.methods()[-2:] == ["getFile", "download"]
    record = await _record(papp)
    assert record.photo is not None and record.photo.startswith("files:"), record.photo
    assert _opened(papp.settings, photo_link(papp.settings, record.photo, clock()), clock) == PICTURE
    # Kept once: the next run has nothing to do.
    assert await keep_photos(papp, clock() + timedelta(minutes=5)) == []


async def test_a_failed_download_is_retried_a_minute_later(
    app: BotApp, settings: Settings, tmp_path: Path, clock: FakeClock
) -> None:
    with TelegramServer() as server:
        server.fake.files["AgAD-photo"] = ("photos/file_7.jpg", PICTURE)
        server.fake.failing_downloads = 1
        papp = platform_app(app, e2e_settings(settings, tmp_path, server.base_url))
        rid = await _logged_with_photo(papp, clock, "AgAD-photo")
        [first] = await keep_photos(papp, clock())
        assert first.startswith(f"ảnh minh chứng phiếu #{rid}: sẽ thử lại"), first
        assert await keep_photos(papp, clock() + timedelta(seconds=30)) == []
        assert await keep_photos(papp, clock() + timedelta(minutes=1)) == [f"ảnh minh chứng phiếu #{rid}: đã lưu"]
    assert (await _record(papp)).photo.startswith("files:")  # type: ignore[union-attr]


async def test_a_zalo_photo_is_kept_from_its_address_and_one_gone_from_the_cdn_is_retried(
    app: BotApp, settings: Settings, tmp_path: Path, clock: FakeClock
) -> None:
    # Zalo gives an image message's picture as an address on its CDN (`photo` or `photo_url`), fetched with no
    # token; a picture the CDN no longer has answers 404, and the record waits for the next attempt.
    with ZaloServer() as server:
        server.fake.photos["hop-thon-3.jpg"] = PICTURE
        papp = platform_app(app, e2e_settings(settings, tmp_path, "http://127.0.0.1:9"))
        chat = ChatHarness(papp, platform="zalo")
        await setup_group(papp, chat, clock)
        kept = await chat.text("/ghi vneid 5", user=MEMBER, photo=f"{server.base_url}{PHOTO_PATH}hop-thon-3.jpg")
        gone = await chat.text("/ghi dvc 2", user=MEMBER, photo=f"{server.base_url}{PHOTO_PATH}het-han.jpg")
        lines = await keep_photos(papp, clock())
    assert lines[0] == f"ảnh minh chứng phiếu #{record_id(kept)}: đã lưu"
    assert lines[1].startswith(f"ảnh minh chứng phiếu #{record_id(gone)}: sẽ thử lại") and "404" in lines[1]
    async with papp.db.session() as session:
        photos = {r.id: r.photo for r in (await session.exec(select(ActivityRecord))).all()}
    link = photo_link(papp.settings, photos[record_id(kept)], clock())
    assert _opened(papp.settings, link, clock) == PICTURE
    # Not kept yet: readers still get Zalo's own address, as before the download.
    assert photo_link(papp.settings, photos[record_id(gone)], clock()) == f"{server.base_url}{PHOTO_PATH}het-han.jpg"


async def test_a_photo_that_cannot_be_kept_is_reported_to_the_chat_once(
    app: BotApp, settings: Settings, tmp_path: Path, clock: FakeClock
) -> None:
    with TelegramServer() as server:
        papp = platform_app(app, e2e_settings(settings, tmp_path, server.base_url))
        rid = await _logged_with_photo(papp, clock, "AgAD-unknown")
        at = clock()
        for _ in range(MAX_ATTEMPTS + 2):
            await keep_photos(papp, at)
            at += timedelta(hours=1)
    async with papp.db.session() as session:
        told = [r for r in (await session.exec(select(OutboxMessage))).all() if "Không lưu được ảnh" in r.text]
    assert len(told) == 1 and told[0].chat_id == "group-1", [r.text for r in told]
    # The group reads why in Vietnamese; the Bot API's own answer is kept for the operator, not shown to it.
    assert f"phiếu #{rid}" in told[0].text and "(Telegram không cho tải ảnh này)" in told[0].text
    assert "invalid file_id" not in told[0].text and "getFile" not in told[0].text
    async with papp.db.session() as session:
        [evidence] = (await session.exec(select(PhotoEvidence))).all()
    assert evidence.state == "failed" and "invalid file_id" in (evidence.error or "")
    assert (await _record(papp)).photo == "AgAD-unknown"  # the record stands, its photo unreadable as before
    assert photo_link(papp.settings, "AgAD-unknown", clock()) is None


async def test_the_leaders_workbook_links_the_kept_photo(
    app: BotApp, settings: Settings, tmp_path: Path, clock: FakeClock
) -> None:
    with TelegramServer() as server:
        server.fake.files["AgAD-photo"] = ("photos/file_7.jpg", PICTURE)
        papp = platform_app(app, e2e_settings(settings, tmp_path, server.base_url))
        chat = ChatHarness(papp, platform="telegram")
        await setup_group(papp, chat, clock)
        await chat.text("/ghi vneid 5", user=MEMBER, photo="AgAD-photo")
        await chat.text("/ghi dvc 2", user=MEMBER, photo="AgAD-never-fetched")
        await keep_photos(papp, clock())
        replies = await chat.send("/baocao", user=LEADER)
    [workbook] = [a for r in replies for a in r.attachments if a.filename.endswith(".xlsx")]
    sheet = load_workbook(io.BytesIO(workbook.content))["Dữ liệu gốc"]
    header = [c.value for c in sheet[1]]
    column = header.index("Ảnh minh chứng")
    cells = [row[column] for row in sheet.iter_rows(min_row=2)]
    links = [c.hyperlink.target for c in cells if c.hyperlink is not None]
    assert len(links) == 1 and _opened(papp.settings, links[0], clock) == PICTURE
    # The photo that was not kept says so instead of showing a file id nobody can open.
    assert "có ảnh (chưa lưu được)" in [c.value for c in cells]


def _status(code: int) -> httpx.HTTPStatusError:
    request = httpx.Request("GET", "https://cdn.example/anh.jpg")
    return httpx.HTTPStatusError("status", request=request, response=httpx.Response(code, request=request))


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            FetchError("Telegram không cho tải ảnh này", "getFile: Bad Request: wrong file_id"),
            "Telegram không cho tải ảnh này",
        ),
        (_status(404), "ảnh không còn trên máy chủ của nền tảng"),
        (_status(410), "ảnh không còn trên máy chủ của nền tảng"),
        (_status(502), "máy chủ của nền tảng trả lỗi 502"),
        (httpx.ConnectTimeout("timed out"), "không kết nối được máy chủ của nền tảng"),
        (PermissionError("files/anh.jpg"), "không ghi được ảnh vào ổ đĩa của bot"),
        (ValueError("Expecting value: line 1 column 1"), "nền tảng trả lời không đúng dạng"),
        (KeyError("result"), "nền tảng trả lời không đúng dạng"),
    ],
)
def test_the_chat_is_told_why_a_photo_was_not_kept_in_vietnamese(error: Exception, reason: str) -> None:
    # What the group reads after the last attempt names the cause in its words, never the platform's English answer.
    assert chat_reason(error) == reason
