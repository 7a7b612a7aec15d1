"""CSV files people open in Excel: UTF-8 with a BOM (Excel on Windows reads Vietnamese right), text cells defused."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from tocns.core.dates import fmt_date

BOM = "\ufeff"
MOMENT_FORMAT = "%d/%m/%Y %H:%M"
"""Every timestamp in a CSV (local time): dd/mm/yyyy HH:MM."""

# A cell starting with one of these is run as a formula by Excel ("CSV injection"): user text gets a leading quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """A CSV cell: dates dd/mm/yyyy (core.dates.fmt_date), None empty, text Excel would run as a formula quoted."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime(MOMENT_FORMAT)
    if isinstance(value, date):
        return fmt_date(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def percent(part: int, whole: int) -> int | None:
    """A rate as a whole percent (locale-proof in a CSV), None when there is nothing to count."""
    return round(100 * part / whole) if whole else None


class CsvText:
    """Rows written to an in-memory CSV that starts with a BOM."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.buffer.write(BOM)
        self.writer = csv.writer(self.buffer)

    def row(self, values: Iterable[Any] = ()) -> None:
        """Write one row (an empty row separates sections)."""
        self.writer.writerow([cell(v) for v in values])

    def rows(self, rows: Iterable[Sequence[Any]]) -> None:
        """Write many rows."""
        for values in rows:
            self.row(values)

    def text(self) -> str:
        """The CSV so far, BOM first."""
        return self.buffer.getvalue()
