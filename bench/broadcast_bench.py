"""Broadcast to 1,000 groups through the fake Telegram server at 30 msg/s; print time and ratio to the floor.

Run: python bench/broadcast_bench.py [--groups 1000] [--rate 30] [--rate-429 0 0.05] [--through-command]
    [--at "2026-11-23 09:00"]

The bot's clock starts at --at (local time, default a Monday 09:00, outside the quiet hours) and runs at real speed:
the figures do not depend on the hour the bench is run (at 22:30 the wall clock would hold every message).

With --through-command the directive is not queued directly: province staff type `/chidao toàn tỉnh: …` in the
province group, the bot shows its preview, the same person confirms with `/xacnhan <số>`, and the sender drains
everything that queued (the directive to every commune group and the two replies) through the fake server.
The floor is then (messages sent) / rate, and the time includes typing both commands.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import Clock, clock_at

from tests.factories import bound_groups, queue
from tests.fakes.telegram_server import SEND_METHODS, FakeTelegram, TelegramServer
from tocns.channels.telegram import TelegramTransport
from tocns.config import Settings
from tocns.db.engine import Database, upgrade_database
from tocns.outbox.sender import OutboxSender


async def run(groups: int, rate: float, rate_429: float, db_url: str, clock: Clock) -> dict[str, float]:
    """One broadcast; returns the figures."""
    db = Database(db_url)
    chats = await bound_groups(db, groups)
    await queue(db, chats, now=clock())
    fake = FakeTelegram(rate_429=rate_429, retry_after=1)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=db_url,
        telegram_global_rate=rate,
        outbox_poll_seconds=0.05,
    )
    with TelegramServer(fake) as server:
        transport = TelegramTransport("123:abc", server.base_url, timeout=5)
        sender = OutboxSender(db, settings, {"telegram": transport}, clock)
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


async def run_command(groups: int, rate: float, rate_429: float, db_url: str, clock: Clock) -> dict[str, float]:
    """One directive sent the way staff send it (/chidao, then /xacnhan), drained; returns the figures."""
    from tests.factories import ChatHarness, join_code
    from tocns.app import BotApp
    from tocns.core.roles import Role
    from tocns.features.org import store as org_store

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=db_url,
        telegram_global_rate=rate,
        outbox_poll_seconds=0.05,
        quiet_hours_start=0,  # no quiet hours: the bench measures sending, not waiting for the morning
        quiet_hours_end=0,
    )
    app = await BotApp.create(settings, clock=clock, migrate=False)
    await bound_groups(app.db, groups)
    async with app.db.session() as session:
        province = await org_store.get_unit_by_code(session, "P01")
        assert province is not None
        code = await join_code(session, province, Role.STAFF, app.clock())
    chat = ChatHarness(app, platform="telegram")
    province_group = "-999"
    fake = FakeTelegram(rate_429=rate_429, retry_after=1)
    with TelegramServer(fake) as server:
        transport = TelegramTransport("123:abc", server.base_url, timeout=5)
        sender = OutboxSender(app.db, settings, {"telegram": transport}, app.clock)
        # Joining is setup, not part of the measured directive: its replies are drained before the clock starts.
        assert "Cán bộ Sở" in await chat.text(f"/ketnoi {code}", user="7", name="Cán bộ Mai", chat=province_group)
        await sender.drain(until_empty=True)
        before = len(fake.calls)
        asked = time.monotonic()
        preview = await chat.text("/chidao toàn tỉnh: Rà soát VNeID trước thứ Sáu", user="7", chat=province_group)
        number = preview.split("/xacnhan ")[1].split()[0]
        # Nothing can leave before the confirmation: the drain is timed from the moment /xacnhan is typed.
        start = time.monotonic()
        receipt = await chat.text(f"/xacnhan {number}", user="7", chat=province_group)
        typed = time.monotonic() - start
        await sender.drain(until_empty=True)
        elapsed = time.monotonic() - start
        await transport.close()
    await app.close()
    per_chat = fake.delivered_per_chat()
    sent = sum(1 for c in fake.calls[before:] if c.status == 200 and c.method in SEND_METHODS)
    floor = sent / rate
    assert f"tới {groups} nhóm" in receipt, receipt
    return {
        "seconds": elapsed,
        "typed": typed,
        "preview": start - asked,
        "floor": floor,
        "ratio": elapsed / floor,
        "messages": sent,
        "delivered_groups": len([c for c in per_chat if c != province_group]),
        "duplicates": sum(n - 1 for c, n in per_chat.items() if c != province_group),
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
    parser.add_argument("--through-command", action="store_true", help="send /chidao and /xacnhan as staff do")
    parser.add_argument("--at", default="2026-11-23 09:00", help="the bot's local start time (default: Mon 09:00)")
    args = parser.parse_args()
    for rate_429 in args.rate_429:
        with tempfile.TemporaryDirectory() as tmp:
            url = args.database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"
            upgrade_database(url)
            if args.through_command:
                r = asyncio.run(run_command(args.groups, args.rate, rate_429, url, clock_at(args.at)))
                print(
                    f"/chidao + /xacnhan to {args.groups} groups, rate={args.rate:g}/s 429s={rate_429:.0%}: "
                    f"/chidao preview {r['preview']:.1f} s; from /xacnhan to the last send {r['seconds']:.1f} s "
                    f"(/xacnhan itself {r['typed']:.1f} s) for {r['messages']:.0f} "
                    f"messages, floor {r['floor']:.1f} s, ratio {r['ratio']:.3f}; delivered to "
                    f"{r['delivered_groups']:.0f} groups, duplicates {r['duplicates']:.0f}, "
                    f"429 answers {r['answered_429']:.0f}, max sends in any 1 s {r['max_per_second']:.0f}",
                    flush=True,
                )
                continue
            r = asyncio.run(run(args.groups, args.rate, rate_429, url, clock_at(args.at)))
        print(
            f"groups={args.groups} rate={args.rate:g}/s 429s={rate_429:.0%}: {r['seconds']:.1f} s, "
            f"floor {r['floor']:.1f} s, ratio {r['ratio']:.3f}; delivered to {r['delivered_groups']:.0f} groups, "
            f"duplicates {r['duplicates']:.0f}, 429 answers {r['answered_429']:.0f}, "
            f"max sends in any 1 s {r['max_per_second']:.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
