"""Photo evidence: the photo sent with a `/ghi` fetched from its platform into FILES_DIR, retried until kept or
given up (the chat is told), and shown as a signed link wherever records are read (docs/reports.md, "Photo
evidence")."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tocns.config import Settings
from tocns.core.files import FetchError, PhotoFetch, fetch_web_file, is_web_address, safe_name, save_attachment
from tocns.core.jobs import JobContext
from tocns.core.messages import Attachment
from tocns.core.signed_links import can_sign, sign_url
from tocns.core.supervisor import describe
from tocns.features.activity import evidence_store
from tocns.features.activity.evidence_store import KEPT_PREFIX
from tocns.outbox.store import enqueue

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
"""Attempts at one photo (after 1, 2, 4, 8 and 16 minutes: about half an hour) before the chat is told."""
MAX_PHOTO_BYTES = 20_000_000
"""The largest photo kept (the Bot API's getFile serves files up to 20 MB)."""
BATCH = 20
"""Photos one run of the job fetches; more wait for the next minute."""

GIVEN_UP_TEXT = (
    "Không lưu được ảnh minh chứng của phiếu #{record} sau {attempts} lần tải ({error}). Phiếu vẫn được ghi đủ; "
    "nếu cần ảnh làm minh chứng, hãy gửi lại ảnh kèm lệnh /ghi cho lần làm việc tiếp theo hoặc gửi ảnh cho tổ trưởng."
)


def photo_link(settings: Settings, value: str | None, now: datetime) -> str | None:
    """What a reader opens for a record's photo: a signed link to the kept picture, the platform's own URL while it
    is not kept yet (Zalo), or None (a Telegram file id nobody can open, or no signing secret)."""
    if not value:
        return None
    if value.startswith(KEPT_PREFIX):
        if not can_sign(settings):
            return None
        return sign_url(settings, Path(settings.files_dir) / value.removeprefix(KEPT_PREFIX), now)
    return value if is_web_address(value) else None


NOT_KEPT_TEXT = "có ảnh (chưa lưu được)"
"""What a reader sees for a photo that has no link (not fetched yet, or given up)."""


def photo_shown(settings: Settings, value: str | None, now: datetime) -> str:
    """A record's photo as a workbook or page shows it: its link, a note that a photo exists but cannot be opened,
    or "" for none."""
    return photo_link(settings, value, now) or (NOT_KEPT_TEXT if value else "")


async def fetch(
    settings: Settings, platform: str, source: str, client: httpx.AsyncClient, sources: Mapping[str, PhotoFetch]
) -> tuple[bytes, str]:
    """The photo's bytes and a file name: a web address fetched as it is, any other source by its platform's own
    way in `sources` (Telegram's getFile, the console's file); raises FetchError or httpx.HTTPError."""
    if is_web_address(source):
        content, name = await fetch_web_file(source, client)
    elif platform in sources:
        content, name = await sources[platform](settings, source, client)
    else:
        raise FetchError("không biết tải ảnh này từ đâu")
    if not content or len(content) > MAX_PHOTO_BYTES:
        raise FetchError(f"ảnh rỗng hoặc lớn hơn {MAX_PHOTO_BYTES // 1_000_000} MB")
    return content, safe_name(name if "." in name else f"{name or 'anh'}.jpg")


def chat_reason(error: Exception) -> str:
    """Why a photo was not kept, in words the group reads; the technical error stays in the log and the row."""
    if isinstance(error, FetchError):
        return error.reason
    if isinstance(error, httpx.HTTPStatusError):
        if error.response.status_code in (403, 404, 410):
            return "ảnh không còn trên máy chủ của nền tảng"
        return f"máy chủ của nền tảng trả lỗi {error.response.status_code}"
    if isinstance(error, httpx.HTTPError):
        return "không kết nối được máy chủ của nền tảng"
    if isinstance(error, OSError):
        return "không ghi được ảnh vào ổ đĩa của bot"
    return "nền tảng trả lời không đúng dạng"  # a getFile answer that is not JSON, or without its result


def _retry_at(attempts: int, now: datetime) -> datetime | None:
    """When to try again after `attempts` failures; None once they are all spent."""
    return now + timedelta(minutes=2 ** (attempts - 1)) if attempts < MAX_ATTEMPTS else None


async def _give_up(session: Any, evidence_id: int, record_id: int, reason: str, now: datetime) -> None:
    place = await evidence_store.record_place(session, record_id)
    if place is None:
        return
    platform, chat_id, _ = place
    text = GIVEN_UP_TEXT.format(record=record_id, attempts=MAX_ATTEMPTS, error=reason)
    await enqueue(
        session, platform=platform, chat_id=chat_id, text=text, dedupe_key=f"evidence-failed:{evidence_id}", now=now
    )


async def _attempt(
    app: JobContext, row: tuple[int, int, str, str, int], client: httpx.AsyncClient, now: datetime
) -> str:
    evidence_id, record_id, platform, source, attempts = row
    try:
        content, name = await fetch(app.settings, platform, source, client, app.photo_sources)
        kept = save_attachment(app.settings.files_dir, Attachment(name, content, "image/jpeg"))
        relative = kept.relative_to(Path(app.settings.files_dir).resolve()).as_posix()
    except (FetchError, httpx.HTTPError, ValueError, KeyError, OSError) as exc:
        error = describe(exc) if not isinstance(exc, FetchError) else str(exc)
        retry_at = _retry_at(attempts + 1, now)
        async with app.db.session() as session:
            failed = await evidence_store.mark_failed(session, evidence_id, error, retry_at)
            if failed is not None and retry_at is None:
                await _give_up(session, evidence_id, record_id, chat_reason(exc), now)
        log.warning("photo of record %s not fetched (attempt %s): %s", record_id, attempts + 1, error)
        return f"ảnh minh chứng phiếu #{record_id}: {'bỏ cuộc' if retry_at is None else 'sẽ thử lại'} ({error})"
    async with app.db.session() as session:
        await evidence_store.mark_kept(session, evidence_id, record_id, relative)
    return f"ảnh minh chứng phiếu #{record_id}: đã lưu"


async def keep_photos(app: JobContext, now: datetime) -> list[str]:
    """Fetch the photos due at `now` into FILES_DIR (no database session is held while downloading)."""
    async with app.db.session() as session:
        rows = [
            (r.id or 0, r.record_id, r.platform, r.source, r.attempts)
            for r in await evidence_store.due(session, now, BATCH)
        ]
    if not rows:
        return []
    async with httpx.AsyncClient(timeout=app.settings.telegram_request_timeout) as client:
        return [await _attempt(app, row, client, now) for row in rows]


def shown_by(settings: Settings, now: datetime) -> Callable[[str | None], str]:
    """`photo_shown` for one export made at `now` (what a workbook is given)."""
    return lambda value: photo_shown(settings, value, now)
