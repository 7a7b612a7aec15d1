"""`tocns indicators import FILE` and `tocns export activities`: the catalogue and the activity export."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from tocns.features.activity import store as activity_store


OPERATOR = "operator-cli"
COLUMNS = (
    "record_id",
    "activity_date",
    "org_path",
    "org_codes",
    "person",
    "indicator_code",
    "indicator_name",
    "quantity",
    "unit",
    "note",
    "photo",
    "message_text",
    "created_at",
    "updated_at",
)


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
    from tocns.cli.common import run_in_session
    from tocns.features.activity import store as activity_store
    from tocns.features.activity.grammar import read_specs_file

    try:
        specs = read_specs_file(args.file)
    except FileNotFoundError:
        raise SystemExit(f"Lỗi: không có tệp {args.file}.") from None
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
    for fmt in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    raise SystemExit(f"Lỗi: {flag} {text!r} không phải ngày hợp lệ; viết dd/mm/yyyy, ví dụ 01/11/2026.")


def _cells(row: activity_store.ExportRow, tz: Any) -> dict[str, Any]:
    from tocns.core.dates import fmt_date

    return {
        "record_id": row.record_id,
        "activity_date": fmt_date(row.activity_date),
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
        "created_at": row.created_at.astimezone(tz).isoformat(timespec="seconds"),
        "updated_at": row.updated_at.astimezone(tz).isoformat(timespec="seconds") if row.updated_at else "",
    }


def _export(args: argparse.Namespace) -> int:
    from tocns.cli.common import prepared_settings, run_in_session
    from tocns.features.activity import store as activity_store
    from tocns.features.org import store as org_store

    since, until = _date(args.since, "--since"), _date(args.until, "--until")
    if args.format == "xlsx" and args.output is None:
        raise SystemExit("Lỗi: định dạng xlsx cần --output TỆP.xlsx")
    tz = prepared_settings().tz

    async def work(session: AsyncSession) -> list[activity_store.ExportRow]:
        under = await org_store.require_unit(session, args.org) if args.org else None
        return await activity_store.export_rows(session, since=since, until=until, under=under)

    rows = [_cells(r, tz) for r in run_in_session(work)]
    if args.format == "xlsx":
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.title = "activities"
        sheet.append(list(COLUMNS))
        for row in rows:
            sheet.append([row[c] for c in COLUMNS])
        book.save(args.output)
        print(f"Đã xuất {len(rows)} dòng vào {args.output}", file=sys.stderr)
        return 0
    buffer = io.StringIO()
    if args.format == "csv":
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    else:
        for row in rows:
            buffer.write(json.dumps(row, ensure_ascii=False) + "\n")
    if args.output is not None:
        args.output.write_text(buffer.getvalue(), encoding="utf-8")
        print(f"Đã xuất {len(rows)} dòng vào {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(buffer.getvalue())
    return 0
