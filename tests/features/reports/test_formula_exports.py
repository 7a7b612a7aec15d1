"""Exports cannot carry formulas: whatever separator a spreadsheet splits a CSV on (`,` or `;`, which Excel in
Vietnamese uses), and whatever an XLSX cell holds, no cell starts with a formula trigger and no cell is a formula."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from tests.cli.test_cli import run_cli
from tests.factories import build_tree, make_logger
from tests.features.reports.test_service import local
from tocns.app import BotApp
from tocns.core.exports import FORMULA_TRIGGERS, SEPARATORS, defuse
from tocns.features.apitokens.store import create_token
from tocns.web.app import create_app

NOTE = "tại x;=cmd|' /C calc'!A"
HOSTILE = [
    NOTE,
    'nhà văn hóa,=HYPERLINK("http://x")',
    "chợ\t@SUM(1+1)*cmd|' /C calc'!A0",
    "=1+1",
    "a; +2",
    'b;"-3"',
    "c\n=2",
]


def _starts_with_trigger(value: object) -> bool:
    """Whether a cell, as a spreadsheet reads it (spaces and quotes around it stripped), would run as a formula."""
    return isinstance(value, str) and value.lstrip(' "').startswith(tuple(FORMULA_TRIGGERS))


def _bad_cells(text: str) -> list[str]:
    """Every cell of a CSV text, split on `,` then on `;`, that starts with a formula trigger."""
    body = text.removeprefix("\ufeff")
    bad = []
    for delimiter in (",", ";"):
        for row in csv.reader(io.StringIO(body), delimiter=delimiter):
            bad += [c for c in row if _starts_with_trigger(c)]
    return bad


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (NOTE, "tại x;'=cmd|' /C calc'!A"),
        ("=1+1", "'=1+1"),
        ("-", "'-"),
        ("a, -5 độ", "a, '-5 độ"),
        ('a;"=x"', 'a;"\'=x"'),
        ("a\n@b", "a\n'@b"),
        ("\tchợ", "'\tchợ"),
        ("Thôn 3 - Xã Tân Lập", "Thôn 3 - Xã Tân Lập"),  # a dash inside text is kept as written
        ("tại nhà văn hóa, 5 người", "tại nhà văn hóa, 5 người"),
        ("'=đã an toàn", "'=đã an toàn"),
        ("", ""),
    ],
)
def test_defuse_examples(text: str, expected: str) -> None:
    assert defuse(text) == expected


@given(st.text(alphabet=st.sampled_from(list(FORMULA_TRIGGERS + SEPARATORS + " \"'ax1")), max_size=30))
def test_defused_text_has_no_cell_that_runs(text: str) -> None:
    """Split on any separator, no part starts with a trigger; defusing twice changes nothing; only apostrophes
    are ever added."""
    out = defuse(text)
    for separator in SEPARATORS:
        assert not [part for part in out.split(separator) if _starts_with_trigger(part)], (text, out)
    assert defuse(out) == out
    assert out.replace("'", "") == text.replace("'", "")


async def _hostile_data(app: BotApp) -> str:
    """Records whose notes, team name and recorder name carry formulas; returns a province API token."""
    async with app.db.session() as session:
        tree = await build_tree(session)
        tree.teams[0].name = "Thôn 1;=cmd|' /C calc'!A"
        logger = await make_logger(session, app.clock())
        for number, note in enumerate(HOSTILE):
            record = await logger.log(
                tree.teams[0], date(2026, 11, 17), {"vneid": number + 1}, local(date(2026, 11, 17))
            )
            record.note = note
        await session.flush()
        return await create_token(session, tree.province, app.clock())


async def test_api_csv_and_xlsx_carry_no_formula(app: BotApp) -> None:
    token = await _hostile_data(app)
    web = create_app(app.settings, bot_app=app)
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://testserver") as client:
        texts = []
        for code in ("P01", "X1"):
            got = await client.get(
                f"/api/v1/reports/{code}", params={"period": "2026-W47", "format": "csv"}, headers=auth
            )
            assert got.status_code == 200, got.text
            texts.append(got.content.decode("utf-8-sig"))
            assert _bad_cells(texts[-1]) == []
        assert "Thôn 1;'=cmd" in texts[1]  # the team is there, readable
        xlsx = await client.get("/api/v1/reports/P01", params={"period": "2026-W47", "format": "xlsx"}, headers=auth)
    assert xlsx.status_code == 200
    wb = load_workbook(io.BytesIO(xlsx.content))
    notes = []
    for sheet in wb.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                assert not _starts_with_trigger(cell.value), (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    # Copied out or saved as CSV, a text cell still cannot start a formula after a separator.
                    assert _bad_cells(cell.value) == [], (sheet.title, cell.coordinate, cell.value)
                    notes.append(cell.value)
    assert "tại x;'=cmd|' /C calc'!A" in notes


async def test_activity_export_csv_and_xlsx_carry_no_formula(app: BotApp, db_url: str, tmp_path: Path) -> None:
    await _hostile_data(app)
    exported = run_cli(["export", "activities", "--format", "csv"], db_url)
    assert exported.returncode == 0, exported.stderr
    assert "tại x;'=cmd|' /C calc'!A" in exported.stdout
    assert _bad_cells(exported.stdout) == []
    out = tmp_path / "hoat-dong.xlsx"
    written = run_cli(["export", "activities", "--format", "xlsx", "--output", str(out)], db_url)
    assert written.returncode == 0, written.stderr
    cells = [c for sheet in load_workbook(out).worksheets for row in sheet.iter_rows() for c in row]
    assert any(c.value == "tại x;'=cmd|' /C calc'!A" for c in cells)
    for c in cells:
        assert c.data_type != "f" and not _starts_with_trigger(c.value), (c.coordinate, c.value)
        if isinstance(c.value, str):
            assert _bad_cells(c.value) == [], (c.coordinate, c.value)
