"""`tocns indicators import FILE` and `tocns export activities`: the catalogue and the activity export."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession


OPERATOR = "operator-cli"


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
    act.add_argument(
        "--max-rows",
        type=int,
        default=None,
        help="số dòng tối đa (kể cả dòng tiêu đề) của một trang Excel hoặc một tệp CSV; nhiều hơn thì chia sang "
        "trang sau hoặc thành nhiều tệp CSV trong một tệp zip (mặc định 1.048.576, giới hạn của Excel)",
    )
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


def _max_rows(value: int | None) -> int:
    from tocns.core.exports import EXCEL_MAX_ROWS
    from tocns.core.text import grouped

    if value is None:
        return EXCEL_MAX_ROWS
    if not 2 <= value <= EXCEL_MAX_ROWS:
        raise SystemExit(f"Lỗi: --max-rows phải từ 2 đến {grouped(EXCEL_MAX_ROWS)} (giới hạn một trang Excel).")
    return value


def _export(args: argparse.Namespace) -> int:
    from tocns.cli_common import prepared_settings, run_in_session
    from tocns.core.clock import utcnow
    from tocns.features.activity import store as activity_store
    from tocns.features.activity.evidence import shown_by
    from tocns.features.activity.export import Written, open_writer, values
    from tocns.features.org import store as org_store

    since, until = _date(args.since, "--since"), _date(args.until, "--until")
    max_rows = _max_rows(args.max_rows)
    if args.format == "xlsx" and args.output is None:
        raise SystemExit("Lỗi: định dạng xlsx cần --output TỆP.xlsx")
    settings = prepared_settings()
    # Photo links are signed as of now, like every workbook's (the injected clock).
    tz, photo = settings.tz, shown_by(settings, utcnow())

    async def work(session: AsyncSession) -> Written:
        under = await org_store.require_unit(session, args.org) if args.org else None
        writer = open_writer(args.format, args.output, max_rows)
        try:
            async for batch in activity_store.stream_export_rows(session, since=since, until=until, under=under):
                writer.add(values(row, tz, photo) for row in batch)
            return writer.close()
        except BaseException:
            writer.discard()
            raise

    written = run_in_session(work)
    if written.target != "stdout":
        print(f"Đã xuất {written.rows} dòng vào {written.target}", file=sys.stderr)
    if written.notice:
        print(written.notice, file=sys.stderr)
    return 0
