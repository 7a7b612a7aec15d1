"""Helpers shared by the benchmark scripts (run as `python bench/<name>.py`, so this is importable)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime

Clock = Callable[[], datetime]


def clock_at(local: str) -> Clock:
    """The bot's clock for a bench run (its --at): starting at a local 'YYYY-MM-DD HH:MM' (Asia/Ho_Chi_Minh) and
    moving on at real speed, so the figures do not depend on the hour the bench is run."""
    from tests.factories import VN, FakeClock, RunningClock

    try:
        start = datetime.strptime(local.strip(), "%Y-%m-%d %H:%M").replace(tzinfo=VN)
    except ValueError as exc:
        raise SystemExit(f'--at {local!r}: write it like "2026-11-23 09:00"') from exc
    return RunningClock(FakeClock(start))


async def recreate_postgres_database(url: str) -> None:
    """Drop and create the database named at the end of a postgresql+asyncpg URL (a scratch database)."""
    import asyncpg

    name = url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql").rsplit("/", 1)[0] + "/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def watch_loop(stalls: list[float], stop: asyncio.Event) -> None:
    """Record how late each 10 ms sleep wakes up: the event loop's stalls while a tick runs."""
    while not stop.is_set():
        t = time.perf_counter()
        await asyncio.sleep(0.01)
        stalls.append(time.perf_counter() - t - 0.01)
