"""`tocns report`: a unit's report as text, JSON, CSV, XLSX or PNG."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession


FORMATS = ("text", "json", "csv", "xlsx", "png")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `report` subcommand."""
    rep = sub.add_parser("report", help="báo cáo của một đơn vị (text, json, csv, xlsx, png)")
    rep.add_argument("org_code")
    rep.add_argument("--period", default="tuan", help="tuan|thang|tuan truoc|thang truoc|YYYY-Www|YYYY-MM|DATE..DATE")
    rep.add_argument("--format", default="text", choices=FORMATS)
    rep.add_argument("-o", "--output", help="tệp ghi ra (bắt buộc với xlsx và png; mặc định: stdout)")
    rep.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from tocns.cli.common import prepared_settings, run_in_session
    from tocns.core.clock import utcnow
    from tocns.features.org import store as org_store
    from tocns.features.reports.period import PeriodError, parse_cli_period
    from tocns.features.reports.render import (
        CHARTS_NEED_EXTRA,
        charts_available,
        render_csv,
        render_png,
        render_text,
        render_xlsx,
    )
    from tocns.features.reports.service import unit_report
    from tocns.features.reports.store import raw_records

    if args.format == "png" and not charts_available():
        print(f"Lỗi: {CHARTS_NEED_EXTRA}", file=sys.stderr)
        return 2
    settings = prepared_settings()
    if args.format in ("xlsx", "png") and not args.output:
        print(f"Lỗi: định dạng {args.format} cần tệp ra: -o bao-cao.{args.format}", file=sys.stderr)
        return 2
    now = utcnow()
    try:
        period = parse_cli_period(args.period, now.astimezone(settings.tz).date())
    except PeriodError as exc:
        print(f"Lỗi: {exc}", file=sys.stderr)
        return 2

    async def work(session: AsyncSession) -> bytes:
        unit = await org_store.require_unit(session, args.org_code)
        report = await unit_report(session, unit, period, settings, now)
        if args.format == "text":
            return render_text(report, settings.tz).encode() + b"\n"
        if args.format == "json":
            return json.dumps(report.to_dict(), ensure_ascii=False, indent=2).encode() + b"\n"
        if args.format == "csv":
            return render_csv(report).encode("utf-8")
        if args.format == "png":
            return render_png(report)
        return render_xlsx(report, await raw_records(session, unit, period.start, period.end), settings.tz)

    data = run_in_session(work)
    if args.output:
        Path(args.output).write_bytes(data)
        print(f"Đã ghi {args.output} ({len(data)} byte).", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0
