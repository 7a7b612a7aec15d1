"""`tocns indicators import FILE` and `tocns export activities`: the catalogue and the activity export."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from tocns.features.activity import store as activity_store


OPERATOR = "operator-cli"
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


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `indicators` and `export` subcommands."""
    ind = sub.add_parser("indicators", help="danh mục chỉ tiêu").add_subparsers(dest="ind_command", required=True)
    imp = ind.add_parser("import", help="nạp/cập nhật danh mục chỉ tiêu từ tệp JSON (theo mã)")
    imp.add_argument("file", type=Path)
    imp.set_defaults(func=_import)

    export = sub.add_parser("export", help="xuất dữ liệu").add_subparsers(dest="export_command", required=True)
    act = export.add_parser("activities", help="xuất kết quả đã ghi, mỗi dòng một chỉ tiêu của một phiếu")
    act.add_argument("--format", choices=("csv", "jsonl", "xlsx"), default="csv")
    act.add_argument("--since", help="từ ngày (dd/mm/yyyy)")
    act.add_argument("--until", help="đến ngày (dd/mm/yyyy)")
    act.add_argument("--org", help="chỉ đơn vị này và cấp dưới (mã đơn vị)")
    act.add_argument("--output", "-o", type=Path, help="ghi ra tệp (bắt buộc với xlsx); mặc định stdout")
    act.set_defaults(func=_export)


def _import(args: argparse.Namespace) -> int:
    from tocns.cli_common import prepared_settings, run_in_session
    from tocns.core.filelimits import FileTooLarge, ImportLimits, check_file_size
    from tocns.features.activity import store as activity_store
    from tocns.features.activity.grammar import read_specs_file

    try:
        check_file_size(args.file, ImportLimits.from_settings(prepared_settings()))
        specs = read_specs_file(args.file)
    except FileNotFoundError:
        raise SystemExit(f"Lỗi: không có tệp {args.file}.") from None
    except FileTooLarge as exc:
        raise SystemExit(f"Lỗi: {exc} Không nạp gì.") from None
    except (ValueError, json.JSONDecodeError) as exc:
        raise SystemExit(f"Lỗi: tệp chỉ tiêu {args.file} không hợp lệ: {exc}") from None

    async def work(session: AsyncSession) -> tuple[int, int]:
        return await activity_store.import_catalogue(session, specs, actor_label=OPERATOR)

    added, updated = run_in_session(work)
    print(f"Đã nạp {len(specs)} chỉ tiêu: {added} mới, {updated} cập nhật.")
    return 0


def _date(text: str | None, flag: str) -> date | None:
    if not text:
        return None
    from tocns.core.dates import DateError, check_year

    for fmt in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            day = datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
        try:
            check_year(day.year, text.strip())
        except DateError as exc:
            raise SystemExit(f"Lỗi: {flag}: {exc}") from exc
        return day
    raise SystemExit(f"Lỗi: {flag} {text!r} không phải ngày hợp lệ; viết dd/mm/yyyy, ví dụ 01/11/2026.")


def _values(row: activity_store.ExportRow, tz: Any) -> dict[str, Any]:
    """One export row with typed values: dates as dates, timestamps in local time."""
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
        "photo": row.photo,
        "message_text": row.message_text,
        "created_at": row.created_at.astimezone(tz).replace(tzinfo=None),
        "updated_at": row.updated_at.astimezone(tz).replace(tzinfo=None) if row.updated_at else None,
    }


def _json_line(values: dict[str, Any]) -> str:
    data = dict(values)
    data["activity_date"] = values["activity_date"].isoformat()
    for key in ("created_at", "updated_at"):
        data[key] = values[key].isoformat(timespec="seconds") if values[key] else ""
    return json.dumps(data, ensure_ascii=False) + "\n"


def _write_xlsx(rows: list[dict[str, Any]], target: Path, max_rows: int | None = None) -> None:
    """A write-only workbook: real dates, number formats, frozen header, filters; continued past a sheet's rows."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    from tocns.core.exports import DAY, EXCEL_MAX_ROWS, MOMENT, NUMBER, defuse

    max_rows = max_rows or EXCEL_MAX_ROWS
    formats = {"activity_date": DAY, "quantity": NUMBER, "created_at": MOMENT, "updated_at": MOMENT}
    widths = {"org_path": 40, "message_text": 40, "note": 30, "indicator_name": 28, "person": 22}
    book = Workbook(write_only=True)
    chunks = [rows[i : i + max_rows - 1] for i in range(0, len(rows), max_rows - 1)] or [[]]
    for number, chunk in enumerate(chunks, start=1):
        sheet = book.create_sheet(SHEET if number == 1 else f"{SHEET} ({number})")
        for index, key in enumerate(KEYS, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = widths.get(key, 15)
        sheet.freeze_panes = "A2"
        header = []
        for heading in HEADINGS:
            head = WriteOnlyCell(sheet, heading)
            head.font = Font(bold=True)
            header.append(head)
        sheet.append(header)
        for row in chunk:
            cells = []
            for key in KEYS:
                value = row[key]
                cell = WriteOnlyCell(sheet, defuse(value) if isinstance(value, str) else value)
                if isinstance(value, str):
                    cell.data_type = "s"  # user text is never a formula, and defused like the CSV
                elif key in formats and row[key] is not None:
                    cell.number_format = formats[key]
                cells.append(cell)
            sheet.append(cells)
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(KEYS))}{len(chunk) + 1}"
    book.save(target)


def _export(args: argparse.Namespace) -> int:
    from tocns.cli_common import prepared_settings, run_in_session
    from tocns.core.exports import CsvText
    from tocns.features.activity import store as activity_store
    from tocns.features.org import store as org_store

    since, until = _date(args.since, "--since"), _date(args.until, "--until")
    if args.format == "xlsx" and args.output is None:
        raise SystemExit("Lỗi: định dạng xlsx cần --output TỆP.xlsx")
    tz = prepared_settings().tz

    async def work(session: AsyncSession) -> list[activity_store.ExportRow]:
        under = await org_store.require_unit(session, args.org) if args.org else None
        return await activity_store.export_rows(session, since=since, until=until, under=under)

    rows = [_values(r, tz) for r in run_in_session(work)]
    if args.format == "xlsx":
        _write_xlsx(rows, args.output)
        print(f"Đã xuất {len(rows)} dòng vào {args.output}", file=sys.stderr)
        return 0
    if args.format == "csv":
        out = CsvText()
        out.row(HEADINGS)
        out.rows([row[key] for key in KEYS] for row in rows)
        data = out.text()
    else:
        data = "".join(_json_line(row) for row in rows)
    if args.output is not None:
        args.output.write_text(data, encoding="utf-8")
        print(f"Đã xuất {len(rows)} dòng vào {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(data)
    return 0
