"""Exports people open in Excel: CSV in UTF-8 with a BOM (Excel on Windows reads Vietnamese right), text cells
defused against formulas, and the cell formats every workbook uses."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO, TextIO

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
# Either pattern above, in one search: a text neither would change is left as it is without running them (most
# cells; a lone trigger search still ran both substitutions on every code like "19768-T01", 5x the time).
_ANY_DANGER = re.compile(f"(?:^|[{re.escape(SEPARATORS)}]){_GAP}{_TRIGGER}")


def defuse(text: str) -> str:
    """Text that no spreadsheet can run, whichever separator it splits the cell on: an apostrophe goes before every
    formula trigger (= + - @ tab CR) found at the start or after a separator (`,` `;` tab CR LF, spaces and double
    quotes allowed between). The apostrophe is Excel's own "this is text" mark; everything else is kept as written.
    The one neutralising function of every export (CSV, XLSX, API downloads); decision in docs/security.md."""
    if not text or _ANY_DANGER.search(text) is None:
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

_BYTES_CHECKED_EVERY = 1_000
"""Rows between two looks at a zip's size on disk (the size is approximate by what zlib still holds: kilobytes)."""


def part_file(target: Path) -> Path:
    """Where a file is written before it is complete (renamed at the end: nobody reads half an export)."""
    return target.with_name(target.name + ".part")


class CsvParts:
    """Rows streamed as CSV files with the header in each, none longer than `max_rows` (header included; Excel's
    rows per sheet by default), nothing held in memory and no row left out.

    Not zipped (`tocns export activities -o x.csv`): one file `x.csv`, or past `max_rows` several files `x-1.csv`,
    `x-2.csv`, ... in one zip `x.zip` next to it. Zipped (a report's raw data, `x.zip`): `x.zip` holds `x.csv`;
    past `max_rows` rows, or once the zip passes `max_bytes` on disk (a platform's file limit), the rows go on in
    `x-2.zip` holding `x-2.csv`, and so on: each zip opens on its own. Every file is written under a `.part` name
    and renamed by `close`."""

    def __init__(
        self,
        target: Path,
        headings: Sequence[str],
        max_rows: int = EXCEL_MAX_ROWS,
        *,
        zipped: bool = False,
        max_bytes: int = 0,
    ) -> None:
        self.target = target
        self.headings = headings
        self.zipped = zipped
        self.max_bytes = max_bytes
        self.zip_path = target.with_suffix(".zip")
        self.per_part = max_rows - 1
        self.names: list[str] = []
        """The CSV files' names, in order."""
        self.files: list[Path] = []
        """Zipped: the zips written, in order."""
        self.zip: zipfile.ZipFile | None = None
        self.raw: BinaryIO | None = None
        self.stream: TextIO | None = None
        self.rows = self.in_part = 0
        self._next_part()

    def _name(self, number: int) -> str:
        return f"{self.target.stem}-{number}.csv"

    def _next_zip(self) -> None:
        """Zipped: finish the current zip (still under its `.part` name) and start the next, with one CSV."""
        if self.stream is not None:
            self._close_zip()
        number = len(self.files) + 1
        path = self.zip_path if number == 1 else self.zip_path.with_name(f"{self.zip_path.stem}-{number}.zip")
        self.raw = open(part_file(path), "wb")  # noqa: SIM115
        self.zip = zipfile.ZipFile(self.raw, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
        self.names.append(f"{path.stem}.csv")
        self.files.append(path)
        self.stream = io.TextIOWrapper(
            self.zip.open(self.names[-1], "w", force_zip64=True), encoding="utf-8", newline=""
        )

    def _close_zip(self) -> None:
        assert self.stream is not None and self.zip is not None and self.raw is not None
        self.stream.close()
        self.zip.close()
        self.raw.close()

    def _next_part(self) -> None:
        if self.zipped:
            self._next_zip()
        elif self.stream is None:
            self.stream = open(part_file(self.target), "w", encoding="utf-8", newline="")  # noqa: SIM115
            self.names.append(self._name(1))
        else:
            self.stream.close()
            if self.zip is None:
                # The first file becomes the zip's first member; the next ones are written straight into the zip.
                self.zip = zipfile.ZipFile(part_file(self.zip_path), "w", zipfile.ZIP_DEFLATED, allowZip64=True)
                self.zip.write(part_file(self.target), self._name(1))
                part_file(self.target).unlink()
            member: IO[bytes] = self.zip.open(self._name(len(self.names) + 1), "w", force_zip64=True)
            self.stream = io.TextIOWrapper(member, encoding="utf-8", newline="")
            self.names.append(self._name(len(self.names) + 1))
        assert self.stream is not None
        self.writer = CsvWriter(self.stream)
        self.writer.row(self.headings)
        self.in_part = 0

    def _full(self) -> bool:
        if self.in_part >= self.per_part:
            return True
        if not (self.zipped and self.max_bytes and self.in_part % _BYTES_CHECKED_EVERY == 0 and self.in_part):
            return False
        assert self.raw is not None
        return self.raw.tell() >= self.max_bytes

    def row(self, values: Iterable[Any]) -> None:
        """Write one row (cells as `cell`), starting a new file past the limits."""
        if self._full():
            self._next_part()
        self.writer.row(values)
        self.in_part += 1
        self.rows += 1

    def close(self) -> list[Path]:
        """Rename the finished files into place; return them (the CSV, or the zip or zips)."""
        assert self.stream is not None
        if self.zipped:
            self._close_zip()
            for path in self.files:
                part_file(path).replace(path)
            return list(self.files)
        self.stream.close()
        if self.zip is None:
            part_file(self.target).replace(self.target)
            self.names = [self.target.name]
            return [self.target]
        self.zip.close()
        part_file(self.zip_path).replace(self.zip_path)
        return [self.zip_path]

    def discard(self) -> None:
        """Remove the unfinished files."""
        if self.stream is not None:
            self.stream.close()
        if self.zip is not None:
            self.zip.close()
        if self.raw is not None:
            self.raw.close()
        for path in (self.target, self.zip_path, *self.files):
            part_file(path).unlink(missing_ok=True)


NUMBER = "#,##0"
PERCENT = "0%"
DAY = "dd/mm/yyyy"
MOMENT = "dd/mm/yyyy hh:mm"
