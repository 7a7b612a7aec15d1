"""`tocns outbox send`: drain the outbox in this process, as the sender election's winner (see run_elected)."""

from __future__ import annotations

import argparse
import logging
import sys


def register(sub: argparse._SubParsersAction) -> None:
    """Add the outbox subcommands."""
    outbox = sub.add_parser("outbox", help="hàng đợi tin gửi đi")
    actions = outbox.add_subparsers(dest="outbox_command", required=True, metavar="ACTION")
    send = actions.add_parser("send", help="gửi các tin đang chờ (chạy đến khi dừng)")
    send.add_argument("--until-empty", action="store_true", help="dừng khi không còn tin chờ gửi")
    send.set_defaults(func=_send)


def _send(args: argparse.Namespace) -> int:
    import asyncio

    from tocns.config import get_settings

    settings = get_settings()
    logging.getLogger().setLevel(settings.log_level)

    async def go() -> int:
        from tocns.app import build_registry, build_transports, sender_hooks
        from tocns.core.clock import utcnow
        from tocns.db.engine import Database, upgrade_database_async
        from tocns.outbox.sender import run_elected

        db = Database(settings.database_url)
        # The process's clock (the wall clock, or TOCNS_CLOCK_START's in tests and trials), for every part.
        transports = build_transports(settings, utcnow, db=db)
        if not transports:
            await db.dispose()
            print("Chưa cấu hình token Telegram hay Zalo: không có nền tảng nào để gửi.", file=sys.stderr)
            return 2
        if settings.auto_migrate:
            await upgrade_database_async(settings.database_url)
        # An unreachable Bot API or a refused token stops here in one line, not after hours of silent retries.
        for transport in transports.values():
            check = getattr(transport, "check_reachable", None)
            if check is not None:
                await check()
        try:
            # The same election as `tocns serve`: beside a running server this one waits, and takes over if
            # the server stops, instead of sending at twice the platform's rate.
            await run_elected(
                db,
                settings,
                transports,
                asyncio.Event(),
                utcnow,
                until_empty=args.until_empty,
                command_names=build_registry().names(),
                hooks=sender_hooks(),
            )
        finally:
            for transport in transports.values():
                close = getattr(transport, "close", None)
                if close is not None:
                    await close()
            await db.dispose()
        return 0

    return asyncio.run(go())
