"""`tocns tick [--at "YYYY-MM-DD HH:MM"]`: run every scheduled job as the scheduler would at that moment."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime


def register(sub: argparse._SubParsersAction) -> None:
    """Add the tick subcommand."""
    tick = sub.add_parser("tick", help="chạy các việc định kỳ đến hạn (giờ địa phương), in tin đã xếp hàng")
    tick.add_argument("--at", default=None, help='thời điểm "YYYY-MM-DD HH:MM" theo giờ địa phương (mặc định: bây giờ)')
    tick.set_defaults(func=_tick)


def _tick(args: argparse.Namespace) -> int:
    import asyncio

    from tocns.app import BotApp
    from tocns.cli.common import prepared_settings
    from tocns.scheduler import run_due_jobs

    settings = prepared_settings()
    if args.at:
        try:
            local = datetime.strptime(args.at.strip(), "%Y-%m-%d %H:%M")
        except ValueError as exc:
            raise SystemExit(f'Lỗi: thời điểm {args.at!r} không hợp lệ; viết dạng "2026-11-30 08:00".') from exc
        now = local.replace(tzinfo=settings.tz).astimezone(UTC)
    else:
        now = datetime.now(UTC)

    async def go() -> list[str]:
        app = await BotApp.create(settings, clock=lambda: now, migrate=False)
        try:
            return await run_due_jobs(app, now, wait=True)
        finally:
            await app.close()

    for line in asyncio.run(go()):
        print(line)
    return 0
