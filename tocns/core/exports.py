"""Exports people open in Excel: CSV in UTF-8 with a BOM (Excel on Windows reads Vietnamese right), text cells
defused against formulas, and the cell formats every workbook uses."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, TextIO

from tocns.core.dates import fmt_cell_time, fmt_date

BOM = "\ufeff"
FORMULA_TRIGGERS = "=+-@\t\r"
"""A cell starting with one of these is run as a formula by Excel or LibreOffice ("CSV injection")."""

SEPARATORS = ",;\t\r\n"
"""Characters a spreadsheet may split a cell on: the comma, the semicolon (Excel in Vietnamese and other locales that
write decimals with a comma), tab, and line breaks (a parser that ignores quoting starts a new row there)."""

# A trigger at the start, or after a separator, with only spaces or double quotes between (a parser strips both).
_GAP = '[ "]*'
_TRIGGER = "[" + re.escape(FORMULA_TRIGGERS) + "]"
_AT_START = re.compile(f"^({_GAP})(?={_TRIGGER})")
_AFTER_SEPARATOR = re.compile(f"([{re.escape(SEPARATORS)}]{_GAP})(?={_TRIGGER})")


def defuse(text: str) -> str:
    """Text that no spreadsheet can run, whichever separator it splits the cell on: an apostrophe goes before every
    formula trigger (= + - @ tab CR) found at the start or after a separator (`,` `;` tab CR LF, spaces and double
    quotes allowed between). The apostrophe is Excel's own "this is text" mark; everything else is kept as written.
    The one neutralising function of every export (CSV, XLSX, API downloads); decision in docs/security.md."""
    if not text:
        return text
    return _AFTER_SEPARATOR.sub(r"\1'", _AT_START.sub(r"\1'", text, count=1))


def cell(value: Any) -> Any:
    """A CSV cell: moments (local) dd/mm/yyyy HH:MM and dates dd/mm/yyyy (core.dates), None empty, text defused."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return fmt_cell_time(value)
    if isinstance(value, date):
        return fmt_date(value)
    if isinstance(value, str):
        return defuse(value)
    return value


def percent(part: int, whole: int) -> int | None:
    """A rate as a whole percent (locale-proof in a CSV), None when there is nothing to count."""
    return round(100 * part / whole) if whole else None


class CsvWriter:
    """Rows written as CSV to a text stream (a file, stdout, a member of a zip), BOM first: nothing is kept."""

    def __init__(self, stream: TextIO) -> None:
        stream.write(BOM)
        self.writer = csv.writer(stream)

    def row(self, values: Iterable[Any] = ()) -> None:
        """Write one row (an empty row separates sections)."""
        self.writer.writerow([cell(v) for v in values])

    def rows(self, rows: Iterable[Sequence[Any]]) -> None:
        """Write many rows."""
        for values in rows:
            self.row(values)


class CsvText(CsvWriter):
    """Rows written to an in-memory CSV that starts with a BOM (reports: figures, never raw rows)."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        super().__init__(self.buffer)

    def text(self) -> str:
        """The CSV so far, BOM first."""
        return self.buffer.getvalue()


EXCEL_MAX_ROWS = 1_048_576
"""Rows per worksheet in Excel (header included): the raw data continues on a new sheet past it, and a CSV of raw
rows is cut into files of at most this many rows (Excel opens a CSV as one sheet and drops the rest)."""

NUMBER = "#,##0"
PERCENT = "0%"
DAY = "dd/mm/yyyy"
MOMENT = "dd/mm/yyyy hh:mm"
