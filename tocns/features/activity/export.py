"""The writers of `tocns export activities`: rows streamed to CSV, JSON lines or a workbook, none held in memory
and none left out (past Excel's rows per sheet a workbook continues on more sheets and a CSV file becomes several
CSV files in one zip; the output says so)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

from tocns.core.exports import DAY, EXCEL_MAX_ROWS, MOMENT, NUMBER, CsvWriter, defuse, part_file
from tocns.core.exports import CsvParts as Files
from tocns.core.text import grouped
from tocns.features.activity.store import ExportRow

# (JSON lines key, Vietnamese heading of the CSV and the workbook); JSON lines keep the English keys for programs.
COLUMNS = (
    ("record_id", "Mã phiếu"),
    ("activity_date", "Ngày hoạt động"),
    ("org_path", "Đơn vị"),
    ("org_codes", "Mã đơn vị"),
    ("person", "Người ghi"),
    ("indicator_code", "Mã chỉ tiêu"),
    ("indicator_name", "Chỉ tiêu"),
    ("quantity", "Số lượng"),
    ("unit", "Đơn vị tính"),
    ("note", "Ghi chú"),
    ("photo", "Ảnh minh chứng"),
    ("message_text", "Tin nhắn gốc"),
    ("created_at", "Ghi lúc"),
    ("updated_at", "Sửa lúc"),
)
KEYS = tuple(key for key, _ in COLUMNS)
HEADINGS = tuple(heading for _, heading in COLUMNS)
SHEET = "Hoạt động"
NOTE_SHEET = "Ghi chú"
"""The sheet that opens first when the rows were split across sheets, saying so."""
ALL_KEPT = "đủ mọi dòng, không bỏ dòng nào"


def _local(moment: datetime, tz: Any) -> datetime:
    """A stored UTC moment (naive when SQLite hands it back so) as a naive local time: Excel has no time zones."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(tz).replace(tzinfo=None)


def values(row: ExportRow, tz: Any, photo: Callable[[str | None], str]) -> dict[str, Any]:
    """One export row with typed values: dates as dates, timestamps in local time, the photo as readers see it
    (activity.evidence.photo_shown: a signed link to the kept picture, never the stored platform reference)."""
    return {
        "record_id": row.record_id,
        "activity_date": row.activity_date,
        "org_path": row.org_path,
        "org_codes": row.org_codes,
        "person": row.person,
        "indicator_code": row.indicator_code,
        "indicator_name": row.indicator_name,
        "quantity": row.quantity,
        "unit": row.unit,
        "note": row.note,
        "photo": photo(row.photo or None),
        "message_text": row.message_text,
        "created_at": _local(row.created_at, tz),
        "updated_at": _local(row.updated_at, tz) if row.updated_at else None,
    }


@dataclass
class Written:
    """What an export wrote: its row count, where, the parts (sheets or CSV files) and a notice when it was split
    or would not open whole in Excel."""

    rows: int
    target: str
    parts: list[str] = field(default_factory=list)
    notice: str | None = None


class Writer(Protocol):
    """One export's output: rows go in as they are read, `close` finishes it, `discard` removes a half-written one."""

    def add(self, rows: Iterable[dict[str, Any]]) -> None:
        """Write rows (the `values` of export rows)."""

    def close(self) -> Written:
        """Finish the output and say what it holds."""

    def discard(self) -> None:
        """Remove what a failed export wrote."""


class JsonLines:
    """JSON lines for programs: English keys, ISO dates, no row limit."""

    def __init__(self, target: Path | None) -> None:
        self.target = target
        self.stream: TextIO = open(part_file(target), "w", encoding="utf-8") if target else sys.stdout  # noqa: SIM115
        self.rows = 0

    def add(self, rows: Iterable[dict[str, Any]]) -> None:
        """Write one line per row."""
        for row in rows:
            data = dict(row)
            data["activity_date"] = row["activity_date"].isoformat()
            for key in ("created_at", "updated_at"):
                data[key] = row[key].isoformat(timespec="seconds") if row[key] else ""
            self.stream.write(json.dumps(data, ensure_ascii=False) + "\n")
            self.rows += 1

    def close(self) -> Written:
        """Flush stdout, or rename the finished file into place."""
        if self.target is None:
            self.stream.flush()
            return Written(self.rows, "stdout")
        self.stream.close()
        part_file(self.target).replace(self.target)
        return Written(self.rows, str(self.target))

    def discard(self) -> None:
        """Remove the unfinished file."""
        if self.target is not None:
            self.stream.close()
            part_file(self.target).unlink(missing_ok=True)


def _csv_values(row: dict[str, Any]) -> list[Any]:
    return [row[key] for key in KEYS]


class CsvOut:
    """A CSV to stdout (a pipe to a program): one stream whatever its length; past Excel's rows the notice says
    that Excel would open it short and how to get it split."""

    def __init__(self, max_rows: int = EXCEL_MAX_ROWS) -> None:
        self.per_part = max_rows - 1
        self.writer = CsvWriter(sys.stdout)
        self.writer.row(HEADINGS)
        self.rows = 0

    def add(self, rows: Iterable[dict[str, Any]]) -> None:
        """Write the rows."""
        for row in rows:
            self.writer.row(_csv_values(row))
            self.rows += 1

    def close(self) -> Written:
        """Flush; a notice when Excel could not open it whole."""
        sys.stdout.flush()
        notice = None
        if self.rows > self.per_part:
            notice = (
                f"Lưu ý: {grouped(self.rows)} dòng, nhiều hơn {grouped(self.per_part)} dòng Excel mở được trong một "
                "tệp CSV: mở bằng Excel sẽ thiếu dòng. Ghi ra tệp (-o TỆP.csv) để được chia thành nhiều tệp CSV "
                "trong một tệp zip."
            )
        return Written(self.rows, "stdout", notice=notice)

    def discard(self) -> None:
        """Nothing to remove: stdout belongs to the caller."""


class CsvParts:
    """A CSV file, or past `max_rows` (header included, Excel's rows per sheet by default) several CSV files of at
    most that many rows, each with the header, streamed into one zip next to the target (`x.csv` -> `x.zip`):
    core.exports.CsvParts with the export's columns and its notice."""

    def __init__(self, target: Path, max_rows: int = EXCEL_MAX_ROWS) -> None:
        self.files = Files(target, HEADINGS, max_rows)

    def add(self, rows: Iterable[dict[str, Any]]) -> None:
        """Write the rows, starting a new file past the limit."""
        for row in rows:
            self.files.row(_csv_values(row))

    def close(self) -> Written:
        """Rename the finished CSV (or zip) into place; the notice says when the rows were split."""
        files = self.files
        (written,) = files.close()
        if written == files.target:
            return Written(files.rows, str(written), [written.name])
        notice = (
            f"Dữ liệu có {grouped(files.rows)} dòng, nhiều hơn {grouped(files.per_part)} dòng Excel mở được trong một "
            f"tệp CSV, nên được chia thành {len(files.names)} tệp CSV trong {written} "
            f"({', '.join(files.names)}); {ALL_KEPT}."
        )
        return Written(files.rows, str(written), list(files.names), notice)

    def discard(self) -> None:
        """Remove the unfinished files."""
        self.files.discard()


FORMATS = {"activity_date": DAY, "quantity": NUMBER, "created_at": MOMENT, "updated_at": MOMENT}
WIDTHS = {"org_path": 40, "message_text": 40, "note": 30, "indicator_name": 28, "person": 22, "photo": 30}


class Sheets:
    """A write-only workbook: real dates, number formats, frozen header, filters; past `max_rows` (header
    included) the rows continue on "Hoạt động (2)", ... and a first sheet "Ghi chú" says so."""

    def __init__(self, target: Path, max_rows: int = EXCEL_MAX_ROWS) -> None:
        from openpyxl import Workbook

        self.target = target
        self.per_part = max_rows - 1
        self.book = Workbook(write_only=True)
        self.sheets: list[Any] = []
        self.rows = self.in_sheet = 0
        self._next_sheet()

    def _next_sheet(self) -> None:
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font
        from openpyxl.utils import get_column_letter

        if self.sheets:
            self._close_sheet()
        number = len(self.sheets) + 1
        sheet = self.book.create_sheet(SHEET if number == 1 else f"{SHEET} ({number})")
        for index, key in enumerate(KEYS, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = WIDTHS.get(key, 15)
        sheet.freeze_panes = "A2"
        header = []
        for heading in HEADINGS:
            head = WriteOnlyCell(sheet, heading)
            head.font = Font(bold=True)
            header.append(head)
        sheet.append(header)
        self.sheets.append(sheet)
        self.in_sheet = 0

    def _close_sheet(self) -> None:
        from openpyxl.utils import get_column_letter

        self.sheets[-1].auto_filter.ref = f"A1:{get_column_letter(len(KEYS))}{self.in_sheet + 1}"

    def _cell(self, sheet: Any, key: str, value: Any) -> Any:
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font

        cell = WriteOnlyCell(sheet, defuse(value) if isinstance(value, str) else value)
        if isinstance(value, str):
            cell.data_type = "s"  # user text is never a formula, and defused like the CSV
            if key == "photo" and value.startswith(("http://", "https://")):
                # A cell hyperlink, not a HYPERLINK() formula: the workbook holds no formula (docs/security.md).
                cell.hyperlink = value
                cell.font = Font(color="0563C1", underline="single")
        elif key in FORMATS and value is not None:
            cell.number_format = FORMATS[key]
        return cell

    def add(self, rows: Iterable[dict[str, Any]]) -> None:
        """Append the rows, continuing on a new sheet past the limit."""
        for row in rows:
            if self.in_sheet >= self.per_part:
                self._next_sheet()
            sheet = self.sheets[-1]
            sheet.append([self._cell(sheet, key, row[key]) for key in KEYS])
            self.in_sheet += 1
            self.rows += 1

    def close(self) -> Written:
        """Save under a temporary name and rename; when split, the notice opens the workbook."""
        self._close_sheet()
        names = [sheet.title for sheet in self.sheets]
        notice = None
        if len(self.sheets) > 1:
            notice = (
                f"Dữ liệu có {grouped(self.rows)} dòng, nhiều hơn {grouped(self.per_part)} dòng một trang Excel, "
                f"nên được chia sang {len(names)} trang ({', '.join(names)}); {ALL_KEPT}."
            )
            note = self.book.create_sheet(NOTE_SHEET)
            note.column_dimensions["A"].width = 120
            note.append([notice])
            self.book.move_sheet(NOTE_SHEET, offset=-len(self.sheets))
        self.book.save(part_file(self.target))
        part_file(self.target).replace(self.target)
        return Written(self.rows, str(self.target), names, notice)

    def discard(self) -> None:
        """Remove the unfinished file (a write-only workbook is written only by close)."""
        part_file(self.target).unlink(missing_ok=True)


def open_writer(kind: str, target: Path | None, max_rows: int = EXCEL_MAX_ROWS) -> Writer:
    """The writer of one export format (csv, jsonl, xlsx) to a file, or stdout when `target` is None."""
    if kind == "xlsx":
        assert target is not None  # the CLI refuses xlsx without --output first
        return Sheets(target, max_rows)
    if kind == "jsonl":
        return JsonLines(target)
    return CsvParts(target, max_rows) if target is not None else CsvOut(max_rows)
