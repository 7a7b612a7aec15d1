"""`tocns targets import`: a sheet of targets and households, checked whole and applied all or nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlmodel import select

from tests.factories import FakeClock, build_tree, make_logger
from tocns.app import BotApp
from tocns.features.targets.importer import apply_rows
from tocns.features.targets.models import Target, UnitPopulation
from tocns.features.targets.service import unit_progress
from tocns.features.targets.sheet import read_sheet


def _sheet(path: Path, rows: list[list[object]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Mã đơn vị", "Chỉ tiêu", "Năm", "Tháng", "Mục tiêu", "Số hộ", "Số người trưởng thành"])
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


async def test_import_all_or_nothing(app: BotApp, clock: FakeClock, tmp_path: Path) -> None:
    async with app.db.session() as session:
        tree = await build_tree(session)
        await make_logger(session, clock())  # the indicator catalogue
    team = tree.teams[0].code
    bad = _sheet(
        tmp_path / "bad.xlsx",
        [
            ["X1", "vneid", 2026, None, 1200, 900, 2500],
            [team, "vneid", 2025, None, 100, None, None],  # a past year
            ["ZZ9", "vneid", 2026, None, 10, None, None],  # no such unit
            [team, "khong co", 2026, None, 10, None, None],  # no such indicator
            [team, "vneid", 2026, None, -4, None, None],  # negative
        ],
    )
    async with app.db.session() as session:
        problems, counts = await apply_rows(session, read_sheet(bad), "test", clock(), 2026)
    assert [p.split(":")[0] for p in problems] == ["Dòng 3", "Dòng 4", "Dòng 5", "Dòng 6"]
    assert "năm '2025'" in problems[0] and "'ZZ9'" in problems[1] and "'khong co'" in problems[2]
    async with app.db.session() as session:
        assert (await session.exec(select(Target))).all() == []
        assert (await session.exec(select(UnitPopulation))).all() == []
    good = _sheet(
        tmp_path / "good.xlsx",
        [["X1", "vneid", 2026, None, 1200, 900, 2500], [team, "Kích hoạt VNeID", 2026, None, 100, 120, None]],
    )
    async with app.db.session() as session:
        problems, counts = await apply_rows(session, read_sheet(good), "test", clock(), 2026)
    assert problems == [] and counts == (2, 2)
    async with app.db.session() as session:
        progress = await unit_progress(session, tree.commune, date(2026, 11, 22))
    rows = {r.unit_code: r for r in progress.rows}
    assert rows["X1"].target == 1200 and rows["X1"].households == 900 and rows[team].target == 100


def test_a_targets_sheet_has_the_import_limits(tmp_path: Path) -> None:
    """The targets import reads sheets with the team import's reader: its limits hold here too."""
    from tocns.core.filelimits import ImportLimits
    from tocns.features.targets.sheet import SheetError as TargetSheetError
    from tocns.features.targets.sheet import read_sheet as read_targets

    sheet = tmp_path / "muctieu.csv"
    sheet.write_text("Mã đơn vị,Chỉ tiêu,Năm,Mục tiêu\n" + "".join(f"X1,vneid,2027,{n}\n" for n in range(5)))
    with pytest.raises(TargetSheetError, match="IMPORT_MAX_ROWS"):
        read_targets(sheet, ImportLimits(max_rows=2))
    assert len(read_targets(sheet, ImportLimits(max_rows=5))) == 5
