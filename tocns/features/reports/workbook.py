"""The report workbook an officer filters and sorts: openpyxl in write-only mode, every raw row kept.

Sheets, in order: "Tổng hợp" (figures, row count, native charts), "Theo đơn vị" (one row per child unit with
completeness and timeliness), "Theo tổ" (one row per team under its unit), "Tổ chưa báo cáo" (silent teams by name
with unit and leader), one sheet per child unit (its teams), then "Dữ liệu gốc" (one row per recorded item),
continued on "Dữ liệu gốc (2)", ... past Excel's 1,048,576 rows per sheet. Above REPORT_RAW_SHEET_MAX_ROWS raw
rows (`RawOutside`), the raw rows leave the workbook for CSV in a zip next to it, and the summary sheet says where.
Decisions: docs/reports.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from tocns.core.dates import fmt_date
from tocns.core.exports import DAY, EXCEL_MAX_ROWS, MOMENT, NUMBER, PERCENT, CsvParts, defuse
from tocns.core.sheet_rows import write_rows_as_text
from tocns.core.text import grouped
from tocns.features.reports.store import Report

SUMMARY = "Tổng hợp"
BY_UNIT = "Theo đơn vị"
BY_TEAM = "Theo tổ"
SILENT = "Tổ chưa báo cáo"
PLAN = "Kế hoạch"
RAW = "Dữ liệu gốc"
RESERVED = {SUMMARY, BY_UNIT, BY_TEAM, SILENT, PLAN, RAW}
PLAN_HEADERS = (
    "Cấp",
    "Mã đơn vị",
    "Đơn vị",
    "Đơn vị cấp trên",
    "Mã chỉ tiêu",
    "Chỉ tiêu",
    "Kỳ",
    "Mục tiêu",
    "Đã đạt (luỹ kế)",
    "Tỷ lệ đạt",
    "Cần đạt theo tiến độ",
    "Tiến độ",
    "Số hộ",
    "Đã đạt / số hộ",
    "Số người trưởng thành",
)

RAW_HEADERS = (
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
)
RAW_WIDTHS = (10, 14, 24, 14, 24, 24, 30, 11, 12, 40, 16, 17)

_BOLD = Font(bold=True)
_TITLE = Font(bold=True, size=14)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_WRAP = Alignment(wrap_text=True, vertical="top")


def _width(values: Iterable[Any], minimum: int = 8, maximum: int = 45) -> int:
    """A column width (characters) that fits the longest value, within bounds."""
    longest = max((len(_shown(v)) for v in values), default=0)
    return max(minimum, min(maximum, longest + 2))


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.0%}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, datetime):
        return "00/00/0000 00:00"
    if isinstance(value, date):
        return "00/00/0000"
    return str(value)


def _local(value: Any, tz: ZoneInfo) -> datetime | None:
    """A stored UTC timestamp as a naive local datetime (Excel has no time zones)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(tz).replace(tzinfo=None)


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _is_link(value: str | None) -> bool:
    return bool(value) and str(value).startswith(("http://", "https://"))


def _photo_cell(ws: WriteOnlyWorksheet, value: str | None) -> WriteOnlyCell:
    # A cell hyperlink, not a HYPERLINK() formula: the workbook holds no formula at all (docs/security.md).
    if _is_link(value):
        cell = _text(ws, "Xem ảnh")
        cell.hyperlink = value
        cell.font = Font(color="0563C1", underline="single")
        return cell
    return _text(ws, value or "")


def _text(ws: WriteOnlyWorksheet, value: str) -> WriteOnlyCell:
    """A text cell that stays text: a note typed as "=1+1" is never a formula, and is defused (csvout.defuse) so it
    cannot become one when the sheet is copied or saved as CSV."""
    cell = WriteOnlyCell(ws, defuse(value))
    cell.data_type = "s"
    return cell


def _cell(ws: WriteOnlyWorksheet, value: Any, fmt: str | None = None, font: Font | None = None) -> WriteOnlyCell:
    cell = _text(ws, value) if isinstance(value, str) else WriteOnlyCell(ws, value)
    if fmt and value is not None:
        cell.number_format = fmt
    if font is not None:
        cell.font = font
    return cell


def _plain(ws: WriteOnlyWorksheet, value: Any) -> Any:
    """A value as a plain value, not a cell object (a fraction of the cost at 100,000s of cells): openpyxl writes a
    text as text unless it starts with "=", which a defused text never does, or is an error's name ("#N/A"): a
    text cell then."""
    if isinstance(value, str):
        value = defuse(value)
        if value.startswith("=") or value in ERROR_CODES:
            return _text(ws, value)
    return value


class _Columns:
    """The cells of a table's data rows, column by column: a plain value where the column has no format, else one
    reusable styled cell per column (a write-only sheet writes each row as it is appended, as _StyledCells); the
    same sheet as a new styled cell per value, for a fraction of the cost (2,400 teams: two tables of 20 columns)."""

    def __init__(self, ws: WriteOnlyWorksheet, formats: Sequence[str | None]) -> None:
        self.ws = ws
        self.formats = list(formats)
        self.styled = [None if f is None else _cell(ws, 0, f) for f in formats]

    def row(self, values: Sequence[Any]) -> list[Any]:
        """One data row's cells (`_cell(ws, value, format)` for each, the same to a reader)."""
        out: list[Any] = []
        for value, fmt, styled in zip(values, self.formats, self.styled, strict=True):
            if value is None or styled is None:
                out.append(_plain(self.ws, value))
            elif not isinstance(value, int | float | Decimal):
                # A text, or a date (openpyxl would give the reused cell a date format that stays): a cell of its own.
                out.append(_cell(self.ws, value, fmt))
            else:
                styled.value = value
                out.append(styled)
        return out


class _StyledCells:
    """One reusable cell per number format of the raw sheet: a write-only sheet writes each row as it is appended,
    so the same cell can carry the next row's value (creating and styling a cell per value was most of the time)."""

    def __init__(self, ws: WriteOnlyWorksheet) -> None:
        self._day = _cell(ws, date(2000, 1, 1), DAY)
        self._number = _cell(ws, 0, NUMBER)
        self._moment = _cell(ws, datetime(2000, 1, 1), MOMENT)

    @staticmethod
    def _with(cell: WriteOnlyCell, value: Any) -> WriteOnlyCell | None:
        # No value, no cell (as before: an empty cell carries no format).
        if value is None:
            return None
        cell.value = value
        return cell

    def day(self, value: date) -> WriteOnlyCell | None:
        """The activity date, formatted dd/mm/yyyy."""
        return self._with(self._day, value)

    def number(self, value: Any) -> WriteOnlyCell | None:
        """A quantity with thousands separators."""
        return self._with(self._number, value)

    def moment(self, value: datetime | None) -> WriteOnlyCell | None:
        """A local moment, formatted dd/mm/yyyy hh:mm."""
        return self._with(self._moment, value)


class _Table:
    """A header row plus typed data rows on a write-only sheet: widths fitted, header frozen, autofilter set."""

    def __init__(
        self,
        ws: WriteOnlyWorksheet,
        headers: Sequence[str],
        formats: Sequence[str | None],
        rows: Sequence[Sequence[Any]],
        preamble: Sequence[Sequence[Any]] = (),
    ) -> None:
        self.ws = ws
        for index, header in enumerate(headers):
            column = [header, *(row[index] for row in rows)]
            ws.column_dimensions[get_column_letter(index + 1)].width = _width(column, maximum=40)
        self.header_row = len(preamble) + 1
        # Freeze the header (and the first column, the unit's name or code, when there are many columns).
        ws.freeze_panes = f"{'C' if len(headers) > 8 else 'A'}{self.header_row + 1}"
        for number, line in enumerate(preamble):
            ws.append(
                [_cell(ws, v, NUMBER if isinstance(v, int) else None, _TITLE if number == 0 else None) for v in line]
            )
        ws.append([self._header(h) for h in headers])
        columns = _Columns(ws, formats)
        for row in rows:
            ws.append(columns.row(row))
        self.last_row = self.header_row + len(rows)
        ws.auto_filter.ref = f"A{self.header_row}:{get_column_letter(len(headers))}{self.last_row}"

    def _header(self, text: str) -> WriteOnlyCell:
        cell = _text(self.ws, text)
        cell.font = _BOLD
        cell.fill = _HEADER_FILL
        cell.alignment = _WRAP
        return cell


def _rate(part: int, whole: int) -> float | None:
    # None (an empty cell) when there is nothing to count: 0/0 is not 0%.
    return part / whole if whole else None


def _sheet_title(name: str, used: set[str]) -> str:
    """A unique Excel sheet name: at most 31 characters, none of []:*?/\\."""
    clean = "".join("-" if ch in "[]:*?/\\" else ch for ch in name).strip("'")[:31] or "Đơn vị"
    title, n = clean, 2
    while title.casefold() in {u.casefold() for u in used}:
        suffix = f" ({n})"
        title = clean[: 31 - len(suffix)] + suffix
        n += 1
    used.add(title)
    return title


RAW_ZIP_SUFFIX = "-du-lieu-goc.zip"
"""The raw data's zip is named after its workbook: bao-cao-X-2026-W48.xlsx -> bao-cao-X-2026-W48-du-lieu-goc.zip."""


def raw_zip_for(workbook: str | Path) -> Path:
    """Where the raw data of the workbook at `workbook` goes when it leaves the workbook."""
    path = Path(workbook)
    return path.with_name(path.name.removesuffix(".part").removesuffix(".xlsx") + RAW_ZIP_SUFFIX)


@dataclass(frozen=True)
class RawOutside:
    """When the raw rows leave the workbook: above `above` rows (REPORT_RAW_SHEET_MAX_ROWS; 0: never) every raw row
    goes as CSV into the zip `target` (more zips past Excel's rows per CSV or `max_bytes` each)."""

    above: int
    target: Path
    max_bytes: int = 0


@dataclass(frozen=True)
class Saved:
    """What a saved report workbook holds: its raw row count and the zips its raw rows went to (none: on sheets)."""

    raw_rows: int
    raw_files: list[Path] = field(default_factory=list)


class ReportWorkbook:
    """Build a report workbook: feed the raw rows in batches (add_raw), then save; memory stays flat."""

    def __init__(
        self,
        report: Report,
        tz: ZoneInfo,
        max_rows: int = EXCEL_MAX_ROWS,
        photo: Callable[[str | None], str] | None = None,
        outside: RawOutside | None = None,
    ) -> None:
        if max_rows < 2:
            raise ValueError("max_rows must leave room for a header and a row")
        # How a record's photo is shown (activity.evidence.photo_shown: a signed link to the kept picture).
        self.photo = photo
        self.report = report
        self.tz = tz
        self.max_rows = max_rows
        self.raw_count = 0
        self.wb = Workbook(write_only=True)
        # Created first so it opens first; written last, once the raw row count is known.
        self.summary = self._sheet(SUMMARY)
        self._codes = [t.code for t in report.totals]
        self._names = [t.name for t in report.totals]
        self._used: set[str] = set(RESERVED)
        self._unit_sheet()
        self._team_sheet()
        self._silent_sheet()
        self._plan_sheet()
        self._child_sheets()
        self._raw_sheets: list[WriteOnlyWorksheet] = []
        self._raw_in_sheet = 0
        # Rows held until they pass `outside.above` (then all go to CSV) or the end (then all go on the raw sheet).
        self._outside = outside if outside is not None and outside.above > 0 else None
        self._held: list[Sequence[Any]] = []
        self._csv: CsvParts | None = None
        self._raw_files: list[Path] = []

    def _sheet(self, title: str) -> WriteOnlyWorksheet:
        """A new sheet whose rows are written as XML text (core.sheet_rows: openpyxl's bytes, a fraction of its CPU)."""
        ws = self.wb.create_sheet(title)
        write_rows_as_text(ws)
        return ws

    # ------------------------------------------------------------ fixed sheets

    def _unit_rows(self) -> list[list[Any]]:
        return [
            [
                c.code,
                c.name,
                c.teams,
                c.reporting_teams,
                _rate(c.reporting_teams, c.teams),
                c.records,
                c.timely_records,
                _rate(c.timely_records, c.records),
                *(c.by_indicator.get(k, 0) for k in self._codes),
            ]
            for c in self.report.children
        ]

    def _unit_sheet(self) -> None:
        # A commune's children are its teams: "Theo tổ" lists them once, with their leaders.
        if not self.report.children or self.report.unit_level == "commune":
            return
        ws = self._sheet(BY_UNIT)
        headers = [
            "Mã đơn vị",
            "Đơn vị",
            "Số tổ",
            "Tổ có báo cáo",
            "Tỷ lệ tổ báo cáo",
            "Lượt ghi",
            "Lượt ghi đúng hạn",
            "Tỷ lệ đúng hạn",
            *self._names,
        ]
        formats = [None, None, NUMBER, NUMBER, PERCENT, NUMBER, NUMBER, PERCENT, *([NUMBER] * len(self._codes))]
        rows = self._unit_rows()
        table = _Table(ws, headers, formats, rows)
        if rows:
            chart = BarChart()
            chart.type = "bar"
            chart.title = "Tỷ lệ tổ báo cáo"
            chart.y_axis.number_format = PERCENT
            chart.y_axis.scaling.min = 0
            chart.y_axis.scaling.max = 1
            chart.legend = None
            data = Reference(ws, min_col=5, min_row=table.header_row, max_row=table.last_row)
            chart.add_data(data, titles_from_data=True)
            chart.set_categories(Reference(ws, min_col=2, min_row=table.header_row + 1, max_row=table.last_row))
            chart.height = min(60.0, max(7.5, 0.5 * len(rows)))
            chart.width = 16
            ws.add_chart(chart, f"{get_column_letter(len(headers) + 2)}2")

    def _team_headers(self) -> tuple[list[str], list[str | None]]:
        headers = [
            "Mã đơn vị cấp trên",
            "Đơn vị cấp trên",
            "Mã tổ",
            "Tổ",
            "Tổ trưởng",
            "Lượt ghi",
            "Lượt ghi đúng hạn",
            "Tỷ lệ đúng hạn",
            "Đã báo cáo",
            *self._names,
        ]
        formats: list[str | None] = [None] * 5 + [NUMBER, NUMBER, PERCENT, None] + [NUMBER] * len(self._codes)
        return headers, formats

    def _team_row(self, t: Any) -> list[Any]:
        return [
            t.parent_code,
            t.parent_name,
            t.code,
            t.name,
            t.leader,
            t.records,
            t.timely_records,
            _rate(t.timely_records, t.records),
            "có" if t.records else "chưa",
            *(t.by_indicator.get(k, 0) for k in self._codes),
        ]

    def _team_sheet(self) -> None:
        if self.report.unit_level == "team" or not self.report.team_rows:
            return
        ws = self._sheet(BY_TEAM)
        headers, formats = self._team_headers()
        _Table(ws, headers, formats, [self._team_row(t) for t in self.report.team_rows])

    def _silent_sheet(self) -> None:
        if self.report.unit_level == "team":
            return
        ws = self._sheet(SILENT)
        rows = [[t.parent_code, t.parent_name, t.code, t.name, t.leader] for t in self.report.silent_teams]
        _Table(ws, ["Mã đơn vị cấp trên", "Đơn vị cấp trên", "Mã tổ", "Tổ", "Tổ trưởng"], [None] * 5, rows)

    def _plan_sheet(self) -> None:
        # The year's plan: every target under the unit with its progress, the same rows as the chat and the API.
        progress = self.report.progress
        if progress is None:
            return
        ws = self._sheet(PLAN)
        levels = {"team": "Tổ", "commune": "Xã/phường", "district": "Huyện", "province": "Tỉnh"}
        rows = [
            [
                levels.get(r.unit_level, r.unit_level),
                r.unit_code,
                r.unit_name,
                r.parent_name,
                r.indicator,
                r.indicator_name,
                "Cả năm" if r.month == 0 else f"Tháng {r.month}",
                r.target,
                r.done,
                r.percent,
                r.expected,
                "đúng tiến độ" if r.on_track else "chậm",
                r.households,
                r.household_share,
                r.adults,
            ]
            for r in progress.rows
        ]
        formats = [None] * 7 + [NUMBER, NUMBER, PERCENT, NUMBER, None, NUMBER, PERCENT, NUMBER]
        preamble = [[f"Kế hoạch và tiến độ năm {progress.year}, tính đến {fmt_date(progress.as_of)}"], []]
        _Table(ws, PLAN_HEADERS, formats, rows, preamble)

    def _child_sheets(self) -> None:
        # One sheet per child unit (a commune under a province) with its teams; none when the children are teams.
        if self.report.unit_level in ("team", "commune"):
            return
        headers, formats = self._team_headers()
        by_child: dict[str, list[Any]] = {}
        for t in self.report.team_rows:
            by_child.setdefault(t.child_code, []).append(t)
        for c in self.report.children:
            if not c.teams:
                continue  # a unit with no team yet: its row in "Theo đơn vị" says so; no empty sheet
            ws = self._sheet(_sheet_title(c.name, self._used))
            preamble: list[list[Any]] = [
                [f"{c.name} (mã {c.code})"],
                ["Số tổ", c.teams, "Tổ có báo cáo", c.reporting_teams, "Lượt ghi", c.records],
                [],
            ]
            _Table(ws, headers, formats, [self._team_row(t) for t in by_child.get(c.code, [])], preamble)

    # ------------------------------------------------------------ raw rows

    def _new_raw_sheet(self) -> WriteOnlyWorksheet:
        n = len(self._raw_sheets) + 1
        ws = self._sheet(RAW if n == 1 else f"{RAW} ({n})")
        for index, width in enumerate(RAW_WIDTHS):
            ws.column_dimensions[get_column_letter(index + 1)].width = width
        ws.freeze_panes = "A2"
        header = [_text(ws, h) for h in RAW_HEADERS]
        for cell in header:
            cell.font = _BOLD
            cell.fill = _HEADER_FILL
        ws.append(header)
        self._raw_sheets.append(ws)
        self._raw_styled = _StyledCells(ws)
        self._raw_in_sheet = 0
        return ws

    def add_raw(self, rows: Iterable[Sequence[Any]]) -> None:
        """Append raw item rows (the RAW_SQL columns of the reports store): on the raw sheet (a full sheet continues
        on the next), or, once there are more than `outside.above`, all of them as CSV in the raw zip."""
        if self._outside is None:
            self._sheet_rows(rows)
            return
        if self._csv is None:
            self._held.extend(rows)
            if len(self._held) <= self._outside.above:
                return
            out = self._outside
            self._csv = CsvParts(
                out.target.with_suffix(".csv"), RAW_HEADERS, self.max_rows, zipped=True, max_bytes=out.max_bytes
            )
            rows, self._held = self._held, []
        self._csv_rows(self._csv, rows)

    def _csv_rows(self, csv: CsvParts, rows: Iterable[Sequence[Any]]) -> None:
        """The raw rows as CSV cells (core.exports.cell: dates dd/mm/yyyy, text defused), the photo as its link."""
        photo, tz = self.photo, self.tz
        for row in rows:
            rid, day, parent, code, team, person, indicator, qty, unit, note, shot, created = row
            shown = photo(shot) if photo is not None else shot
            csv.row(
                (rid, _day(day), parent, code, team, person, indicator, qty, unit, note, shown, _local(created, tz))
            )
            self.raw_count += 1

    def _sheet_rows(self, rows: Iterable[Sequence[Any]]) -> None:
        ws = self._raw_sheets[-1] if self._raw_sheets else self._new_raw_sheet()
        styled = self._raw_styled
        for row in rows:
            if self._raw_in_sheet >= self.max_rows - 1:
                self._close_raw(ws)
                ws = self._new_raw_sheet()
                styled = self._raw_styled
            rid, day, parent, code, team, person, indicator, qty, unit, note, photo, created = row
            shown = self.photo(photo) if self.photo is not None else photo
            ws.append(
                [
                    rid,
                    styled.day(_day(day)),
                    _plain(ws, parent or ""),
                    _plain(ws, code),
                    _plain(ws, team),
                    _plain(ws, person),
                    _plain(ws, indicator),
                    styled.number(qty),
                    _plain(ws, unit),
                    _plain(ws, note or ""),
                    _photo_cell(ws, shown) if _is_link(shown) else _plain(ws, shown or ""),
                    styled.moment(_local(created, self.tz)),
                ]
            )
            self._raw_in_sheet += 1
            self.raw_count += 1

    def _close_raw(self, ws: WriteOnlyWorksheet) -> None:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(RAW_HEADERS))}{self._raw_in_sheet + 1}"

    # ------------------------------------------------------------ summary and save

    def _write_summary(self) -> None:
        ws = self.summary
        r = self.report
        from tocns.features.reports.render import period_of

        ws.column_dimensions["A"].width = 34
        ws.column_dimensions["B"].width = _width([t.name for t in r.totals] + ["Chỉ tiêu"], minimum=20)
        for col in "CDEF":
            ws.column_dimensions[col].width = 13
        generated = r.generated_at.astimezone(self.tz).replace(tzinfo=None)
        raw_sheets = ", ".join(s.title for s in self._raw_sheets) or RAW
        where = f"(trang {raw_sheets})"
        if self._raw_files:
            where = f"(trong tệp {', '.join(p.name for p in self._raw_files)})"
        lines: list[list[Any]] = [
            [_cell(ws, f"Báo cáo {r.unit_name} (mã {r.unit_code})", font=_TITLE)],
            [_text(ws, "Kỳ báo cáo"), _text(ws, period_of(r).label)],
            [_text(ws, "Từ ngày"), _cell(ws, r.start, DAY), _text(ws, "đến ngày"), _cell(ws, r.end, DAY)],
            [_text(ws, "Lập lúc"), _cell(ws, generated, MOMENT)],
            [_text(ws, "Số tổ"), _cell(ws, r.teams, NUMBER)],
            [_text(ws, "Tổ có báo cáo"), _cell(ws, r.reporting_teams, NUMBER)],
            [_text(ws, "Tỷ lệ tổ báo cáo"), _cell(ws, _rate(r.reporting_teams, r.teams), PERCENT)],
            [_text(ws, "Lượt ghi"), _cell(ws, r.records, NUMBER)],
            [_text(ws, "Lượt ghi đúng hạn (≤2 ngày)"), _cell(ws, r.timely_records, NUMBER)],
            [_text(ws, "Tỷ lệ đúng hạn"), _cell(ws, _rate(r.timely_records, r.records), PERCENT)],
        ]
        if r.tasks is not None:
            lines += [
                [_text(ws, "Nhiệm vụ đến hạn"), _cell(ws, r.tasks.due, NUMBER)],
                [_text(ws, "Nhiệm vụ hoàn thành"), _cell(ws, r.tasks.done, NUMBER)],
                [_text(ws, "Nhiệm vụ quá hạn"), _cell(ws, r.tasks.overdue, NUMBER)],
            ]
        lines += [
            [_text(ws, "Số dòng dữ liệu gốc"), _cell(ws, self.raw_count, NUMBER), _text(ws, where)],
            *self._split_note(),
            [],
        ]
        for line in lines:
            ws.append(line)
        header_row = len(lines) + 1
        headers = ["Mã chỉ tiêu", "Chỉ tiêu", "Đơn vị tính", "Kỳ này", "Kỳ trước", "Thay đổi"]
        ws.append([_cell(ws, h, font=_BOLD) for h in headers])
        # No grand total row: the indicators count different things (people, files, sessions).
        for t in r.totals:
            ws.append(
                [
                    _text(ws, t.code),
                    _text(ws, t.name),
                    _text(ws, t.unit),
                    _cell(ws, t.quantity, NUMBER),
                    _cell(ws, t.previous, NUMBER),
                    _cell(ws, t.change, "+#,##0;-#,##0;0"),
                ]
            )
        if r.totals:
            self._summary_chart(header_row, header_row + len(r.totals))

    def _summary_chart(self, header_row: int, last: int) -> None:
        """The bar chart of this period against the previous one, beside the indicator table."""
        ws = self.summary
        chart = BarChart()
        chart.type = "bar"
        chart.title = "Kết quả theo chỉ tiêu: kỳ này và kỳ trước"
        chart.add_data(Reference(ws, min_col=4, max_col=5, min_row=header_row, max_row=last), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=2, min_row=header_row + 1, max_row=last))
        chart.height = max(7.5, 0.9 * len(self.report.totals))
        chart.width = 18
        ws.add_chart(chart, "H2")

    def _split_note(self) -> list[list[Any]]:
        """A line saying the raw data is in a zip, or continues on more sheets (and nothing was left out); none for
        one sheet."""
        if self._raw_files:
            assert self._outside is not None
            files = ", ".join(p.name for p in self._raw_files)
            kind = "tệp" if len(self._raw_files) == 1 else f"{len(self._raw_files)} tệp"
            note = (
                f"Dữ liệu gốc: {grouped(self.raw_count)} dòng, trong {kind} {files} (CSV UTF-8, mở bằng Excel), "
                f"gửi kèm bảng tính này: nhiều hơn {grouped(self._outside.above)} dòng nên không để trong bảng tính; "
                "đủ mọi dòng, không bỏ dòng nào."
            )
            return [[_text(self.summary, "Ghi chú"), _text(self.summary, note)]]
        if len(self._raw_sheets) < 2:
            return []
        per_sheet = grouped(self.max_rows - 1)
        note = (
            f"Dữ liệu gốc nhiều hơn {per_sheet} dòng (giới hạn một trang Excel) nên được chia sang "
            f"{len(self._raw_sheets)} trang; đủ mọi dòng, không bỏ dòng nào."
        )
        return [[_text(self.summary, "Ghi chú"), _text(self.summary, note)]]

    def save(self, target: str | Path | IO[bytes]) -> Saved:
        """Write the workbook to a path or binary file (and finish the raw zip, if the raw rows went there); say
        how many raw rows there are and where."""
        if self._csv is not None:
            self._raw_files = self._csv.close()
        else:
            self._sheet_rows(self._held)
            self._held = []
            if not self._raw_sheets:
                self._new_raw_sheet()
            self._close_raw(self._raw_sheets[-1])
        try:
            self._write_summary()
            self.wb.save(target)
        except BaseException:
            for path in self._raw_files:
                path.unlink(missing_ok=True)
            raise
        return Saved(self.raw_count, list(self._raw_files))

    def discard(self) -> None:
        """Remove the raw zip's unfinished files (a drawing that failed before `save`)."""
        if self._csv is not None:
            self._csv.discard()


async def write_workbook(
    report: Report,
    batches: AsyncIterator[list[tuple[Any, ...]]],
    tz: ZoneInfo,
    target: str | Path | IO[bytes],
    max_rows: int = EXCEL_MAX_ROWS,
    photo: Callable[[str | None], str] | None = None,
    outside: RawOutside | None = None,
) -> Saved:
    """Stream raw rows from `batches` into a report workbook saved at `target`, each photo shown by `photo` (the raw
    rows as CSV in a zip when `outside` says so); say how many raw rows and where."""
    book = ReportWorkbook(report, tz, max_rows=max_rows, photo=photo, outside=outside)
    try:
        async for batch in batches:
            book.add_raw(batch)
    except BaseException:
        book.discard()
        raise
    return book.save(target)
