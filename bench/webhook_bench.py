"""End-to-end webhook benchmark: HTTP POST of a Telegram update -> stored -> processed -> reply in the outbox.

Usage:
    python bench/webhook_bench.py [--db URL] [--requests 1000] [--concurrency 50] [--rate 50] [--seconds 10]

Compares with a bare FastAPI JSON endpoint served the same way in the same run. The command is /huongdan
(/ghi is not on this branch); replies are enqueued in the outbox (the sender that delivers them is issue 6).
The server (uvicorn + bot) runs in this process; the load generator runs in a child process, so the client's
own CPU does not slow the server's event loop. Latency: wall clock from the POST to the reply row committed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET = "tg-secret-AbC123"


def _update(update_id: int) -> dict[str, Any]:
    """A real-shaped Telegram group message update carrying /huongdan."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1795000000,
            "chat": {"id": -1001 - update_id % 500, "type": "group", "title": "Xã Tân Lập - Tổ CNS"},
            "from": {"id": 11, "is_bot": False, "first_name": "Lan", "last_name": "Nguyễn", "username": "lan"},
            "text": "/huongdan",
            "entities": [{"type": "bot_command", "offset": 0, "length": 9}],
        },
    }


# ---------------------------------------------------------------- client (child process)


async def _client(url: str, mode: str, count: int, concurrency: int, rate: float, id_base: int) -> None:
    import httpx

    sends: list[tuple[int, float, float]] = []
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=concurrency + 50)) as client:

        async def one(update_id: int) -> None:
            t0 = time.time()
            response = await client.post(url, json=_update(update_id), headers={HEADER: SECRET})
            if response.status_code != 200:
                raise SystemExit(f"HTTP {response.status_code}: {response.text[:200]}")
            sends.append((update_id, t0, time.time()))

        if mode == "closed":
            ids = list(range(id_base, id_base + count))

            async def worker() -> None:
                while ids:
                    await one(ids.pop())

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        else:
            tasks = []
            start = time.perf_counter()
            for i in range(count):
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(id_base + i)))
            await asyncio.gather(*tasks)
    json.dump(sends, sys.stdout)


# ---------------------------------------------------------------- server (this process)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _load(url: str, mode: str, count: int, args: argparse.Namespace, id_base: int) -> list[Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--client",
        url,
        "--mode",
        mode,
        "--requests",
        str(count),
        "--concurrency",
        str(args.concurrency),
        "--rate",
        str(args.rate),
        "--id-base",
        str(id_base),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    if proc.returncode:
        raise SystemExit(f"load generator failed ({proc.returncode})")
    return list(json.loads(out))


async def _server(args: argparse.Namespace) -> None:
    import uvicorn
    from fastapi import FastAPI

    from bot.adapters.telegram import TelegramAdapter
    from bot.app import BotApp, load_handlers
    from bot.config import Settings
    from bot.router import Router
    from storage.db import Database, upgrade_database_async
    from tests.fakes.telegram_api import FakeTelegramApi
    from webhook.app import create_app

    url = args.db or f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"
    if url.startswith("postgresql"):
        from sqlalchemy import text

        reset = Database(url)
        async with reset.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await reset.dispose()
    await upgrade_database_async(url)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        auto_migrate=False,
        telegram_bot_token="123456:TEST-telegram-token",
        telegram_webhook_secret=SECRET,
        files_dir=tempfile.mkdtemp(),
    )
    db = Database(url)
    registry = load_handlers()
    bot = BotApp(settings=settings, db=db, router=Router(db, settings, registry), registry=registry)
    adapter = TelegramAdapter(bot, bot=FakeTelegramApi().bot())
    done: dict[int, float] = {}
    handle = adapter.handle_update

    async def timed(body: dict[str, Any]) -> Any:
        result = await handle(body)
        done[body["update_id"]] = time.time()
        return result

    adapter.handle_update = timed  # type: ignore[method-assign]
    web = create_app(settings, bot_app=bot, adapters=[adapter])
    bare = FastAPI()

    @bare.post("/webhook/telegram")
    async def echo(body: dict[str, Any]) -> dict[str, bool]:
        return {"ok": True}

    async def settle(expected: set[int]) -> None:
        while not expected <= done.keys():
            await asyncio.sleep(0.01)

    results: dict[str, Any] = {}
    id_base = 1_000_000
    open_count = int(args.rate * args.seconds)
    for name, app in (("bare", bare), ("bot", web)):
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        target = f"http://127.0.0.1:{port}/webhook/telegram"
        phases = []
        # First one message alone (creates the sender's person row), then a warm-up, then the two measured runs.
        for mode, count in (("closed", 1), ("closed", 50), ("closed", args.requests), ("open", open_count)):
            sends = await _load(target, mode, count, args, id_base)
            id_base += count
            if name == "bot":
                await asyncio.wait_for(settle({u for u, _, _ in sends}), timeout=600)
                ends = {u: done[u] for u, _, _ in sends}
            else:
                ends = {u: t1 for u, _, t1 in sends}
            latencies = [ends[u] - t0 for u, t0, _ in sends]
            span = max(ends.values()) - min(t0 for _, t0, _ in sends)
            phases.append((count / span, latencies))
        results[name] = phases[2:]
        server.should_exit = True
        await task
    await bot.close()
    kind = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(
        f"database: {kind}; closed loop {args.requests} requests at concurrency {args.concurrency}; "
        f"open loop {args.rate:g}/s for {args.seconds:g} s; cpus {os.cpu_count()}; load {os.getloadavg()[0]:.1f}"
    )
    for name in ("bot", "bare"):
        (rps, closed), (_, opened) = results[name]
        print(
            f"{name:5} throughput {rps:7.1f}/s  closed-loop p50 {_pct(closed, 0.5):6.1f} ms p99 "
            f"{_pct(closed, 0.99):6.1f} ms | at {args.rate:g}/s p50 {_pct(opened, 0.5):6.1f} ms "
            f"p99 {_pct(opened, 0.99):6.1f} ms"
        )
    print(f"ratio bot/bare throughput: {results['bot'][0][0] / results['bare'][0][0]:.2f}")


def main() -> None:
    """Run the benchmark, or (with --client) the load generator child."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--client", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="closed", help=argparse.SUPPRESS)
    parser.add_argument("--id-base", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        asyncio.run(_client(args.client, args.mode, args.requests, args.concurrency, args.rate, args.id_base))
    else:
        asyncio.run(_server(args))


if __name__ == "__main__":
    main()
