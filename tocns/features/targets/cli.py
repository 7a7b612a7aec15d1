"""`tocns targets import FILE`: targets and denominators from a sheet, checked whole, applied all or nothing."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

OPERATOR = "operator-cli"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `targets` subcommands."""
    targets = sub.add_parser("targets", help="mục tiêu năm và số hộ của đơn vị").add_subparsers(
        dest="targets_command", required=True
    )
    imp = targets.add_parser(
        "import", help="nhập mục tiêu, số hộ, số người trưởng thành từ bảng tính: có lỗi thì không nhập gì"
    )
    imp.add_argument("file", type=Path, help="tệp .xlsx hoặc .csv: Mã đơn vị, Chỉ tiêu, Năm, Tháng, Mục tiêu, Số hộ…")
    imp.set_defaults(func=_import, database="existing")


def _import(args: argparse.Namespace) -> int:
    from tocns.cli_common import run_in_session
    from tocns.config import get_settings
    from tocns.core.clock import utcnow
    from tocns.core.filelimits import ImportLimits
    from tocns.features.targets.importer import apply_rows
    from tocns.features.targets.sheet import SheetError, read_sheet

    try:
        rows = read_sheet(args.file, ImportLimits.from_settings(get_settings()))
    except SheetError as exc:
        print(f"Lỗi: {exc} Không nhập gì.", file=sys.stderr)
        return 1

    async def work(session: AsyncSession) -> tuple[list[str], tuple[int, int]]:
        now = utcnow()
        return await apply_rows(session, rows, OPERATOR, now, now.astimezone(get_settings().tz).year)

    problems, (targets, populations) = run_in_session(work)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"Không nhập gì: {len(problems)} lỗi trong {len(rows)} dòng. Sửa rồi chạy lại.", file=sys.stderr)
        return 1
    print(f"Đã nhập {len(rows)} dòng: {targets} mục tiêu, {populations} đơn vị có số hộ/số người.")
    return 0
