"""Broadcast to 1,000 groups through the fake Telegram server at 30 msg/s; print time and ratio to the floor.

Run: python bench/broadcast_bench.py [--groups 1000] [--rate 30] [--rate-429 0 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.factories import bound_groups, queue
from tests.fakes.telegram_server import FakeTelegram, TelegramServer
from tocns.channels.telegram import TelegramTransport
from tocns.config import Settings
from tocns.db.engine import Database, upgrade_database
from tocns.outbox.sender import OutboxSender


async def run(groups: int, rate: float, rate_429: float, db_url: str) -> dict[str, float]:
    """One broadcast; returns the figures."""
    db = Database(db_url)
    chats = await bound_groups(db, groups)
    await queue(db, chats)
    fake = FakeTelegram(rate_429=rate_429, retry_after=1)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=db_url,
        telegram_global_rate=rate,
        outbox_poll_seconds=0.05,
    )
    with TelegramServer(fake) as server:
        transport = TelegramTransport("123:abc", server.base_url, timeout=5)
        sender = OutboxSender(db, settings, {"telegram": transport})
        start = time.monotonic()
        await sender.drain(until_empty=True)
        elapsed = time.monotonic() - start
        await transport.close()
    await db.dispose()
    per_chat = fake.delivered_per_chat()
    floor = groups / rate
    return {
        "seconds": elapsed,
        "floor": floor,
        "ratio": elapsed / floor,
        "delivered_groups": len(per_chat),
        "duplicates": sum(n - 1 for n in per_chat.values()),
        "answered_429": sum(1 for c in fake.calls if c.status == 429),
        "max_per_second": fake.max_in_window(1.0),
    }


def main() -> None:
    """Parse arguments, run the broadcasts, print one line each."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--rate-429", type=float, nargs="*", default=[0.0, 0.05])
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    for rate_429 in args.rate_429:
        with tempfile.TemporaryDirectory() as tmp:
            url = args.database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"
            upgrade_database(url)
            r = asyncio.run(run(args.groups, args.rate, rate_429, url))
        print(
            f"groups={args.groups} rate={args.rate:g}/s 429s={rate_429:.0%}: {r['seconds']:.1f} s, "
            f"floor {r['floor']:.1f} s, ratio {r['ratio']:.3f}; delivered to {r['delivered_groups']:.0f} groups, "
            f"duplicates {r['duplicates']:.0f}, 429 answers {r['answered_429']:.0f}, "
            f"max sends in any 1 s {r['max_per_second']:.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
