"""Where one `/ghi` spends the server's CPU: each stage of the webhook's walk timed alone, one update at a time.

Usage:
    python bench/ghi_breakdown.py --db postgresql+asyncpg://postgres@127.0.0.1:5432/<scratch db> [--updates 400]
                                  [--rounds 3] [--profile FILE]

The same real-shaped Telegram `/ghi` as bench/webhook_bench.py (500 members in 20 bound groups, PostgreSQL), but
run sequentially in this process with `time.process_time()` around each stage, so the figures are CPU, not waiting
for PostgreSQL, and no two updates interleave: the ASGI call of FastAPI and the intake (the store stubbed out), the
Telegram update's check and decode, the store-and-claim transaction, and the processing transaction, itself split
into the processed-mark, the sender, the grammar, the double-tap check, the record, the receipt with the done-mark
and the rest (session, router, command). Then the floors the architecture leaves, measured the same way: raw
asyncpg, a SQLAlchemy session per statement, python-telegram-bot's decode alone, the anchor's FastAPI endpoint.
Each figure is the median of --rounds rounds of --updates updates (µs per update), so a loaded machine disturbs
it less than a single long run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import webhook_bench as wb


class Stages:
    """Accumulated process CPU per named stage; nested stages are subtracted from their parent's own time."""

    def __init__(self) -> None:
        self.total: dict[str, float] = defaultdict(float)
        self._stack: list[list[Any]] = []

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a stage (its own CPU, children excluded)."""
        frame = [name, time.process_time(), 0.0]
        self._stack.append(frame)
        try:
            yield
        finally:
            spent = time.process_time() - frame[1]
            self._stack.pop()
            self.total[name] += spent - frame[2]
            if self._stack:
                self._stack[-1][2] += spent

    def wrap_async(self, owner: Any, attr: str, name: str) -> None:
        """Time every call of `owner.attr` (a coroutine function) as `name`."""
        original = getattr(owner, attr)

        async def timed(*args: Any, **kwargs: Any) -> Any:
            with self.stage(name):
                return await original(*args, **kwargs)

        setattr(owner, attr, timed)

    def wrap_sync(self, owner: Any, attr: str, name: str) -> None:
        """Time every call of `owner.attr` (a plain function) as `name`."""
        original = getattr(owner, attr)

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.stage(name):
                return original(*args, **kwargs)

        setattr(owner, attr, timed)


def _raw(update_id: int) -> bytes:
    return json.dumps(wb._update(update_id, 500, 20), ensure_ascii=False).encode()


async def _asgi(app: Any, raw: bytes, path: str, headers: list[tuple[bytes, bytes]]) -> int:
    """One POST through the ASGI app, no socket: FastAPI's routing, the request and the JSON response."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode()), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
        "app": app,
    }
    sent = False
    status = [0]

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status[0] = message["status"]

    await app(scope, receive, send)
    return status[0]


# The decode the HTTP stage already did (the intake decodes each update once; here it is timed apart as well).
DECODED_TWICE = "decode: json + surrogates + PTB Update.de_json + translate"


async def _round(ctx: dict[str, Any], first_id: int, count: int) -> dict[str, float]:
    """`count` updates through every stage, one at a time; µs of CPU per update per stage."""
    from tocns.inbound import store as inbound_store
    from tocns.web.intake import _read_update

    stages: Stages = ctx["stages"]
    stages.total.clear()
    pipeline, channel, web = ctx["pipeline"], ctx["channel"], ctx["web"]
    headers = [(wb.HEADER.lower().encode(), wb.SECRET.encode())]
    for update_id in range(first_id, first_id + count):
        raw = _raw(update_id)
        with stages.stage("HTTP: FastAPI + intake incl. a 2nd decode (ASGI, store stubbed)"):
            assert await _asgi(web, raw, "/webhook/telegram", headers) == 200
        with stages.stage(DECODED_TWICE):
            checked = _read_update(channel, raw)
        with stages.stage("store: INSERT with its claim (one statement, no session)"):
            (stored,) = await inbound_store.store_new_updates(
                pipeline.db,
                [(channel.platform, checked.key, checked.body)],
                chats=[checked.chat],
                claimable=[True],
                claim=pipeline._new_claim(),
                now=pipeline.clock(),
            )
            assert stored is not None
            row_id = stored[0]
        with stages.stage("process: session open/close, pipeline (own time)"):
            await pipeline._run(channel, row_id, checked)
    return {name: seconds / count * 1e6 for name, seconds in stages.total.items()}


def _instrument(stages: Stages) -> None:
    """Time the processing transaction's parts where they are called."""
    from sqlmodel.ext.asyncio.session import AsyncSession

    from tocns.core import router as router_mod
    from tocns.features.activity import commands
    from tocns.features.activity import store as activity_store
    from tocns.inbound import store as inbound_store

    # Since h-ghi3 the mark comes with the sender in one statement (`_mark_first`); before, the mark alone.
    marking = "_mark_first" if hasattr(router_mod.Router, "_mark_first") else "_mark_processed"
    stages.wrap_async(router_mod.Router, marking, "process: processed-mark statement (+ sender where folded)")
    stages.wrap_async(activity_store, "recent_identical_record", "process: double-tap check statement")
    stages.wrap_async(activity_store, "create_record", "process: record + items + audit statement")
    if hasattr(activity_store, "record_once"):  # since h-ghi3: the double-tap check inside the record's statement
        stages.wrap_async(activity_store, "record_once", "process: double-tap check + record statement (folded)")
    stages.wrap_async(inbound_store, "finish_with_messages", "process: receipt + done-mark statement")
    stages.wrap_sync(commands, "parse_log", "process: /ghi grammar (parse_log)")
    stages.wrap_async(inbound_store, "_insert", "store: INSERT statement")
    stages.wrap_async(inbound_store, "claim_stored", "store: claim statement")
    stages.wrap_async(AsyncSession, "commit", "COMMIT (the sessions)")
    stages.wrap_async(router_mod.Router, "handle", "process: router (own time)")


def _instrument_router(stages: Stages, router: Any) -> None:
    """Time the injected sender lookup (the router holds it as an attribute)."""
    command = router.registry.lookup("ghi")
    original = command.handler

    async def handler(ctx: Any) -> Any:
        with stages.stage("process: /ghi handler (own time: team, receipt text)"):
            return await original(ctx)

    object.__setattr__(command, "handler", handler)
    stages.wrap_async(
        router, "identify", "process: sender + binding + memberships statement (identify, where not folded)"
    )


async def _floors(ctx: dict[str, Any], count: int) -> dict[str, float]:
    """What the architecture cannot go below, measured the same way (µs per call)."""
    import asyncpg
    from sqlalchemy import text
    from telegram import Update

    from tocns.channels.telegram import translate

    url: str = ctx["url"]
    db = ctx["pipeline"].db
    out: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], Any]) -> None:
        start = time.process_time()
        for _ in range(count):
            fn()
        out[name] = (time.process_time() - start) / count * 1e6

    async def atimed(name: str, fn: Callable[[], Any]) -> None:
        start = time.process_time()
        for _ in range(count):
            await fn()
        out[name] = (time.process_time() - start) / count * 1e6

    body = wb._update(7, 500, 20)
    timed("PTB Update.de_json alone", lambda: Update.de_json(body, None))
    update = Update.de_json(body, None)
    timed("translate (PTB Update -> IncomingMessage)", lambda: translate(update, False, None))
    raw = _raw(7)
    timed("json.loads of the body", lambda: json.loads(raw))

    conn = await asyncpg.connect(wb._anchor_dsn(url))
    one = await conn.prepare("SELECT 1")
    await atimed("asyncpg: one prepared statement", lambda: one.fetchval())

    async def pg_txn() -> None:
        async with conn.transaction():
            await one.fetchval()

    await atimed("asyncpg: BEGIN + statement + COMMIT", pg_txn)
    await conn.close()
    select_one = text("SELECT 1")

    async def sa_session(statements: int) -> None:
        async with db.session() as session:
            c = await session.connection()
            for _ in range(statements):
                await c.execute(select_one)

    await atimed("SQLAlchemy: session + 1 Core statement + commit", lambda: sa_session(1))
    await atimed("SQLAlchemy: session + 5 Core statements + commit", lambda: sa_session(5))
    os.environ[wb.ANCHOR_ENV] = wb._anchor_dsn(url) or ""
    bare = wb.bare_app()
    start = time.process_time()
    for i in range(count):
        assert await _asgi(bare, _raw(i), "/webhook/telegram", []) == 200
    out["anchor: FastAPI + asyncpg INSERT through ASGI (no HTTP parsing)"] = (time.process_time() - start) / count * 1e6
    least = wb.least_app(db)
    for i in range(20):  # warm: the prepared statement, the catalogue
        status = await _asgi(least, _raw(10_000_000 + i), "/webhook/telegram", [])
        assert status == 200, status
    start = time.process_time()
    for i in range(count):
        assert await _asgi(least, _raw(i), "/webhook/telegram", []) == 200
    out[LEAST] = (time.process_time() - start) / count * 1e6
    return out


LEAST = "least /ghi the standard's parts allow (FastAPI, PTB decode, grammar, a session: 1 statement + commit)"


def _callgrind(state: str) -> None:
    """Mark the measured rounds for callgrind: run under `valgrind --tool=callgrind --zero-before=getppid
    --dump-before=getpgrp`, the counters start at zero here ("on") and are written out here ("off")."""
    if os.environ.get("GHI_CALLGRIND"):
        os.getppid() if state == "on" else os.getpgrp()


async def main_async(args: argparse.Namespace) -> None:
    """Seed a fresh database, warm up, then time the rounds and the floors."""
    from tests.fakes.telegram_server import TelegramServer
    from tocns.app import BotApp
    from tocns.channels.telegram import TelegramChannel, make_bot
    from tocns.config import Settings
    from tocns.db.engine import Database
    from tocns.web.app import create_app

    ns = argparse.Namespace(db=args.db, people=500, groups=20)
    url = await wb._fresh_database(ns)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        auto_migrate=False,
        telegram_bot_token="123456:TEST-telegram-token",
        telegram_webhook_secret=wb.SECRET,
        files_dir=tempfile.mkdtemp(),
    )
    db = Database(url)
    bot = BotApp.build(settings, db)
    fake = TelegramServer().__enter__()
    api = make_bot(settings.model_copy(update={"telegram_api_base_url": fake.base_url}))
    channel = TelegramChannel(settings, bot.router, bot=api)
    web = create_app(settings, bot_app=bot, channels=[channel])
    pipeline = bot.pipeline

    async def accept_stub(_channel: Any, _checked: Any) -> bool:
        return True

    web.state.pipeline.accept = accept_stub
    stages = Stages()
    ctx = {"stages": stages, "pipeline": pipeline, "channel": channel, "web": web, "url": url}
    # Warm-up: people (seeded: nothing is created), caches and prepared statements filled.
    await _round(ctx, 1, args.warmup)
    _instrument(stages)
    _instrument_router(stages, pipeline.router)
    results: dict[str, list[float]] = defaultdict(list)
    first = 1000
    _callgrind("on")
    profiler = wb._profiler(args)  # --profile: cProfile by process CPU over the measured rounds
    for _ in range(args.rounds):
        for name, micros in (await _round(ctx, first, args.updates)).items():
            results[name].append(micros)
        first += args.updates
    if profiler is not None:
        wb._profile_report(profiler, args)
    _callgrind("off")
    if args.no_floors:
        args.rounds = 0
    floors: dict[str, list[float]] = defaultdict(list)
    for _ in range(args.rounds):
        for name, micros in (await _floors(ctx, args.updates)).items():
            floors[name].append(micros)
    await bot.close()
    fake.__exit__(None, None, None)
    total = sum(statistics.median(v) for v in results.values())
    print(f"/ghi breakdown, {args.updates} updates x {args.rounds} rounds, median µs of CPU per update")
    for name, values in sorted(results.items(), key=lambda kv: -statistics.median(kv[1])):
        median = statistics.median(values)
        print(f"  {median:8.0f} µs {100 * median / total:5.1f}%  {name}")
    print(f"  {total:8.0f} µs        total (HTTP parsing by uvicorn not included)")
    print("floors (median µs per call)")
    for name, values in floors.items():
        print(f"  {statistics.median(values):8.0f} µs  {name}")
    anchor = next((statistics.median(v) for name, v in floors.items() if name.startswith("anchor")), None)
    if anchor:
        decode = statistics.median(results.get(DECODED_TWICE, [0.0]))
        print(f"ratio to the anchor: /ghi {(total - decode) / anchor:.2f}x (its update decoded once)", end="")
        if LEAST in floors:
            print(f", the least /ghi {statistics.median(floors[LEAST]) / anchor:.2f}x", end="")
        print()


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True, help="PostgreSQL URL of a scratch database (recreated)")
    parser.add_argument("--updates", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=500, help="updates before the measured rounds")
    parser.add_argument("--no-floors", action="store_true", help="skip the floors (callgrind runs)")
    parser.add_argument("--profile", default=None, help="cProfile file of the measured rounds (stage times inflate)")
    args = parser.parse_args()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
