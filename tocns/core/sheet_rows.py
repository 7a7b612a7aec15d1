"""The rows of a write-only openpyxl sheet written as XML text, byte for byte what openpyxl writes, at a fraction of
its cost: openpyxl binds each appended value to a cell, then builds and serialises an element tree per cell in pure
Python (et_xmlfile), ~10 µs a cell; a report workbook at national size has 100,000s of cells a province.

Numbers and texts (plain or in a styled cell) and dates in a styled cell are written here, through et_xmlfile's raw
writer; anything else (a date as a plain value, a hyperlink, a comment, a formula, an error, a text openpyxl would
refuse or cut) goes through openpyxl's own cell writer, in place. It uses openpyxl's internals (pinned in
constraints.txt): tests/core/test_sheet_rows.py compares whole workbooks with openpyxl's byte for byte, so an
upgrade that changes the bytes fails there. With lxml installed openpyxl writes through lxml's serialiser, which
takes no raw text: the sheet is then left to openpyxl.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from datetime import date, datetime
from typing import Any

from openpyxl import LXML
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell._writer import write_cell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.comments.comment_sheet import CommentRecord
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

_MAX_TEXT = 32767  # openpyxl cuts a longer text: that one goes through openpyxl


def write_rows_as_text(ws: WriteOnlyWorksheet) -> None:
    """Make `ws` (before its first row) write its rows' numbers and texts as XML text (no-op with lxml)."""
    if LXML or ws._rows is not None:
        return
    ws._write_rows = lambda: _rows(ws)  # type: ignore[method-assign]


def _escape(text: str) -> str:
    # xml.etree's escaping of element text (what et_xmlfile writes): &, < and > only.
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def _number(value: Any) -> str | None:
    """A number's <v> text as openpyxl writes it, or None when openpyxl must write it (bool, NaN, a Decimal...)."""
    kind = type(value)
    if kind is int or (kind is float and math.isfinite(value)):
        return f"{value:.16g}"  # safe_string's "%.16g", the same text
    return None


def _text(value: str) -> str | None:
    """A text's inline string as openpyxl writes it, or None when openpyxl must (a formula, an error's name, too long
    or an illegal character: openpyxl cuts, refuses or types it)."""
    if (
        len(value) > _MAX_TEXT
        or (len(value) > 1 and value[0] == "=")
        or value in ERROR_CODES
        or ILLEGAL_CHARACTERS_RE.search(value) is not None
    ):
        return None
    if not value:
        return ""
    stripped = value.strip()
    if stripped and stripped != value:
        return f'<is><t xml:space="preserve">{_escape(value)}</t></is>'
    return f"<is><t>{_escape(value)}</t></is>"


def _plain_xml(ref: str, value: Any) -> str | None:
    """A plain value's <c> element, or None when openpyxl must write it."""
    if type(value) is str:
        inline = _text(value)
        if inline is None:
            return None
        return f'<c r="{ref}" t="inlineStr">{inline}</c>' if inline else f'<c r="{ref}" t="inlineStr" />'
    number = _number(value)
    return None if number is None else f'<c r="{ref}" t="n"><v>{number}</v></c>'


def _style(cell: Cell, styles: dict[bytes, str]) -> str:
    """The cell's style attribute (none unstyled): its style's index in the workbook, added there when new, as
    `cell.style_id` does, looked up once per distinct style (hashing a style array is most of style_id's cost)."""
    if not cell.has_style:
        return ""
    key = cell._style.tobytes()
    known = styles.get(key)
    if known is None:
        known = styles[key] = f' s="{cell.style_id}"'
    return known


def _cell_xml(ref: str, cell: Cell, epoch: datetime, styles: dict[bytes, str]) -> str | None:
    """A styled cell's <c> element (a number, a text, a date), or None when openpyxl must write it."""
    if cell.hyperlink is not None or cell._comment is not None:
        return None
    value = cell._value
    style = _style(cell, styles)
    if cell.data_type == "n":
        number = _number(value)
        return None if number is None else f'<c r="{ref}"{style} t="n"><v>{number}</v></c>'
    if cell.data_type == "s" and type(value) is str:
        inline = _text(value)
        if inline is None:
            return None
        return f'<c r="{ref}"{style} t="inlineStr">{inline}</c>' if inline else f'<c r="{ref}"{style} t="inlineStr" />'
    if cell.data_type == "d" and type(value) in (date, datetime) and not cell.parent.parent.iso_dates:
        number = None if getattr(value, "tzinfo", None) is not None else _number(to_excel(value, epoch))
        # An aware moment: openpyxl refuses it, with its own message.
        return None if number is None else f'<c r="{ref}"{style} t="n"><v>{number}</v></c>'
    return None


def _through_openpyxl(xf: Any, ws: WriteOnlyWorksheet, value: Any, row: int, column: int) -> None:
    """One value written as openpyxl's write-only sheet does (WriteOnlyWorksheet._values_to_row, then
    WorksheetWriter.write_row for the cell)."""
    cell = value if isinstance(value, Cell) else WriteOnlyCell(ws, value)
    cell.column = column
    cell.row = row
    if cell.hyperlink is not None:
        cell.hyperlink.ref = cell.coordinate
    if cell._comment is not None:
        ws._comments.append(CommentRecord.from_cell(cell))
    if cell._value is None and not cell.has_style and not cell._comment:
        return
    write_cell(xf, ws, cell, cell.has_style)


def _write_row(
    xf: Any, ws: WriteOnlyWorksheet, values: Sequence[Any], row: int, epoch: datetime, styles: dict[bytes, str]
) -> None:
    write = xf._file
    write(f'<row r="{row}">')
    suffix = str(row)
    for column, value in enumerate(values, 1):
        if value is None:
            continue
        ref = get_column_letter(column) + suffix
        xml = _cell_xml(ref, value, epoch, styles) if isinstance(value, Cell) else _plain_xml(ref, value)
        if xml is None:
            _through_openpyxl(xf, ws, value, row, column)
        else:
            write(xml)
    write("</row>")


def _rows(ws: WriteOnlyWorksheet) -> Generator[None, Sequence[Any], None]:
    """WriteOnlyWorksheet._write_rows, each row written by _write_row (openpyxl's own for a row with dimensions)."""
    writer = ws._writer
    xf = writer.xf.send(True)
    epoch = ws.parent.epoch
    styles: dict[bytes, str] = {}
    with xf.element("sheetData"):
        row = 1
        try:
            while True:
                values = yield
                if row in ws.row_dimensions:
                    writer.write_row(xf, ws._values_to_row(values, row), row)
                else:
                    _write_row(xf, ws, values, row, epoch, styles)
                row += 1
        except GeneratorExit:
            pass
    writer.xf.send(None)
