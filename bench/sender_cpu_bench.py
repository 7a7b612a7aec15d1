"""The outbox sender's own CPU per message: claim, send through a transport that answers at once, record.

Usage:
    python bench/sender_cpu_bench.py --db postgresql+asyncpg://postgres@127.0.0.1:5432/<scratch> [--messages 600]
        [--chats 20] [--rounds 3] [--transport instant|telegram]

Queues --messages receipts (kind reply, as `/ghi` leaves them) to --chats groups and drains them with the real
`OutboxSender` under limits too high to hold anything (what is measured is the sender's work, not its pace),
through a transport that answers OK at once (`instant`, the default) or the real Telegram transport talking to the
fake Bot API in this process (`telegram`: python-telegram-bot and httpx included). Prints the CPU of the thread that
sends (the fake Bot API's thread left out) and the SQL statements per queued reply, median of --rounds; the claim
takes --chats rows at a time, one per chat (merging off), as a busy sender's batch does when every group's window
is open. The bot's clock is a Monday 09:00 local (outside the quiet hours) moving at real speed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import clock_at

PROFILER: Any = None
"""A cProfile.Profile enabled around each drain (--profile)."""


class Instant:
    """A transport that takes every message at once (the sender's own work alone)."""

    max_text_length = 4096
    platform = "telegram"

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, chat_id: str, text: str, attachments: list[Any], **_: Any) -> Any:
        from tocns.channels.base import SendResult, SendStatus

        self.sent += 1
        return SendResult(SendStatus.OK, parts_sent=1)


async def _round(args: argparse.Namespace, round_no: int) -> tuple[float, float]:
    from sqlalchemy import event

    from tests.fakes.telegram_server import TelegramServer
    from tocns.config import Settings
    from tocns.db.engine import Database, upgrade_database_async
    from tocns.outbox import store as outbox_store
    from tocns.outbox.sender import OutboxSender, PlatformLimits

    if round_no == 0:
        from _common import recreate_postgres_database

        await recreate_postgres_database(args.db)
        await upgrade_database_async(args.db)
    clock = clock_at("2026-11-23 09:00")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=args.db,
        auto_migrate=False,
        telegram_bot_token="123456:TEST-telegram-token",
    )
    db = Database(args.db)
    chats = [str(-1001000000000 - i) for i in range(args.chats)]
    async with db.session() as session:
        for i in range(args.messages):
            await outbox_store.enqueue(
                session,
                platform="telegram",
                chat_id=chats[i % args.chats],
                text=f"Đã ghi #{i}: 5 VNeID",
                kind="reply",
                dedupe_key=f"bench:{round_no}:{i}",
                now=clock(),
            )
    server = None
    transport: Any
    if args.transport == "telegram":
        from tocns.channels.telegram import TelegramTransport

        server = TelegramServer().__enter__()
        transport = TelegramTransport("123:abc", server.base_url, timeout=5)
    else:
        transport = Instant()
    limits = {"telegram": PlatformLimits.build(100_000.0, 100_000, 1)}
    sender = OutboxSender(db, settings, {"telegram": transport}, clock, limits=limits)
    sender.batch_size = args.chats
    statements = [0]

    @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
    def count(*_: Any) -> None:
        statements[0] += 1

    await sender.rebuild_windows()
    # Merged replies: one chat's waiting receipts would go out as one message; here each claim sees one per chat.
    import tocns.outbox.sender as sender_module

    sender_module.MERGE_LIMIT = 0
    start_cpu, start_statements = time.thread_time(), statements[0]
    if PROFILER is not None:
        PROFILER.enable()
    while await sender.run_once():
        pass
    if PROFILER is not None:
        PROFILER.disable()
    cpu = (time.thread_time() - start_cpu) / args.messages * 1000
    per = (statements[0] - start_statements) / args.messages
    if server is not None:
        await transport.close()
        server.__exit__(None, None, None)
    async with db.session() as session:
        left = await outbox_store.unfinished(session, ["telegram"])
    await db.dispose()
    if left:
        raise SystemExit(f"bench check failed: {left} messages left unsent")
    return cpu, per


async def main_async(args: argparse.Namespace) -> None:
    global PROFILER
    if args.profile:
        import cProfile

        PROFILER = cProfile.Profile(time.process_time)
    results = [await _round(args, n) for n in range(args.rounds)]
    if PROFILER is not None:
        import pstats

        PROFILER.dump_stats(args.profile)
        pstats.Stats(PROFILER).sort_stats("tottime").print_stats(30)
    cpu = statistics.median(r[0] for r in results)
    per = statistics.median(r[1] for r in results)
    print(
        f"sender, {args.messages} replies to {args.chats} chats, transport {args.transport}, {args.rounds} rounds: "
        f"CPU per message {cpu:.3f} ms (rounds: {', '.join(f'{r[0]:.3f}' for r in results)}), "
        f"SQL statements per message {per:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="a scratch PostgreSQL database URL (dropped and recreated)")
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--chats", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--transport", choices=("instant", "telegram"), default="instant")
    parser.add_argument("--profile", default=None, help="a cProfile file of the drains (CPU time)")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
