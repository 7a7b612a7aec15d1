"""The weekly department summary and the commune digest: when they go, where, with which files, only once."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import threading
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select

from tests.factories import FakeClock, build_tree, make_logger
from tests.fakes.platforms import (
    channels_for,
    commune_join_code,
    outbox,
    platform_app,
    platform_settings,
    post_telegram,
    tg_message_update,
    web,
)
from tests.fakes.telegram_server import TelegramServer
from tests.fakes.zalo_api import FakeZaloApi
from tests.features.reports.test_service import local
from tocns.app import BotApp
from tocns.config import Settings
from tocns.core.roles import Role
from tocns.features.org import store as org_store
from tocns.features.org.models import OrgUnit
from tocns.features.reports import files as report_files
from tocns.features.reports import jobs as report_jobs
from tocns.outbox.models import OutboxMessage


async def _outbox(app: BotApp) -> list[OutboxMessage]:
    async with app.db.session() as session:
        return list((await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all())


async def _setup(app: BotApp, tmp_path: Path, more: int = 0) -> tuple[OrgUnit, OrgUnit]:
    app.settings.files_dir = str(tmp_path / "files")
    async with app.db.session() as session:
        tree = await build_tree(session)
        logger = await make_logger(session, app.clock())
        await logger.log(tree.teams[0], date(2026, 11, 17), {"vneid": 12}, local(date(2026, 11, 17)))
        await logger.log(tree.other_teams[0], date(2026, 11, 22), {"dvc": 5}, local(date(2026, 11, 22)))
        for n in range(more):
            # `more` records of the same week: the first with a note a spreadsheet would run, the second a photo.
            record = await logger.log(
                tree.teams[n % 3], date(2026, 11, 18), {"vneid": n + 1}, local(date(2026, 11, 18))
            )
            record.note = "=1+1" if n == 0 else None
            record.photo = "files:evidence/ab/anh.jpg" if n == 1 else None
            session.add(record)
        await org_store.bind_chat(session, platform="telegram", chat_id="-100so", unit=tree.province, person=None)
        await org_store.bind_chat(session, platform="zalo", chat_id="zso", unit=tree.province, person=None)
        await org_store.bind_chat(session, platform="telegram", chat_id="-100x1", unit=tree.commune, person=None)
        await org_store.bind_chat(session, platform="telegram", chat_id="-100x2", unit=tree.other_commune, person=None)
        # X1's leader opened a private chat with the bot; X2's leader did not.
        lead1 = await org_store.upsert_person(
            session, platform="telegram", user_id="u1", display_name="Chủ tịch Hùng", private_chat_id="u1"
        )
        lead2 = await org_store.upsert_person(session, platform="telegram", user_id="u2", display_name="Chị Mai")
        await org_store.set_membership(session, person=lead1, unit=tree.commune, role=Role.COMMUNE_LEADER)
        await org_store.set_membership(session, person=lead2, unit=tree.other_commune, role=Role.COMMUNE_LEADER)
    return tree.province, tree.commune


async def test_weekly_summary_monday_0730_once_per_chat(app: BotApp, clock: FakeClock, tmp_path: Path) -> None:
    await _setup(app, tmp_path)
    clock.set_local("2026-11-23 07:29")
    assert await report_jobs.weekly_summary(app, clock()) == []
    clock.set_local("2026-11-23 07:30")
    lines = await report_jobs.weekly_summary(app, clock())
    assert len(lines) == 4  # per chat: the text, then the files
    assert await report_jobs.weekly_summary(app, clock()) == []  # a second run sends nothing
    clock.set_local("2026-11-24 07:30")
    assert await report_jobs.weekly_summary(app, clock()) == []  # Tuesday: not due
    queued = await _outbox(app)
    texts = {r.chat_id: r for r in queued if not r.attachments}
    rows = {r.chat_id: r for r in queued if r.attachments}
    telegram = texts["-100so"]
    assert telegram.kind == "summary"
    assert "BÁO CÁO TỈNH THỬ" in telegram.text and "tuần 16/11/2026 - 22/11/2026" in telegram.text
    # The text is queued before the files, which follow in a message of their own.
    assert telegram.id is not None and telegram.id < (rows["-100so"].id or 0)
    assert rows["-100so"].text.startswith("📎 Tệp báo cáo Tỉnh")
    files = json.loads(rows["-100so"].attachments or "[]")
    assert [f["mime_type"] for f in files] == [
        "image/png",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ]
    png, xlsx = (Path(f["path"]) for f in files)
    assert png.read_bytes().startswith(b"\x89PNG")
    wb = load_workbook(io.BytesIO(xlsx.read_bytes()))
    # Below REPORT_RAW_SHEET_MAX_ROWS the raw rows stay in the workbook, and no zip goes with it.
    assert len(list(wb["Dữ liệu gốc"].iter_rows(min_row=2))) == 2
    totals = {row[0]: row[3] for row in wb["Tổng hợp"].iter_rows(values_only=True) if row and row[0]}
    assert totals["vneid"] == 12 and totals["dvc"] == 5 and "TONG" not in totals
    assert png.is_relative_to(tmp_path / "files")  # where the signed /files/ links serve from
    # Zalo gets the same files; its transport turns the workbook into a signed link (tests/test_integration_e2e.py).
    zalo = rows["zso"]
    assert zalo.attachments == rows["-100so"].attachments


async def test_a_big_summary_sends_its_raw_rows_as_csv_in_a_zip_and_says_so(
    app: BotApp, clock: FakeClock, tmp_path: Path
) -> None:
    await _setup(app, tmp_path, more=3)
    app.settings.report_raw_sheet_max_rows = 4  # 5 raw rows this week: above the limit
    clock.set_local("2026-11-23 07:30")
    await report_jobs.weekly_summary(app, clock())
    follow = next(r for r in await _outbox(app) if r.chat_id == "-100so" and r.attachments)
    files = json.loads(follow.attachments or "[]")
    assert [f["filename"] for f in files] == [
        "bao-cao-P01-2026-W47.png",
        "bao-cao-P01-2026-W47.xlsx",
        "bao-cao-P01-2026-W47-du-lieu-goc.zip",
    ]
    assert [f["mime_type"] for f in files][2] == "application/zip"
    assert "Dữ liệu gốc (5 dòng) ở dạng CSV trong tệp zip" in follow.text
    # Every raw row is in the zip's CSV: UTF-8 with a BOM, the raw sheet's Vietnamese headers, text defused.
    with zipfile.ZipFile(files[2]["path"]) as zipped:
        assert zipped.namelist() == ["bao-cao-P01-2026-W47-du-lieu-goc.csv"]
        data = zipped.read("bao-cao-P01-2026-W47-du-lieu-goc.csv").decode("utf-8")
    assert data.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(data[1:])))
    assert rows[0][:3] == ["Mã phiếu", "Ngày hoạt động", "Đơn vị cấp trên"] and rows[0][-1] == "Ghi lúc"
    assert len(rows) == 1 + 5 and sum(int(r[7]) for r in rows[1:] if r[6] == "Kích hoạt VNeID") == 12 + 6
    assert "'=1+1" in [r[9] for r in rows[1:]] and "18/11/2026" in [r[1] for r in rows[1:]]
    assert any(r[10].startswith("http") and "/files/" in r[10] for r in rows[1:])  # the photo as its signed link
    # The workbook holds no raw sheet and its summary says where the raw rows are and how many.
    wb = load_workbook(files[1]["path"])
    assert not [name for name in wb.sheetnames if name.startswith("Dữ liệu gốc")]
    summary = {r[0]: r for r in wb["Tổng hợp"].iter_rows(values_only=True) if r and r[0]}
    assert summary["Số dòng dữ liệu gốc"][1:3] == (5, "(trong tệp bao-cao-P01-2026-W47-du-lieu-goc.zip)")
    assert summary["Ghi chú"][1].startswith(
        "Dữ liệu gốc: 5 dòng, trong tệp bao-cao-P01-2026-W47-du-lieu-goc.zip (CSV UTF-8, mở bằng Excel)"
    )


async def test_commune_digest_goes_private_else_group(app: BotApp, clock: FakeClock, tmp_path: Path) -> None:
    await _setup(app, tmp_path)
    clock.set_local("2026-11-23 06:59")
    assert await report_jobs.commune_digest(app, clock()) == []
    clock.set_local("2026-11-23 07:00")
    assert len(await report_jobs.commune_digest(app, clock())) == 2
    assert await report_jobs.commune_digest(app, clock()) == []
    rows = {r.chat_id: r for r in await _outbox(app)}
    assert set(rows) == {"u1", "-100x2"}  # X1's leader privately (not X1's group), X2 in its group
    assert "BÁO CÁO XÃ TÂN LẬP" in rows["u1"].text and "Kích hoạt VNeID: 12" in rows["u1"].text
    assert "BÁO CÁO XÃ HÒA BÌNH" in rows["-100x2"].text and rows["-100x2"].kind == "digest"
    # The leader's private chat changes mid-week: one digest per person and period, whatever chat it goes to.
    from tocns.features.org.models import Person

    async with app.db.session() as session:
        leader = (await session.exec(select(Person).where(Person.private_chat_id == "u1"))).one()
        leader.private_chat_id = "u1-new"
        session.add(leader)
    clock.set_local("2026-11-23 09:00")
    assert await report_jobs.commune_digest(app, clock()) == []


async def test_daily_commune_digest(app: BotApp, clock: FakeClock, tmp_path: Path) -> None:
    await _setup(app, tmp_path)
    app.settings.commune_digest_frequency = "daily"
    clock.set_local("2026-11-18 07:05")  # a Wednesday: yesterday was 17/11
    await report_jobs.commune_digest(app, clock())
    rows = {r.chat_id: r for r in await _outbox(app)}
    assert "từ 17/11/2026 đến 17/11/2026" in rows["u1"].text
    assert "Kích hoạt VNeID: 12" in rows["u1"].text


async def test_the_summary_held_by_tet_goes_on_the_first_working_day(
    app: BotApp, clock: FakeClock, tmp_path: Path
) -> None:
    await _setup(app, tmp_path)
    clock.set_local("2027-02-08 07:30")  # Monday, the third day of Tết
    assert await report_jobs.weekly_summary(app, clock()) == []
    clock.set_local("2027-02-10 07:30")
    assert await report_jobs.weekly_summary(app, clock()) == []
    clock.set_local("2027-02-11 07:30")  # Thursday, the first working day after
    assert len(await report_jobs.weekly_summary(app, clock())) == 4
    assert all("tuần 01/02/2027 - 07/02/2027" in r.text for r in await _outbox(app) if not r.attachments)
    clock.set_local("2027-02-15 07:30")  # the next Monday: its own week, as usual
    assert len(await report_jobs.weekly_summary(app, clock())) == 4


async def test_a_webhook_ghi_is_answered_while_the_monday_summary_is_drawn(
    app: BotApp, clock: FakeClock, settings: Settings, tmp_path: Path, tg_server: TelegramServer, monkeypatch: Any
) -> None:
    # On SQLite every session holds the write lock: a summary drawn inside its session made every webhook wait.
    papp = platform_app(app, platform_settings(settings, tmp_path))
    channels: list[Any] = list(channels_for(papp, tg_server, FakeZaloApi()))
    code = await commune_join_code(papp)
    async with web(papp, channels) as (client, web_app):
        await post_telegram(client, tg_message_update(f"/ketnoi {code}", chat_id=-1001, user_id=9))
        await post_telegram(client, tg_message_update("/thamgia thon 3", chat_id=-1001, user_id=11))
        await web_app.state.pipeline.drain()
    async with papp.db.session() as session:
        province = (await session.exec(select(OrgUnit).where(col(OrgUnit.parent_id).is_(None)))).one()
        await org_store.bind_chat(session, platform="telegram", chat_id="-100so", unit=province, person=None)
    drawing, release = threading.Event(), threading.Event()

    def slow_chart(_report: object) -> bytes:
        drawing.set()
        assert release.wait(timeout=60), "the summary's drawing was never released"
        return b"\x89PNG\r\n\x1a\n"

    monkeypatch.setattr(report_files, "render_png", slow_chart)
    clock.set_local("2026-11-23 07:30")
    summary = asyncio.create_task(report_jobs.weekly_summary(papp, clock()))
    try:
        assert await asyncio.to_thread(drawing.wait, 30), "the summary was never drawn"
        # The drawing starts as soon as the department's rows are read; its text is queued while the chart is
        # still being drawn (the drawing waits for `release`): the department reads its figures meanwhile.
        for _ in range(600):
            if queued := await outbox(papp, "-100so"):
                break
            await asyncio.sleep(0.05)
        assert [r.text.splitlines()[0] for r in queued] == [f"📊 BÁO CÁO {province.name.upper()} (mã {province.code})"]
        async with web(papp, channels) as (client, web_app):
            await post_telegram(client, tg_message_update("/ghi vneid 5", chat_id=-1001, user_id=11))
            await asyncio.wait_for(web_app.state.pipeline.drain(), timeout=30)
        receipts = [r for r in await outbox(papp, "-1001") if "Đã ghi #" in r.text]
        assert len(receipts) == 1 and not summary.done()  # answered while the chart was still being drawn
    finally:
        release.set()
    assert await summary == [
        f"weekly_summary {province.code} 2026-W47 -> telegram:-100so",
        f"weekly_summary files {province.code} 2026-W47 -> telegram:-100so",
    ]


async def test_a_summary_that_meets_an_outage_leaves_no_drawing_behind(
    app: BotApp, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each department's drawing starts as soon as its rows are read; when queueing the texts then meets a database
    # outage, the job fails (the scheduler runs it again next minute) and the drawings it started are let go.
    await _setup(app, tmp_path)
    drawings: list[str] = []

    async def slow_draw(_settings: Settings, _draw: object, _drawing: object) -> object:
        drawings.append("started")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            drawings.append("cancelled")
            raise
        return None  # pragma: no cover - never set

    async def outage(*_args: object) -> list[str]:
        await asyncio.sleep(0)  # the drawing has begun
        raise OperationalError("INSERT INTO outbox", {}, OSError("connection refused"))

    monkeypatch.setattr(report_files, "off_loop", slow_draw)  # waits for a drawing process that never comes
    monkeypatch.setattr(report_jobs, "_enqueue_summaries", outage)
    clock.set_local("2026-11-23 07:30")
    with pytest.raises(OperationalError):
        await report_jobs.weekly_summary(app, clock())
    await asyncio.sleep(0)
    assert drawings == ["started", "cancelled"]
    assert await _outbox(app) == []
    # The rows it had spooled for the drawing are gone with it: each retry would leave another copy on the disk.
    reports = tmp_path / "files" / "reports"
    assert reports.is_dir() and list(reports.rglob("*.rows")) == []


async def test_files_left_by_a_drawing_killed_midway_are_removed_when_the_next_summary_draws(
    app: BotApp, clock: FakeClock, tmp_path: Path
) -> None:
    # The jobs process killed while drawing (out of memory, a restart) cannot remove its spooled rows and half-written
    # workbook; a bot left alone for months must not fill its disk with them.
    await _setup(app, tmp_path)
    clock.set_local("2026-11-23 07:30")
    left = tmp_path / "files" / "reports" / "2026-W46"
    left.mkdir(parents=True)
    stale = clock().timestamp() - 2 * 3600
    for name in ("tmpab12.rows", "bao-cao-P01-2026-W46.xlsx.part", "bao-cao-P01-2026-W46.xlsx", "under-way.rows"):
        (left / name).write_bytes(b"x")
        os.utime(left / name, (stale, stale))
    os.utime(left / "under-way.rows", (clock().timestamp() - 60,) * 2)  # another drawing's, a minute old
    assert len(await report_jobs.weekly_summary(app, clock())) == 4
    # The finished workbook of that week stays (its message may still point at it); the one under way too.
    assert sorted(path.name for path in left.iterdir()) == ["bao-cao-P01-2026-W46.xlsx", "under-way.rows"]
    assert list((tmp_path / "files" / "reports").rglob("*.rows")) == [left / "under-way.rows"]
