"""A broadcast drained by `tocns outbox send` processes, the sending one killed twice (SIGKILL) mid-way.

One process sends and a second waits in the sender election; the sending one is killed, the standby takes
over, a new standby is started, and the new sender is killed in turn. Prints: groups delivered (lost =
groups − delivered), duplicates, the longest gap between two sends at the fake server (the delay a kill
caused), the most sends in any 1 s and to one chat in any 60 s, and the total time against the floor
groups / rate measured in the same run.

Run (PostgreSQL: the election is a PostgreSQL advisory lock; the schema of that database is reset):
    python bench/sender_kill_bench.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test_i14
        [--at "2026-11-23 09:00"]

The senders' clock starts at --at (local time, default a Monday 09:00, outside the quiet hours; TOCNS_CLOCK_START
for the `tocns` processes): the figures do not depend on the hour the bench is run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _common import Clock, clock_at  # noqa: E402
from sqlalchemy import text  # noqa: E402

from tests.factories import bound_groups, clock_env, queue  # noqa: E402
from tests.fakes.telegram_server import FakeTelegram, TelegramServer  # noqa: E402
from tocns.db.engine import Database, upgrade_database  # noqa: E402


def _spawn(db_url: str, base_url: str, rate: float, log: Path, clock: Clock) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **clock_env(clock),
        "DATABASE_URL": db_url,
        "TELEGRAM_BOT_TOKEN": "123:abc",
        "TELEGRAM_API_BASE_URL": base_url,
        "TELEGRAM_GLOBAL_RATE": str(rate),
        "OUTBOX_POLL_SECONDS": "0.1",  # the lease stays at its default, 300 s
        "AUTO_MIGRATE": "false",
    }
    out = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "tocns.cli", "outbox", "send", "--until-empty"],
        env=env,
        stdout=out,
        stderr=out,
        cwd=ROOT,
    )


async def _reset(url: str) -> None:
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await db.dispose()


async def run(url: str, groups: int, rate: float, log: Path, clock: Clock) -> dict[str, float]:
    """One broadcast with two kills; returns the figures."""
    db = Database(url)
    chats = await bound_groups(db, groups)
    await queue(db, chats, now=clock())
    await db.dispose()
    fake = FakeTelegram()
    with TelegramServer(fake) as server:
        start = time.monotonic()
        sending = _spawn(url, server.base_url, rate, log, clock)
        while not fake.delivered():
            await asyncio.sleep(0.01)
        standby = _spawn(url, server.base_url, rate, log, clock)  # waits in the election
        for fraction in (1 / 3, 2 / 3):
            while len(fake.delivered()) < groups * fraction:
                await asyncio.sleep(0.01)
            os.kill(sending.pid, signal.SIGKILL)  # the process known to hold the election
            sending.wait()
            before = len(fake.delivered())
            while len(fake.delivered()) == before:  # the standby has taken over
                await asyncio.sleep(0.01)
            sending, standby = standby, _spawn(url, server.base_url, rate, log, clock)
        procs = [sending, standby]
        for proc in procs:
            await asyncio.to_thread(proc.wait, 600)
        elapsed = time.monotonic() - start
    per_chat = fake.delivered_per_chat()
    times = sorted(c.at for c in fake.delivered())
    gaps = [b - a for a, b in itertools.pairwise(times)]
    return {
        "seconds": elapsed,
        "floor": groups / rate,
        "delivered": len(per_chat),
        "duplicates": sum(n - 1 for n in per_chat.values()),
        "max_gap": max(gaps, default=0.0),
        "max_per_second": fake.max_in_window(1.0),
        "max_per_chat_minute": fake.max_per_chat_in_window(60.0),
    }


def main() -> None:
    """Parse arguments, run the broadcast, print one line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=300)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--database-url", required=True, help="a PostgreSQL database whose schema may be reset")
    parser.add_argument("--at", default="2026-11-23 09:00", help="the senders' local start time (default: Mon 09:00)")
    args = parser.parse_args()
    asyncio.run(_reset(args.database_url))
    upgrade_database(args.database_url)
    with tempfile.TemporaryDirectory() as tmp:
        r = asyncio.run(run(args.database_url, args.groups, args.rate, Path(tmp) / "senders.log", clock_at(args.at)))
    print(
        f"groups={args.groups} rate={args.rate:g}/s, sender killed twice: {r['seconds']:.1f} s, floor "
        f"{r['floor']:.1f} s, ratio {r['seconds'] / r['floor']:.3f}; delivered to {r['delivered']:.0f} groups "
        f"(lost {args.groups - r['delivered']:.0f}), duplicates {r['duplicates']:.0f}, longest gap between sends "
        f"{r['max_gap']:.1f} s, max sends in any 1 s {r['max_per_second']:.0f}, max to one chat in 60 s "
        f"{r['max_per_chat_minute']:.0f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
