"""A sheet whose rows are written as XML text is byte for byte the sheet openpyxl writes (core.sheet_rows)."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.comments import Comment
from openpyxl.styles import Font

from tocns.core.sheet_rows import write_rows_as_text

SAMPLE_TEXTS = [
    "Tổ 1",
    "",
    " ",
    "  lề  ",
    "a & b < c > d \"e\" 'f'",
    "dòng 1\ndòng 2\r\ttab",
    "'=1+1",
    "=SUM(A1)",
    "=",
    "#N/A",
    "#DIV/0!",
    "x" * 40000,
    "\U0001f600 emoji",
]
SAMPLE_VALUES: list[Any] = [
    0,
    -7,
    12345678901234567,
    3.25,
    1 / 3,
    float("nan"),
    float("inf"),
    True,
    False,
    Decimal("1.50"),
    date(2026, 11, 23),
    datetime(2026, 11, 23, 8, 15, 30),
    None,
    *SAMPLE_TEXTS,
]


def _styled(ws: Any, value: Any, fmt: str | None = None, bold: bool = False) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value)
    if fmt:
        cell.number_format = fmt
    if bold:
        cell.font = Font(bold=True)
    return cell


def _rows(ws: Any) -> list[list[Any]]:
    """Plain values, styled cells (reused as the report workbook does), a hyperlink, a comment, empty rows."""
    reused = _styled(ws, 0, "#,##0")
    day = _styled(ws, date(2000, 1, 1), "dd/mm/yyyy")
    link = WriteOnlyCell(ws, "Xem ảnh")
    link.hyperlink = "https://example.org/a?b=1&c=2"
    noted = WriteOnlyCell(ws, "ghi chú")
    noted.comment = Comment("một ghi chú", "tocns")
    rows: list[list[Any]] = [[_styled(ws, "Tiêu đề", bold=True), None, _styled(ws, 5, "#,##0", bold=True)], []]
    for n, value in enumerate(SAMPLE_VALUES):
        reused.value = n * 1000
        day.value = date(2026, 1, 1 + n % 28)
        styled_text = _styled(ws, value, "@") if isinstance(value, str) and len(value) < 100 else None
        rows.append([value, reused, day, value, styled_text, _styled(ws, None, "0%"), None])
    rows.append([link, noted, _styled(ws, 0.75, "0%"), _styled(ws, datetime(2026, 1, 2, 3, 4), "dd/mm/yyyy hh:mm")])
    return rows


def _sheet_xml(rows: Any, fast: bool) -> dict[str, bytes]:
    book = Workbook(write_only=True)
    ws = book.create_sheet("Trang")
    if fast:
        write_rows_as_text(ws)
    for row in rows(ws):
        ws.append(row)
    ws.auto_filter.ref = "A1:G3"
    out = io.BytesIO()
    book.save(out)
    with zipfile.ZipFile(out) as saved:
        # Every part but the document's properties (they hold the moment it was saved).
        return {name: saved.read(name) for name in saved.namelist() if name != "docProps/core.xml"}


def test_every_kind_of_cell_is_written_as_openpyxl_writes_it() -> None:
    assert _sheet_xml(_rows, fast=True) == _sheet_xml(_rows, fast=False)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(
            st.one_of(
                st.none(),
                st.integers(-(10**18), 10**18),
                st.floats(allow_nan=True, allow_infinity=True),
                st.text(max_size=30),
                st.booleans(),
            ),
            max_size=6,
        ),
        max_size=6,
    )
)
def test_any_plain_values_are_written_as_openpyxl_writes_them(values: list[list[Any]]) -> None:
    def rows(_ws: Any) -> list[list[Any]]:
        return values

    try:
        fast = _sheet_xml(rows, fast=True)
    except Exception as exc:  # openpyxl refuses some texts (illegal characters): the same refusal either way
        with pytest.raises(type(exc)):
            _sheet_xml(rows, fast=False)
        return
    assert fast == _sheet_xml(rows, fast=False)


def test_numbers_texts_and_dates_skip_openpyxl_s_cell_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cells a report is made of are written as text; only a hyperlink goes through openpyxl's writer."""
    import openpyxl.worksheet._writer as openpyxl_rows

    import tocns.core.sheet_rows as sheet_rows

    through_openpyxl: list[Any] = []
    for module in (openpyxl_rows, sheet_rows):
        original = module.write_cell

        def counted(xf: Any, ws: Any, cell: Any, styled: Any = None, _original: Any = original) -> None:
            through_openpyxl.append(cell.value)
            _original(xf, ws, cell, styled)

        monkeypatch.setattr(module, "write_cell", counted)

    def rows(ws: Any) -> list[list[Any]]:
        number, day = _styled(ws, 0, "#,##0"), _styled(ws, date(2000, 1, 1), "dd/mm/yyyy")
        link = WriteOnlyCell(ws, "Xem ảnh")
        link.hyperlink = "https://example.org/anh"
        out = [[_styled(ws, "Mã", bold=True), _styled(ws, "Tổ", bold=True)]]
        for n in range(50):
            number.value, day.value = n, date(2026, 11, 1 + n % 28)
            out.append([f"19768-T{n:02}", "Tổ CNS thôn 3", n, 0.5, None, number, day])
        return [*out, [link]]

    _sheet_xml(rows, fast=True)
    assert through_openpyxl == ["Xem ảnh"]
