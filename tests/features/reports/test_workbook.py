"""The report workbook as an officer opens it: numbers, formats, frozen headers, filters, silent teams, every row."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlmodel import select

from tests.factories import FakeClock, build_tree, make_logger
from tests.features.reports.test_service import WEEK, _generate, local
from tocns.app import BotApp
from tocns.core.roles import Role
from tocns.features.activity.models import ActivityRecord
from tocns.features.org import store as org_store
from tocns.features.reports import workbook
from tocns.features.reports.render import render_xlsx
from tocns.features.reports.service import unit_report
from tocns.features.reports.store import Report, raw_records, stream_raw_records
from tocns.features.reports.workbook import write_workbook


async def _province_workbook(
    app: BotApp, clock: FakeClock, **kwargs: int
) -> tuple[Report, list[tuple[Any, ...]], Workbook]:
    tree, _rows = await _generate(app, seed=5)
    async with app.db.session() as session:
        leader = await org_store.upsert_person(session, platform="console", user_id="L1", display_name="Ông Páo")
        await org_store.set_membership(session, person=leader, unit=tree.teams[2], role=Role.TEAM_LEADER)
        report = await unit_report(session, tree.province, WEEK, app.settings, clock())
        raw = await raw_records(session, tree.province, WEEK.start, WEEK.end)
    return report, raw, load_workbook(io.BytesIO(render_xlsx(report, raw, app.settings.tz, **kwargs)))


async def test_an_officer_can_filter_and_sort(app: BotApp, clock: FakeClock) -> None:
    report, _raw, wb = await _province_workbook(app, clock)
    units = wb["Theo đơn vị"]
    header = [c.value for c in units[1]]
    assert header[:8] == [
        "Mã đơn vị",
        "Đơn vị",
        "Số tổ",
        "Tổ có báo cáo",
        "Tỷ lệ tổ báo cáo",
        "Lượt ghi",
        "Lượt ghi đúng hạn",
        "Tỷ lệ đúng hạn",
    ]
    assert units.freeze_panes in ("A2", "C2") and units.auto_filter.ref.startswith("A1:")
    tan_lap = next(row for row in units.iter_rows(min_row=2) if row[1].value == "Xã Tân Lập")
    # Rates are numbers formatted as percents, not the text "67%".
    rate = tan_lap[4]
    child = next(c for c in report.children if c.name == "Xã Tân Lập")
    assert isinstance(rate.value, float) and rate.value == child.completeness and rate.number_format == "0%"
    assert tan_lap[5].number_format == "#,##0" and isinstance(tan_lap[5].value, int)
    assert tan_lap[7].value == child.timeliness
    # The names fit their column; a chart sits next to the numbers.
    assert units.column_dimensions["B"].width >= len("Xã Tân Lập")
    assert len(units._charts) == 1 and len(wb["Tổng hợp"]._charts) == 1


async def test_silent_teams_by_name_with_commune_and_leader(app: BotApp, clock: FakeClock) -> None:
    report, _raw, wb = await _province_workbook(app, clock)
    silent = wb["Tổ chưa báo cáo"]
    rows = list(silent.iter_rows(min_row=2, values_only=True))
    assert ("X1", "Xã Tân Lập", "X1-T03", "Bản Nà Hin", "Ông Páo") in rows
    assert len(rows) == len(report.silent_teams) and silent.freeze_panes == "A2" and silent.auto_filter.ref
    teams = list(wb["Theo tổ"].iter_rows(min_row=2, values_only=True))
    assert [(r[1], r[3]) for r in teams] == [
        ("Xã Hòa Bình", "Thôn 1"),
        ("Xã Tân Lập", "Bản Nà Hin"),
        ("Xã Tân Lập", "Thôn 1"),
        ("Xã Tân Lập", "Thôn 3"),
    ]


async def test_raw_rows_carry_id_real_date_note_and_photo(app: BotApp, clock: FakeClock) -> None:
    async with app.db.session() as session:
        tree = await build_tree(session)
        logger = await make_logger(session, clock())
        record = await logger.log(tree.teams[0], date(2026, 11, 17), {"vneid": 1_234}, local(date(2026, 11, 17), 9))
        record.note = "=1+1 hộ ông Tư"
        record.photo = "https://example.org/anh.jpg"
        await session.flush()
        report = await unit_report(session, tree.commune, WEEK, app.settings, clock())
        raw = await raw_records(session, tree.commune, WEEK.start, WEEK.end)
    wb = load_workbook(io.BytesIO(render_xlsx(report, raw, app.settings.tz)))
    assert "Theo đơn vị" not in wb.sheetnames  # a commune's children are its teams: listed once, in "Theo tổ"
    sheet = wb["Dữ liệu gốc"]
    assert [c.value for c in sheet[1]] == [
        "Mã phiếu",
        "Ngày hoạt động",
        "Đơn vị cấp trên",
        "Mã tổ",
        "Tổ",
        "Người ghi",
        "Chỉ tiêu",
        "Số lượng",
        "Đơn vị tính",
        "Ghi chú",
        "Ảnh minh chứng",
        "Ghi lúc",
    ]
    row = sheet[2]
    assert row[0].value == record.id
    assert isinstance(row[1].value, datetime) and row[1].value.date() == date(2026, 11, 17)
    assert row[1].number_format == "dd/mm/yyyy"
    assert row[7].value == 1234 and row[7].number_format == "#,##0"
    # A note that looks like a formula stays text (with Excel's text mark); the photo is a link, not a formula.
    assert row[9].value == "'=1+1 hộ ông Tư" and row[9].data_type == "s"
    assert row[10].value == "Xem ảnh" and row[10].data_type == "s"
    assert row[10].hyperlink is not None and row[10].hyperlink.target == "https://example.org/anh.jpg"
    assert row[11].value == datetime(2026, 11, 17, 9, 0)  # local time
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:L2"


async def test_no_row_is_lost_past_the_sheet_limit(app: BotApp, clock: FakeClock, tmp_path: Path) -> None:
    """More rows than a sheet holds (the limit lowered to 40 to stay fast): they continue on the next sheets."""
    async with app.db.session() as session:
        tree = await build_tree(session)
        logger = await make_logger(session, clock())
        for n in range(45):
            day = WEEK.start + timedelta(days=n % 7)
            await logger.log(tree.teams[n % 3], day, {"vneid": n + 1, "dvc": 1}, local(day))
        ids = {r.id for r in (await session.exec(select(ActivityRecord))).all()}
        report = await unit_report(session, tree.province, WEEK, app.settings, clock())
        target = tmp_path / "bao-cao.xlsx"
        # Batches of 7 through the server-side cursor; 40 rows per sheet (39 data rows under the header).
        saved = await write_workbook(
            report,
            stream_raw_records(session, tree.province, WEEK.start, WEEK.end, batch=7),
            app.settings.tz,
            target,
            40,
        )
    assert saved.raw_rows == 90 and saved.raw_files == []
    wb = load_workbook(target)
    raw_sheets = [n for n in wb.sheetnames if n.startswith("Dữ liệu gốc")]
    assert raw_sheets == ["Dữ liệu gốc", "Dữ liệu gốc (2)", "Dữ liệu gốc (3)"]
    rows = [r for n in raw_sheets for r in wb[n].iter_rows(min_row=2, values_only=True)]
    assert all(wb[n].max_row <= 40 and wb[n]["A1"].value == "Mã phiếu" for n in raw_sheets)
    assert len(rows) == 90 and {r[0] for r in rows} == ids
    assert sum(r[7] for r in rows if r[6] == "Kích hoạt VNeID") == sum(range(1, 46))
    summary = {r[0]: r for r in wb["Tổng hợp"].iter_rows(values_only=True) if r and r[0]}
    assert summary["Số dòng dữ liệu gốc"][1] == 90
    assert summary["Số dòng dữ liệu gốc"][2] == "(trang Dữ liệu gốc, Dữ liệu gốc (2), Dữ liệu gốc (3))"
    assert summary["Ghi chú"][1] == (
        "Dữ liệu gốc nhiều hơn 39 dòng (giới hạn một trang Excel) nên được chia sang 3 trang; "
        "đủ mọi dòng, không bỏ dòng nào."
    )


async def test_empty_period_has_blank_rates_not_zero(app: BotApp, clock: FakeClock) -> None:
    async with app.db.session() as session:
        tree = await build_tree(session)
        await make_logger(session, clock())
        report = await unit_report(session, tree.province, WEEK, app.settings, clock())
    wb = load_workbook(io.BytesIO(render_xlsx(report, [], app.settings.tz)))
    summary = {r[0]: r for r in wb["Tổng hợp"].iter_rows(values_only=True) if r and r[0]}
    # 0 records: timeliness has nothing to count, so the cell is empty rather than a misleading 0%.
    assert summary["Lượt ghi"][1] == 0 and summary["Tỷ lệ đúng hạn"][1] is None
    assert summary["Tỷ lệ tổ báo cáo"][1] == 0.0 and summary["Số dòng dữ liệu gốc"][1] == 0
    assert "Ghi chú" not in summary  # one raw sheet: no note about splitting
    assert len(list(wb["Tổ chưa báo cáo"].iter_rows(min_row=2))) == 4


def test_a_note_that_reads_like_an_excel_error_stays_text(tmp_path: Path) -> None:
    """A member's note "#N/A" is a text in the raw sheet, not an error cell Excel would show and count as an error."""
    from zoneinfo import ZoneInfo

    from tocns.features.reports.workbook import ReportWorkbook

    day = date(2026, 11, 16)
    report = Report(
        unit_code="79", unit_name="Tỉnh thử", unit_level="province", start=day, end=day + timedelta(days=6),
        previous_start=day - timedelta(days=7), previous_end=day - timedelta(days=1),
        generated_at=datetime(2026, 11, 23, 1, 0), totals=[], children=[], teams=0, reporting_teams=0, records=0,
        timely_records=0, silent_teams=[],
    )  # fmt: skip
    book = ReportWorkbook(report, ZoneInfo("Asia/Ho_Chi_Minh"))
    created = datetime(2026, 11, 16, 3, 0)
    book.add_raw([(1, day, "Xã A", "79-T01", "Tổ 1", "Lan", "Kích hoạt VNeID", 3, "người", "#N/A", None, created)])
    book.save(tmp_path / "bao-cao.xlsx")
    note = load_workbook(tmp_path / "bao-cao.xlsx")["Dữ liệu gốc"]["J2"]
    assert (note.value, note.data_type) == ("#N/A", "s")


async def test_rows_written_as_text_are_openpyxl_s_bytes(
    app: BotApp, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A province's workbook (every sheet, raw rows on the sheet) is byte for byte the one openpyxl alone writes."""
    report, raw, _wb = await _province_workbook(app, clock)

    def parts() -> dict[str, bytes]:
        with zipfile.ZipFile(io.BytesIO(render_xlsx(report, raw, app.settings.tz))) as saved:
            # All but the document's properties, which hold the moment it was saved.
            return {name: saved.read(name) for name in saved.namelist() if name != "docProps/core.xml"}

    as_text = parts()
    monkeypatch.setattr(workbook, "write_rows_as_text", lambda _ws: None)
    assert as_text == parts()
