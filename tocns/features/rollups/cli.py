"""`tocns rollup rebuild` and `tocns rollup check`: the rollups recomputed from, or compared with, raw rows."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from tocns.features.rollups.store import RebuildResult

SHOWN = 20
"""At most this many differing figures are printed by `check` (the count says how many there are)."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `rollup` subcommand."""
    rollup = sub.add_parser("rollup", help="bảng tổng hợp theo tổ và ngày mà báo cáo đọc")
    commands = rollup.add_subparsers(dest="rollup_command", required=True)
    commands.add_parser("rebuild", help="tính lại bảng tổng hợp từ các phiếu (trong một giao dịch)").set_defaults(
        func=_rebuild
    )
    commands.add_parser("check", help="so bảng tổng hợp với các phiếu; mã thoát 1 nếu lệch").set_defaults(func=_check)


def _rebuild(_args: argparse.Namespace) -> int:
    from tocns.cli_common import run_in_session
    from tocns.core.text import grouped
    from tocns.features.rollups import store

    async def work(session: AsyncSession) -> RebuildResult:
        return await store.rebuild(session)

    result = run_in_session(work)
    print(
        f"Đã tính lại bảng tổng hợp: {grouped(result.quantity_rows)} dòng số lượng (tổ, chỉ tiêu, ngày), "
        f"{grouped(result.record_rows)} dòng số phiếu (tổ, ngày), {grouped(result.commune_quantity_rows)} dòng số "
        f"lượng (xã, chỉ tiêu, ngày), {grouped(result.commune_record_rows)} dòng số phiếu (xã, ngày)."
    )
    return 0


def _check(_args: argparse.Namespace) -> int:
    from tocns.cli_common import run_in_session
    from tocns.core.text import grouped
    from tocns.features.rollups import store

    differences = run_in_session(store.differences)
    if not differences:
        print("Bảng tổng hợp khớp với các phiếu.")
        return 0
    print(f"Bảng tổng hợp lệch {grouped(len(differences))} số liệu so với các phiếu; chạy `tocns rollup rebuild`.")
    for line in differences[:SHOWN]:
        print(f"  {line}")
    return 1
