"""`tocns report`: a unit's report as text, JSON, CSV, XLSX or PNG."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from tocns.config import Settings
    from tocns.core.period import Period


FORMATS = ("text", "json", "csv", "xlsx", "png")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `report` subcommand."""
    rep = sub.add_parser("report", help="báo cáo của một đơn vị (text, json, csv, xlsx, png)")
    rep.add_argument("org_code")
    rep.add_argument(
        "--period",
        default="tuan",
        help="kỳ như trong /baocao: tuan, tuan truoc, thang, thang truoc, 'thang 10', 2026-W47, 2026-11, "
        "01/11-15/11, 2026-11-01..2026-11-15",
    )
    rep.add_argument(
        "--at", default=None, help='lập báo cáo như vào thời điểm "YYYY-MM-DD HH:MM" giờ địa phương (mặc định: bây giờ)'
    )
    rep.add_argument("--format", default="text", choices=FORMATS)
    rep.add_argument("-o", "--output", help="tệp ghi ra (bắt buộc với xlsx và png; mặc định: stdout)")
    rep.set_defaults(func=_report, database=_report_database)


def _report_database(args: argparse.Namespace) -> str:
    """A PNG without the charts extra is refused before any database is looked at; otherwise the existing one."""
    from tocns.features.reports.render import charts_available

    return "none" if args.format == "png" and not charts_available() else "existing"


def _report(args: argparse.Namespace) -> int:
    """Print (or write to -o) one unit's report in the chosen format; 2 with a Vietnamese reason on bad input."""
    from tocns.cli_common import prepared_settings
    from tocns.core.period import PeriodError, parse_cli_period
    from tocns.features.reports.render import CHARTS_NEED_EXTRA, charts_available

    if args.format == "png" and not charts_available():
        print(f"Lỗi: {CHARTS_NEED_EXTRA}", file=sys.stderr)
        return 2
    settings = prepared_settings()
    if args.format in ("xlsx", "png") and not args.output:
        print(f"Lỗi: định dạng {args.format} cần tệp ra: -o bao-cao.{args.format}", file=sys.stderr)
        return 2
    now = _moment(args.at, settings)
    if now is None:
        return 2
    try:
        period = parse_cli_period(args.period, now.astimezone(settings.tz).date())
    except PeriodError as exc:
        print(f"Lỗi: {exc}", file=sys.stderr)
        return 2
    if args.format == "xlsx":
        return _xlsx(args, settings, period, now)
    data = _rendered(args, settings, period, now)
    if args.output:
        Path(args.output).write_bytes(data)
        print(f"Đã ghi {args.output} ({len(data)} byte).", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0


def _moment(at: str | None, settings: Settings) -> datetime | None:
    """The moment the report is made as of: now, or `--at` local time; None after printing why `--at` is refused."""
    from tocns.core.clock import utcnow
    from tocns.core.dates import DateError, check_year

    if not at:
        return utcnow()
    try:
        local = datetime.strptime(at.strip(), "%Y-%m-%d %H:%M")
    except ValueError:
        print(f'Lỗi: thời điểm {at!r} không hợp lệ; viết dạng "2026-11-30 08:00".', file=sys.stderr)
        return None
    try:
        check_year(local.year, at.strip())
    except DateError as exc:
        print(f"Lỗi: {exc}", file=sys.stderr)
        return None
    return local.replace(tzinfo=settings.tz).astimezone(UTC)


def _rendered(args: argparse.Namespace, settings: Settings, period: Period, now: datetime) -> bytes:
    """The unit's report as text, JSON, CSV or PNG bytes."""
    from tocns.cli_common import run_in_session
    from tocns.features.org import store as org_store
    from tocns.features.reports.render import render_csv, render_png, render_text
    from tocns.features.reports.service import unit_report

    async def work(session: AsyncSession) -> bytes:
        unit = await org_store.require_unit(session, args.org_code)
        report = await unit_report(session, unit, period, settings, now)
        if args.format == "text":
            return render_text(report, settings.tz).encode() + b"\n"
        if args.format == "json":
            return json.dumps(report.to_dict(), ensure_ascii=False, indent=2).encode() + b"\n"
        if args.format == "csv":
            return render_csv(report).encode("utf-8")
        return render_png(report)

    return run_in_session(work)


def _xlsx(args: argparse.Namespace, settings: Settings, period: Period, now: datetime) -> int:
    """Stream the workbook to the output file (every raw row, memory flat), then say how many rows it holds."""
    from tocns.cli_common import run_in_session
    from tocns.features.activity.evidence import shown_by
    from tocns.features.org import store as org_store
    from tocns.features.reports.files import raw_outside
    from tocns.features.reports.service import unit_report
    from tocns.features.reports.store import stream_raw_records
    from tocns.features.reports.workbook import Saved, write_workbook

    output = Path(args.output)
    partial = output.with_name(output.name + ".part")

    async def work(session: AsyncSession) -> Saved:
        unit = await org_store.require_unit(session, args.org_code)
        report = await unit_report(session, unit, period, settings, now)
        rows = stream_raw_records(session, unit, period.start, period.end)
        outside = raw_outside(settings, output)
        return await write_workbook(report, rows, settings.tz, partial, photo=shown_by(settings, now), outside=outside)

    saved = run_in_session(work)
    partial.replace(output)
    where = ""
    if saved.raw_files:
        where = f", ở dạng CSV trong {', '.join(str(p) for p in saved.raw_files)}"
    print(
        f"Đã ghi {args.output} ({output.stat().st_size} byte, {saved.raw_rows} dòng dữ liệu gốc{where}).",
        file=sys.stderr,
    )
    return 0
