"""Memory of `tocns serve` with one worker after N updates, against a minimal FastAPI app served the same way.

Usage:
    python bench/memory_bench.py --db postgresql+asyncpg://postgres@127.0.0.1:5432/scratch [--updates 100000]
                                 [--checkpoints 5] [--minutes 10] [--people 2000] [--groups 200]

Every update is the webhook bench's `/ghi vneid 5 thon 3` from one of --people members in one of --groups bound
Telegram groups (webhook_bench.py seeds the database); the real `tocns serve --workers 1` stores and processes it
and its outbox sender delivers the receipt to a fake Bot API in this process. The RSS of the server (its process
and any children, /proc VmRSS) is printed after start, after a warm-up and at each checkpoint, once every update
sent so far is processed; the anchor is a bare FastAPI JSON endpoint (webhook_bench.bare_app) under uvicorn with
one worker, given the same number of requests. The load stops early after --minutes of bot load (the figures say
how many updates were reached). Growth between checkpoints, not the absolute figure, is what shows a leak.

With --national, --db is an existing database bench/national_gen.py loaded (kept, not reseeded): the senders are
--people of its team members, each posting in the group bound to their commune (webhook_bench.known_senders), so
the server works at national data size. Run it once per database (the update ids are fixed per run).

    python bench/memory_bench.py --national --db postgresql+asyncpg://postgres@127.0.0.1:5432/national \
        --updates 95000 --warmup 5000 --checkpoints 19 --minutes 90 --people 5000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from webhook_bench import SECRET, _free_port, _fresh_database, _load, _start, _stop, _wait_port, known_senders


def _rss_kib(pid: int, children: bool = True) -> int:
    """Resident memory of a process and (unless `children` is off) its children, KiB (Linux /proc)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            if children:
                pending += [int(c) for c in Path(f"/proc/{current}/task/{current}/children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


async def _processed(db: Any) -> int:
    from sqlmodel import col, func, select

    from tocns.inbound.models import InboundUpdate

    async with db.session() as session:
        query = select(func.count()).select_from(InboundUpdate).where(col(InboundUpdate.processed_at).is_not(None))
        return int(await session.scalar(query) or 0)


async def _settled(db: Any, expected: int) -> None:
    """Wait until `expected` updates are processed (the webhook answered before the work was done)."""
    for _ in range(36_000):
        if await _processed(db) >= expected:
            return
        await asyncio.sleep(0.1)
    raise SystemExit("updates were not processed in time")


def _env(url: str, port: int, base_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "AUTO_MIGRATE": "false",
        "TELEGRAM_BOT_TOKEN": "123456:TEST-telegram-token",
        "TELEGRAM_API_BASE_URL": base_url,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        # The fake Bot API takes only HTTPS webhooks, as the real one; nothing calls this URL.
        "PUBLIC_BASE_URL": f"https://127.0.0.1:{port}",
        "LINK_SIGNING_SECRET": "bench-link-signing-secret-0123456789",
        "FILES_DIR": tempfile.mkdtemp(),
        "LOG_LEVEL": "WARNING",
    }


async def _run(name: str, args: argparse.Namespace, url: str, base_url: str, db: Any, total: int) -> list[Any]:
    """Start one server, send `total` updates in checkpoints; [(updates, RSS KiB, seconds)], the start first."""
    port = _free_port()
    env = _env(url, port, base_url)
    if name == "bot":
        proc = await _start(
            [str(Path(sys.executable).with_name("tocns")), "serve", "--workers", "1", "--port", str(port)], port, env
        )
    else:
        command = [sys.executable, "-m", "uvicorn", "--app-dir", str(Path(__file__).parent), "--factory"]
        command += ["webhook_bench:bare_app", "--workers", "1", "--port", str(port), "--log-level", "warning"]
        proc = await asyncio.create_subprocess_exec(*command, env=env)
        await _wait_port(port)
    target = f"http://127.0.0.1:{port}/webhook/telegram"
    figures: list[Any] = [(0, _rss_kib(proc.pid), 0.0, _rss_kib(proc.pid, children=False))]
    sent, id_base, started = 0, 2_000_000 if name == "bot" else 9_000_000, time.perf_counter()
    base = await _processed(db) if name == "bot" else 0
    steps = [args.warmup] + [total // args.checkpoints] * args.checkpoints
    try:
        for step in steps:
            await _load(target, "closed", step, args, id_base + sent)
            sent += step
            if name == "bot":
                await _settled(db, base + sent)
            figures.append((sent, _rss_kib(proc.pid), time.perf_counter() - started, _rss_kib(proc.pid, False)))
            print(
                f"  {name}: {sent:,} updates, RSS {figures[-1][1] / 1024:.1f} MiB (the server process alone "
                f"{figures[-1][3] / 1024:.1f}), {figures[-1][2]:.0f} s, load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            if name == "bot" and time.perf_counter() - started > args.minutes * 60:
                break
    finally:
        await _stop(proc)
    return figures


async def main_async(args: argparse.Namespace) -> None:
    """Seed, run the bot then the anchor, print RSS at each checkpoint and the ratios."""
    from tests.fakes.telegram_server import TelegramServer
    from tocns.db.engine import Database

    if args.national:
        url = args.db
        args.senders = await known_senders(url, args.people)
    else:
        url = await _fresh_database(args)
    db = Database(url)
    load = os.getloadavg()[0]
    with TelegramServer() as api:
        bot = await _run("bot", args, url, api.base_url, db, args.updates)
        reached = bot[-1][0]
        bare = await _run("bare", args, url, api.base_url, db, reached - args.warmup)
    await db.dispose()
    where = "the existing (national) database's team members in their communes' groups" if args.national else ""
    print(
        f"`tocns serve --workers 1` (PostgreSQL), {args.people} people in {where or f'{args.groups} groups'}, "
        "closed loop at "
        f"concurrency {args.concurrency}; cpus {os.cpu_count()}; load {load:.1f} at start, "
        f"{os.getloadavg()[0]:.1f} at end"
    )
    for name, figures in (("bot", bot), ("anchor", bare)):
        line = ", ".join(f"{n:,}: {kib / 1024:.1f}" for n, kib, _, _ in figures)
        print(f"{name:6} RSS MiB after N updates: start {figures[0][1] / 1024:.0f}; {line}")
    end_bot, end_bare = bot[-1][1], bare[-1][1]
    # Growth from the middle checkpoint on: the warm-up (pools, caches filling once) is over, a leak is not.
    (mid_n, mid_bot, _, _), (mid_bare_n, mid_bare, _, _) = bot[len(bot) // 2], bare[len(bare) // 2]
    steady = (end_bot - mid_bot) / 1024 / (max(1, reached - mid_n) / 10_000)
    steady_bare = (end_bare - mid_bare) / 1024 / (max(1, bare[-1][0] - mid_bare_n) / 10_000)
    print(
        f"bot: {bot[0][1] / 1024:.0f} MiB at start -> {end_bot / 1024:.0f} MiB after {reached:,} updates "
        f"({end_bot / end_bare:.2f}x the anchor's {end_bare / 1024:.0f} MiB); from {mid_n:,} updates on "
        f"{steady:+.2f} MiB per 10,000 updates (anchor {steady_bare:+.2f}); {reached / bot[-1][2]:.0f} updates/s"
    )


def main() -> None:
    """Parse the arguments and run (the load generator children run webhook_bench.py)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True, help="PostgreSQL URL of a scratch database (its schema is dropped)")
    parser.add_argument("--updates", type=int, default=100_000)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--checkpoints", type=int, default=5)
    parser.add_argument("--minutes", type=float, default=10, help="stop the bot's load after this long")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--clients", type=int, default=1, help="load generator processes")
    parser.add_argument(
        "--national",
        action="store_true",
        help="--db is an existing database (bench/national_gen.py's), kept: its team members send, in their groups",
    )
    args = parser.parse_args()
    # webhook_bench's load generator reads these.
    args.rate, args.seconds = 50.0, 0.0
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
