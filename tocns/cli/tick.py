"""`tocns tick [--at "YYYY-MM-DD HH:MM"] [--dry-run] [--yes]`: run every scheduled job as the scheduler would."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tocns.app import BotApp


def register(sub: argparse._SubParsersAction) -> None:
    """Add the tick subcommand."""
    tick = sub.add_parser("tick", help="chạy các việc định kỳ đến hạn (giờ địa phương), in tin đã xếp hàng")
    tick.add_argument("--at", default=None, help='thời điểm "YYYY-MM-DD HH:MM" theo giờ địa phương (mặc định: bây giờ)')
    tick.add_argument(
        "--dry-run",
        action="store_true",
        help="chỉ in mọi tin sẽ xếp hàng (nội dung đầy đủ, nơi nhận), không xếp hàng gì",
    )
    tick.add_argument("--yes", action="store_true", help="đồng ý chạy thật ở một thời điểm trong tương lai")
    tick.set_defaults(func=_tick)


def _tick(args: argparse.Namespace) -> int:
    import asyncio

    from tocns.app import BotApp
    from tocns.cli_common import prepared_settings
    from tocns.core.clock import utcnow
    from tocns.scheduler import run_due_jobs

    settings = prepared_settings()
    if args.at:
        try:
            local = datetime.strptime(args.at.strip(), "%Y-%m-%d %H:%M")
        except ValueError as exc:
            raise SystemExit(f'Lỗi: thời điểm {args.at!r} không hợp lệ; viết dạng "2026-11-30 08:00".') from exc
        now = local.replace(tzinfo=settings.tz).astimezone(UTC)
    else:
        now = utcnow()
    # Messages queued "at" a future moment are real: a trial must not reach real groups by mistake.
    if now > utcnow() + timedelta(minutes=1) and not (args.dry_run or args.yes):
        raise SystemExit(
            f"Lỗi: thời điểm {args.at} ở tương lai; tin xếp hàng là tin thật: tin cho nhóm console được in ngay, "
            "tin cho nhóm Telegram/Zalo/GapoWork sẽ được gửi khi tới thời điểm đó. "
            "Thêm --dry-run để xem trước, hoặc --yes nếu thật sự muốn chạy."
        )

    async def go() -> list[str]:
        app = await BotApp.create(settings, clock=lambda: now, migrate=False)
        try:
            if args.dry_run:
                return await _rehearse(app, now)
            lines = await run_due_jobs(app, now, wait=True)
            # A confirmed trial at a future moment shows what arrives then; a tick now leaves delivery to the sender.
            return [*lines, *await _deliver_at(app, now)] if args.yes else lines
        finally:
            await app.close()

    for line in asyncio.run(go()):
        print(line)
    return 0


async def _deliver_at(app: BotApp, now: datetime) -> list[str]:
    """Print what is due for console chats at the tick's moment (a trial sees its digests and reminders arrive);
    say what waits for real platforms, and until when."""
    from tocns.app import print_console_outbox
    from tocns.channels.console import PLATFORM
    from tocns.core.dates import fmt_time
    from tocns.outbox import store as outbox_store

    printed = await print_console_outbox(app)
    async with app.db.session() as session:
        waiting = await outbox_store.unfinished_except(session, PLATFORM)
    out = [f"--- Đã in {printed} tin cho nhóm console ---"] if printed else []
    if waiting:
        when = fmt_time(now, app.settings.tz)
        out.append(f"--- {waiting} tin cho nhóm Telegram/Zalo/GapoWork đang chờ gửi (không gửi trước {when}) ---")
    return out


async def _rehearse(app: BotApp, now: datetime) -> list[str]:
    """Run the jobs inside a transaction that is rolled back; list every message they would have queued.

    Files the jobs render (report charts and workbooks) go to a scratch directory removed afterwards, so a dry
    run leaves nothing in the database nor under FILES_DIR."""
    import tempfile

    from tocns.core.mentions import render_plain
    from tocns.outbox import store as outbox_store
    from tocns.scheduler import run_due_jobs

    real, settings = app.db, app.settings
    async with real.rehearsal() as view:
        scratch = tempfile.TemporaryDirectory(prefix="tocns-dry-run-")
        app.db, app.settings = view, settings.model_copy(update={"files_dir": scratch.name})
        try:
            async with view.session() as session:
                last = await outbox_store.last_id(session)
            lines = await run_due_jobs(app, now, wait=True)
            async with view.session() as session:
                rows = await outbox_store.queued_after(session, last)
        finally:
            app.db, app.settings = real, settings
            scratch.cleanup()
    out = [*lines, f"--- Chạy thử: {len(rows)} tin sẽ được xếp hàng, chưa xếp hàng tin nào ---"]
    for row in rows:
        files = f" (+{row.attachments.count('path')} tệp)" if row.attachments else ""
        # As people will read it: a named person shows as their name, not as the outbox's internal marker.
        out.append(f"[{row.kind} → {row.platform}:{row.chat_id}]{files}\n{render_plain(row.text)}\n")
    return out
