"""End-to-end webhook benchmark: HTTP POST of a Telegram update -> stored -> processed -> reply in the outbox.

Usage:
    python bench/webhook_bench.py [--db URL] [--requests 1000] [--concurrency 50] [--rate 50] [--seconds 10]

Compares with a bare FastAPI JSON endpoint served the same way in the same run. The command is /huongdan
(/ghi is not on this branch); replies are enqueued in the outbox (the sender that delivers them is issue 6).
Server and client share one process and event loop (uvicorn on 127.0.0.1), so figures are conservative.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.adapters.telegram import TelegramAdapter
from bot.app import BotApp, load_handlers
from bot.config import Settings
from bot.router import Router
from storage.db import Database, upgrade_database_async
from tests.adapters_helpers import TG_HEADER, TG_SECRET, tg_message_update
from tests.fakes.telegram_api import FakeTelegramApi
from webhook.app import create_app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _serve(app: Any) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    return server, task, f"http://127.0.0.1:{port}"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


class Probe:
    """Records when each update finished processing (reply enqueued)."""

    def __init__(self) -> None:
        self.done: dict[int, float] = {}
        self.events: dict[int, asyncio.Event] = {}

    def wait(self, update_id: int) -> asyncio.Event:
        event = asyncio.Event()
        self.events[update_id] = event
        return event


async def _closed_loop(client: httpx.AsyncClient, url: str, n: int, conc: int, make: Any) -> tuple[float, list[float]]:
    latencies: list[float] = []
    queue = list(range(n))

    async def worker() -> None:
        while queue:
            queue.pop()
            body, waiter = make()
            t0 = time.perf_counter()
            response = await client.post(url, json=body, headers={TG_HEADER: TG_SECRET})
            assert response.status_code == 200, response.text
            if waiter is not None:
                await waiter.wait()
            latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conc)))
    return n / (time.perf_counter() - start), latencies


async def _open_loop(client: httpx.AsyncClient, url: str, rate: float, seconds: float, make: Any) -> list[float]:
    latencies: list[float] = []

    async def one() -> None:
        body, waiter = make()
        t0 = time.perf_counter()
        response = await client.post(url, json=body, headers={TG_HEADER: TG_SECRET})
        assert response.status_code == 200
        if waiter is not None:
            await waiter.wait()
        latencies.append(time.perf_counter() - t0)

    tasks = []
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    return latencies


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    url = args.db or f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"
    if url.startswith("postgresql"):
        from sqlalchemy import text

        reset = Database(url)
        async with reset.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await reset.dispose()
    await upgrade_database_async(url)
    files = tempfile.mkdtemp()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        auto_migrate=False,
        telegram_bot_token="123456:TEST-telegram-token",
        telegram_webhook_secret=TG_SECRET,
        files_dir=files,
    )
    db = Database(url)
    registry = load_handlers()
    bot = BotApp(settings=settings, db=db, router=Router(db, settings, registry), registry=registry)
    adapter = TelegramAdapter(bot, bot=FakeTelegramApi().bot())
    probe = Probe()
    handle = adapter.handle_update

    async def timed(body: dict[str, Any]) -> Any:
        result = await handle(body)
        event = probe.events.pop(body["update_id"], None)
        if event is not None:
            event.set()
        return result

    adapter.handle_update = timed  # type: ignore[method-assign]
    web = create_app(settings, bot_app=bot, adapters=[adapter])
    bare = FastAPI()

    @bare.post("/webhook/telegram")
    async def echo(body: dict[str, Any]) -> dict[str, bool]:
        return {"ok": True}

    results: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=200)) as client:
        for name, app in (("bare", bare), ("bot", web)):
            server, task, base = await _serve(app)

            def make(with_probe: bool = name == "bot") -> tuple[dict[str, Any], asyncio.Event | None]:
                body = tg_message_update("/huongdan", chat_id=-1001 - (time.perf_counter_ns() % 500))
                return body, probe.wait(body["update_id"]) if with_probe else None

            # The first message creates the sender's person row; then warm up. (Concurrent first messages of
            # one new person in different chats race in storage.org.upsert_person: reported to the lead.)
            await _closed_loop(client, f"{base}/webhook/telegram", 1, 1, make)
            await _closed_loop(client, f"{base}/webhook/telegram", 50, 10, make)
            rps, closed = await _closed_loop(client, f"{base}/webhook/telegram", args.requests, args.concurrency, make)
            opened = await _open_loop(client, f"{base}/webhook/telegram", args.rate, args.seconds, make)
            results[name] = (rps, closed, opened)
            server.should_exit = True
            await task
    await bot.close()
    kind = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(
        f"database: {kind}; requests {args.requests} at concurrency {args.concurrency}; "
        f"open loop {args.rate:g}/s for {args.seconds:g} s; cpus {os.cpu_count()}"
    )
    for name in ("bot", "bare"):
        rps, closed, opened = results[name]
        print(
            f"{name:5} throughput {rps:7.1f}/s  closed-loop p50 {_pct(closed, 0.5):6.1f} ms p99 "
            f"{_pct(closed, 0.99):6.1f} ms | at {args.rate:g}/s p50 {_pct(opened, 0.5):6.1f} ms "
            f"p99 {_pct(opened, 0.99):6.1f} ms (mean {statistics.mean(opened) * 1000:.1f} ms)"
        )
    print(f"ratio bot/bare throughput: {results['bot'][0] / results['bare'][0]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
