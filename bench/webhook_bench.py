"""End-to-end webhook benchmark: HTTP POST of a Telegram update -> stored -> processed -> reply in the outbox.

Usage:
    python bench/webhook_bench.py [--db URL] [--requests 1000] [--concurrency 50] [--rate 50] [--seconds 10]
                                  [--people 500] [--groups 20] [--clients 2] [--loop uvloop|asyncio]
                                  [--workers N] [--profile FILE]

With --workers N (PostgreSQL) the bot is the real `tocns serve --workers N` in its own processes, its outbox sender
delivers the receipts to a fake Telegram Bot API (a local HTTP server in this process), and the run fails unless
every receipt reached it exactly once; the bare endpoint then runs on uvicorn with the same number of workers.
Without it (the default), the server runs in this process, which lets it count the SQL statements per update.

Every request is `/ghi vneid 5 thon 3` from a member of a team, posted in the Telegram group bound to that
team's commune (--people members spread over --groups bound groups). Compares with a bare FastAPI JSON endpoint
served the same way in the same run. The server (uvicorn + bot) runs in this process; the load generator runs in
--clients child processes, so the clients' CPU does not slow the server's event loop. Latency: wall clock from
the POST to the record stored and the reply row committed in the outbox. Also prints the SQL statements
executed per update (each one is a database round trip).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

# Module level: FastAPI resolves an endpoint's annotations (strings here) in its module's globals.
from fastapi import Request
from fastapi.responses import JSONResponse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET = "tg-secret-AbC123"


TEXT = "/ghi vneid 5 thon 3"


def _text(update_id: int, people: int) -> str:
    """`/ghi vneid N thon 3`: the quantity changes with each round of the people, so a person's second message is
    new work, not a double tap (an identical /ghi within 2 minutes is pointed to the first, not recorded)."""
    return TEXT.replace(" 5 ", f" {1 + (update_id // people) % 20} ")


def _chat_id(group: int) -> int:
    return -1001000000000 - group


MESSAGE_ID_BASE = 1_000_000_000


def _user_id(person: int) -> int:
    return 5000000 + person


def _update(update_id: int, people: int, groups: int, senders: list[tuple[int, int]] | None = None) -> dict[str, Any]:
    """A real-shaped Telegram group message: /ghi from member `update_id % people` in their commune's group (with
    `senders`, the (user id, group chat id) pairs of known members of an existing database: `known_senders`)."""
    person = update_id % people
    user, chat = senders[person] if senders else (_user_id(person), _chat_id(person % groups))
    return {
        "update_id": update_id,
        "message": {
            # Above the generators' record message ids (1 to 20 M, national_gen's rid): a bench update on a loaded
            # database is a new message, not a copy of a stored one.
            "message_id": MESSAGE_ID_BASE + update_id,
            "date": 1795000000,
            "chat": {"id": chat, "type": "supergroup", "title": "Xã - Tổ CNS"},
            "from": {
                "id": user,
                "is_bot": False,
                "first_name": f"Lan {person}",
                "last_name": "Nguyễn",
                "username": f"lan{person}",
            },
            "text": _text(update_id, people),
            "entities": [{"type": "bot_command", "offset": 0, "length": 4}],
        },
    }


ANCHOR_ENV = "BENCH_ANCHOR_DSN"
ANCHOR_TABLE = "CREATE TABLE IF NOT EXISTS bench_anchor (id bigserial PRIMARY KEY, update_id bigint, body jsonb)"


def bare_app() -> Any:
    """The minimal anchor: FastAPI parsing the same JSON and, on PostgreSQL (BENCH_ANCHOR_DSN), inserting it with
    one asyncpg statement from a pool, then answering {"ok": true} (uvicorn factory)."""
    from fastapi import FastAPI

    bare = FastAPI()
    dsn = os.environ.get(ANCHOR_ENV)
    pools: list[Any] = []
    starting = asyncio.Lock()

    async def pool() -> Any:
        import asyncpg

        async with starting:
            if not pools:
                pools.append(await asyncpg.create_pool(dsn, min_size=2, max_size=10))
        return pools[0]

    @bare.post("/webhook/telegram")
    async def echo(body: dict[str, Any]) -> dict[str, bool]:
        if dsn:
            await (await pool()).execute(
                "INSERT INTO bench_anchor (update_id, body) VALUES ($1, $2)", body["update_id"], json.dumps(body)
            )
        return {"ok": True}

    return bare


def least_app(db: Any = None) -> Any:
    """The least a `/ghi` can be with the parts the standards name (uvicorn factory; DATABASE_URL when no `db`):
    FastAPI reads the body, python-telegram-bot decodes it, the channel translates it, the real grammar parses it
    against the cached catalogue, and one SQLModel session runs the anchor's INSERT on its asyncpg connection
    (`tocns.db.raw`, the hot path's way) and commits. Nothing stored first, no sender looked up, no record, no
    receipt: what a /ghi cannot go below while it keeps those parts."""
    from fastapi import FastAPI
    from sqlalchemy import bindparam, column, insert, table
    from telegram import Update

    from tocns.channels.telegram import translate
    from tocns.db import raw as raw_sql
    from tocns.db.engine import Database
    from tocns.features.activity import store as activity_store
    from tocns.features.activity.grammar import parse_log

    # Ten connections and no overflow, as the anchor's pool: a request waits for one instead of opening another.
    database = db if db is not None else Database(os.environ["DATABASE_URL"], pool_size=10, max_overflow=0)
    app = FastAPI()
    statement = raw_sql.Prepared(
        insert(table("bench_anchor", column("update_id"), column("body"))).values(
            update_id=bindparam("u"), body=bindparam("b")
        )
    )
    today = date(2026, 12, 7)

    @app.post("/webhook/telegram")
    async def least(request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        message = translate(Update.de_json(body, None))
        assert message is not None and message.text is not None
        async with database.session() as session:
            catalogue = activity_store.to_catalogue(await activity_store.indicators(session))
            parse_log(message.text.split(maxsplit=1)[1], catalogue, today)
            await raw_sql.fetch(session, statement, {"u": body["update_id"], "b": json.dumps(body)})
        return JSONResponse({"ok": True})

    return app


async def known_senders(url: str, people: int) -> str:
    """A JSON file of `people` (Telegram user id, group chat id) pairs: team members of an existing database (e.g.
    bench/national_gen.py's) with the group bound to their team's commune, spread over the communes; for --senders."""
    from sqlalchemy import text

    from tocns.db.engine import Database

    db = Database(url)
    async with db.engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT p.user_id, b.chat_id FROM person p JOIN membership m ON m.person_id = p.id "
                    "JOIN org_unit t ON t.id = m.org_unit_id AND t.level = 'team' "
                    "JOIN chat_binding b ON b.org_unit_id = t.parent_id AND b.platform = 'telegram' AND b.active "
                    "WHERE p.platform = 'telegram' AND m.role IN ('member', 'team_leader') "
                    "ORDER BY hashtext(p.user_id) LIMIT :n"
                ),
                {"n": people},
            )
        ).all()
    await db.dispose()
    if len(rows) < people:
        raise SystemExit(f"{url}: only {len(rows)} team members in bound groups, {people} asked")
    handle, path = tempfile.mkstemp(prefix="bench-senders-", suffix=".json")
    with os.fdopen(handle, "w") as out:
        json.dump([[int(u), int(c)] for u, c in rows], out)
    return path


def _anchor_dsn(url: str) -> str | None:
    """The asyncpg DSN of the anchor's database (the bot's), or None on SQLite (the anchor then only parses)."""
    return url.replace("postgresql+asyncpg://", "postgresql://") if url.startswith("postgresql") else None


# ---------------------------------------------------------------- client (child process)


class _Connection:
    """One keep-alive HTTP/1.1 connection sending pre-encoded POSTs: a load generator that costs the machine far
    less CPU per request than an HTTP client library, so the server under test gets the cores."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def post(self, request: bytes) -> tuple[int, bytes]:
        """Send one request and read its answer: the status and the body."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        return status, await self.reader.readexactly(length)


async def _client(args: argparse.Namespace) -> None:
    from urllib.parse import urlsplit

    url, mode, count, concurrency, rate = args.client, args.mode, args.requests, args.concurrency, args.rate
    id_base, people, groups = args.id_base, args.people, args.groups
    senders = [(int(u), int(c)) for u, c in json.loads(Path(args.senders).read_text())] if args.senders else None
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80

    def request(update_id: int) -> bytes:
        body = json.dumps(_update(update_id, people, groups, senders), ensure_ascii=False).encode()
        head = (
            f"POST {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"{HEADER}: {SECRET}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    idle: list[_Connection] = []
    sends: list[tuple[int, float, float]] = []

    async def one(update_id: int) -> None:
        payload = request(update_id)
        reused = bool(idle)
        connection = idle.pop() if idle else _Connection(*await asyncio.open_connection(host, port))
        t0 = time.time()
        try:
            status, body = await connection.post(payload)
        except (asyncio.IncompleteReadError, ConnectionError):
            if reused:
                # The server closed a keep-alive connection that sat idle: open a new one (nothing was processed).
                t0 = time.time()
            elif mode == "closed":
                raise
            else:
                # A new connection reset under an overload (open loop): sent again at once, as Telegram would retry
                # (the queue dedupes the update id); its latency keeps the first attempt's start.
                print(f"update {update_id}: connection reset, sent again", file=sys.stderr)
            connection = _Connection(*await asyncio.open_connection(host, port))
            status, body = await connection.post(payload)
        if status != 200:
            raise SystemExit(f"HTTP {status}: {body[:200]!r}")
        sends.append((update_id, t0, time.time()))
        idle.append(connection)

    if mode == "closed":
        ids = list(range(id_base, id_base + count))[::-1]

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
    for connection in idle:
        connection.writer.close()
    json.dump(sends, sys.stdout)


# ---------------------------------------------------------------- server (this process)


def serve_env(url: str, api_base_url: str, port: int) -> dict[str, str]:
    """The environment of a benched `tocns serve` on `url` and `port`, talking to the fake Bot API at `api_base_url`."""
    return {
        **os.environ,
        "DATABASE_URL": url,
        "AUTO_MIGRATE": "false",
        "TELEGRAM_BOT_TOKEN": "123456:TEST-telegram-token",
        "TELEGRAM_API_BASE_URL": api_base_url,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        # Only registered with the fake Bot API, which (like Telegram) refuses a webhook that is not HTTPS.
        "PUBLIC_BASE_URL": f"https://127.0.0.1:{port}",
        "LINK_SIGNING_SECRET": "bench-link-signing-secret-0123456789",
        "FILES_DIR": tempfile.mkdtemp(),
        "LOG_LEVEL": "WARNING",
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _load(url: str, mode: str, count: int, args: argparse.Namespace, id_base: int) -> list[Any]:
    """Run the load over several client processes; each sends its share of ids (and of the rate)."""
    clients = max(1, min(args.clients, count))
    shares = [count // clients + (1 if i < count % clients else 0) for i in range(clients)]
    procs = []
    start = id_base
    for share in shares:
        procs.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--client",
                url,
                "--mode",
                mode,
                "--requests",
                str(share),
                "--concurrency",
                str(max(1, args.concurrency // clients)),
                "--rate",
                str(args.rate / clients),
                "--id-base",
                str(start),
                "--people",
                str(args.people),
                "--groups",
                str(args.groups),
                *(["--senders", args.senders] if getattr(args, "senders", None) else []),
                stdout=asyncio.subprocess.PIPE,
            )
        )
        start += share
    sends: list[Any] = []
    for proc in procs:
        out, _ = await proc.communicate()
        if proc.returncode:
            raise SystemExit(f"load generator failed ({proc.returncode})")
        sends.extend(json.loads(out))
    return sends


async def _seed(url: str, people: int, groups: int) -> None:
    """One province, `groups` communes each bound to a Telegram group with three teams, `people` team members."""
    from tocns.core.roles import Level, Role
    from tocns.db.engine import Database
    from tocns.features.activity.store import indicators
    from tocns.features.org import store as org_store

    db = Database(url)
    async with db.session() as session:
        province = await org_store.create_unit(session, code="P01", name="Tỉnh Thử", level=Level.PROVINCE)
        teams = []
        for g in range(groups):
            commune = await org_store.create_unit(
                session, code=f"X{g:03d}", name=f"Xã Số {g}", level=Level.COMMUNE, parent=province
            )
            teams.append([await org_store.add_team(session, commune.code, f"Thôn {t}") for t in (1, 2, 3)])
            await org_store.bind_chat(session, platform="telegram", chat_id=str(_chat_id(g)), unit=commune, person=None)
        for p in range(people):
            person = await org_store.upsert_person(
                session, platform="telegram", user_id=str(_user_id(p)), display_name=f"Lan {p} Nguyễn"
            )
            team = teams[p % groups][(p // groups) % 3]
            await org_store.set_membership(session, person=person, unit=team, role=Role.MEMBER)
        await indicators(session)  # seeds the default catalogue
    await db.dispose()


async def _fresh_database(args: argparse.Namespace) -> str:
    """Recreate the schema (PostgreSQL) or a new file (SQLite), migrate and seed; the database URL."""
    from tocns.db.engine import Database, upgrade_database_async

    url: str = args.db or f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"
    if url.startswith("postgresql"):
        from sqlalchemy import text

        reset = Database(url)
        async with reset.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await reset.dispose()
    await upgrade_database_async(url)
    await _seed(url, args.people, args.groups)
    if url.startswith("postgresql"):
        from sqlalchemy import text

        anchor = Database(url)
        async with anchor.engine.begin() as conn:
            await conn.execute(text(ANCHOR_TABLE))
        await anchor.dispose()
    return url


async def _check_stored(db: Any) -> None:
    """Every /ghi was stored and answered with a receipt (the benchmark measures real work, not errors)."""
    from sqlmodel import col, func, select

    from tocns.features.activity.models import ActivityRecord
    from tocns.outbox.models import OutboxMessage

    async with db.session() as session:
        records = await session.scalar(select(func.count()).select_from(ActivityRecord))
        receipts = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(col(OutboxMessage.text).startswith("Đã ghi #"))
        )
        replies = await session.scalar(select(func.count()).select_from(OutboxMessage))
    if not records or records != receipts or receipts != replies:
        raise SystemExit(f"bench check failed: {records} records, {receipts} receipts, {replies} replies")


async def _server(args: argparse.Namespace) -> None:
    import uvicorn
    from sqlalchemy import event

    from tests.fakes.telegram_server import TelegramServer
    from tocns.app import BotApp
    from tocns.channels.telegram import TelegramChannel, make_bot
    from tocns.config import Settings
    from tocns.db.engine import Database
    from tocns.web.app import create_app

    url = await _fresh_database(args)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        auto_migrate=False,
        telegram_bot_token="123456:TEST-telegram-token",
        telegram_webhook_secret=SECRET,
        files_dir=tempfile.mkdtemp(),
    )
    db = Database(url)
    statements = [0]

    @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
    def count(*_: Any) -> None:
        statements[0] += 1

    bot = BotApp.build(settings, db)
    # The bot's Bot API calls (none are expected: updates arrive by webhook) go to the tests' fake server.
    fake_telegram = TelegramServer().__enter__()
    api = make_bot(settings.model_copy(update={"telegram_api_base_url": fake_telegram.base_url}))
    channel = TelegramChannel(settings, bot.router, bot=api)
    done: dict[int, float] = {}
    process = bot.pipeline.process

    async def timed(channel: Any, row_id: int, checked: Any, **kwargs: Any) -> None:
        await process(channel, row_id, checked, **kwargs)
        done[checked.body["update_id"]] = time.time()

    bot.pipeline.process = timed  # type: ignore[method-assign]
    web = create_app(settings, bot_app=bot, channels=[channel])
    dsn = _anchor_dsn(url)
    if dsn:
        os.environ[ANCHOR_ENV] = dsn
    bare = bare_app()

    async def settle(expected: set[int]) -> None:
        while not expected <= done.keys():
            await asyncio.sleep(0.01)

    results: dict[str, Any] = {}
    id_base = 1_000_000
    open_count = int(args.rate * args.seconds)
    for name, app in (("bare", bare), ("bot", web)):
        port = _free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", http="httptools", loop="none"
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        target = f"http://127.0.0.1:{port}/webhook/telegram"
        phases = []
        # First one message alone (creates the sender's person row), then a warm-up, then the two measured runs.
        for mode, count in (("closed", 1), ("closed", 50), ("closed", args.requests), ("open", open_count)):
            before, cpu_before = statements[0], time.process_time()
            measured = mode == "closed" and count == args.requests
            profiler = _profiler(args) if measured and name == "bot" else None
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
            if profiler is not None:
                _profile_report(profiler, args)
            if measured:
                results[f"{name}_statements"] = (statements[0] - before) / count
                results[f"{name}_cpu_ms"] = (time.process_time() - cpu_before) / count * 1000
        results[name] = phases[2:]
        if name == "bot":
            await _check_stored(db)
        server.should_exit = True
        await task
    await bot.close()
    fake_telegram.__exit__(None, None, None)
    kind = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(
        f"database: {kind}; {TEXT!r} from {args.people} people in {args.groups} groups; closed loop "
        f"{args.requests} requests at concurrency {args.concurrency}; open loop {args.rate:g}/s for "
        f"{args.seconds:g} s; {args.clients} client processes; loop {args.loop}; cpus {os.cpu_count()}; "
        f"load {os.getloadavg()[0]:.1f}"
    )
    print(
        f"SQL statements per update (closed loop): {results['bot_statements']:.1f}; server process CPU per update: "
        f"{results['bot_cpu_ms']:.1f} ms (one core saturates at {1000 / results['bot_cpu_ms']:.0f}/s); anchor "
        f"{results['bare_cpu_ms']:.2f} ms; ratio bot/anchor server CPU "
        f"{results['bot_cpu_ms'] / results['bare_cpu_ms']:.1f}"
    )
    _print_rows(results, args)


# ---------------------------------------------------------------- `tocns serve --workers N` (separate processes)


def _tree_cpu(pid: int) -> float:
    """CPU seconds used so far by a process and its children (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            pending += [int(c) for c in Path(f"/proc/{current}/task/{current}/children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    return total


def _postgres_cpu() -> float:
    """CPU seconds used so far by the PostgreSQL server processes on this machine (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, rest = stat.read_text().split("(", 1)[1].rsplit(")", 1)
        except (OSError, ValueError):
            continue
        if name.startswith("postgres"):
            fields = rest.split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _roles(pid: int) -> dict[str, float]:
    """CPU seconds so far of each kind of process under `tocns serve` (Linux /proc): "web" (the uvicorn workers and
    their supervisor), "jobs" (the `tocns jobs` process: scheduler and outbox sender) and "drawing" (its pool)."""
    ticks = os.sysconf("SC_CLK_TCK")
    totals = {"web": 0.0, "jobs": 0.0, "drawing": 0.0}
    pending = [(pid, "web")]
    while pending:
        current, role = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            argv = Path(f"/proc/{current}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            children = [int(c) for c in Path(f"/proc/{current}/task/{current}/children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if argv.rstrip().endswith("tocns.cli jobs"):
            role = "jobs"
        elif role == "jobs" and current != pid and "multiprocessing" in argv:
            role = "drawing"
        totals[role] += (int(fields[11]) + int(fields[12])) / ticks
        pending += [(c, role) for c in children]
    return totals


def _tree_pids(pid: int) -> list[int]:
    """A process and all its descendants."""
    pids, pending = [], [pid]
    while pending:
        current = pending.pop()
        pids.append(current)
        try:
            pending += [int(c) for c in Path(f"/proc/{current}/task/{current}/children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return pids


BENCH_APP = "webhook_bench"
"""The application_name of the bench's own connections: left out of the server's PostgreSQL CPU."""


async def _database_backends(db: Any) -> list[int]:
    """The PostgreSQL backends serving this database, the bench's own connections left out."""
    from sqlalchemy import text

    async with db.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name <> :bench AND pid <> pg_backend_pid()"
            ),
            {"bench": BENCH_APP},
        )
        return [int(pid) for (pid,) in rows]


def _pids_cpu(pids: list[int]) -> dict[int, float]:
    """CPU seconds so far of each of these processes (those still alive)."""
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        cpu[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return cpu


async def _database_stats(db: Any) -> dict[str, float]:
    """This database's transactions and the row changes of the hot tables so far (pg_stat_*; the bench's own
    reads are not changes)."""
    from sqlalchemy import text

    async with db.engine.connect() as conn:
        commits = (
            await conn.execute(
                text("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()")
            )
        ).scalar_one()
        stats = {"transactions": float(commits)}
        rows = await conn.execute(text("SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables"))
        for name, ins, upd, dele in rows:
            stats[f"{name} ins"] = float(ins)
            stats[f"{name} upd"] = float(upd)
            stats[f"{name} del"] = float(dele)
    return stats


def _busy_cpu() -> float:
    """Machine-wide busy CPU seconds so far (all processes, all cores)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


async def _start(command: list[str], port: int, env: dict[str, str]) -> asyncio.subprocess.Process:
    import httpx

    proc = await asyncio.create_subprocess_exec(*command, env=env, stdout=asyncio.subprocess.DEVNULL)
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            if proc.returncode is not None:
                raise SystemExit(f"{command[0]} exited with {proc.returncode}")
            try:
                await client.get(f"http://127.0.0.1:{port}/healthz")
                return proc
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise SystemExit("server did not start")


async def _stop(proc: asyncio.subprocess.Process) -> None:
    import signal

    proc.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(proc.wait(), timeout=60)
    except TimeoutError:
        proc.kill()
        await proc.wait()


def _signal_tree(pid: int, name: str) -> None:
    """Send a signal to `tocns serve` and every process under it (--profile-served: start or stop profiling)."""
    import signal

    for current in _tree_pids(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(current, getattr(signal, name))


async def _delivered(api: Any, db: Any, polls: int) -> list[int]:
    """The record numbers of the receipts the fake Bot API got, once it has one for every record (or after `polls`
    tenths of a second)."""
    import re

    from sqlmodel import func, select

    from tocns.features.activity.models import ActivityRecord

    async with db.session() as session:
        records = int(await session.scalar(select(func.count()).select_from(ActivityRecord)) or 0)
    delivered: list[int] = []
    for _ in range(polls):
        delivered = [int(n) for c in api.fake.delivered() for n in re.findall(r"Đã ghi #(\d+)", c.text)]
        if len(set(delivered)) >= records:
            break
        await asyncio.sleep(0.1)
    return delivered


async def _processed_at(db: Any, update_ids: set[int]) -> dict[int, float]:
    """When each update was marked processed (epoch seconds), for the ones that are."""
    from datetime import UTC

    from sqlmodel import col, select

    from tocns.inbound.models import InboundUpdate

    async with db.session() as session:
        rows = (
            await session.exec(
                select(InboundUpdate.update_key, InboundUpdate.processed_at).where(
                    col(InboundUpdate.processed_at).is_not(None)
                )
            )
        ).all()
    done = {}
    for key, at in rows:
        if int(key) in update_ids:
            done[int(key)] = (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()
    return done


async def _server_workers(args: argparse.Namespace) -> None:

    from sqlmodel import col, select

    from tests.fakes.telegram_server import TelegramServer
    from tocns.db.engine import Database
    from tocns.features.activity.models import ActivityRecord

    url = await _fresh_database(args)
    if not url.startswith("postgresql"):
        raise SystemExit("--workers needs PostgreSQL (--db postgresql+asyncpg://...)")
    db = Database(url, connect_args={"server_settings": {"application_name": BENCH_APP}})
    tocns = str(Path(sys.executable).with_name("tocns"))
    results: dict[str, Any] = {}
    id_base = 1_000_000
    open_count = int(args.rate * args.seconds)
    with TelegramServer() as api:
        for name in ("bare", "least", "bot") if args.least else ("bare", "bot"):
            port = _free_port()
            env = {**serve_env(url, api.base_url, port), ANCHOR_ENV: _anchor_dsn(url) or ""}
            if args.profile_served:
                os.makedirs(args.profile_served, exist_ok=True)
                site = str(Path(__file__).resolve().parent / "served_profile")
                env["PYTHONPATH"] = os.pathsep.join(filter(None, [site, env.get("PYTHONPATH")]))
                env["BENCH_PROFILE_DIR"] = args.profile_served
            if name == "bot":
                command = [tocns, "serve", "--workers", str(args.workers), "--port", str(port)]
            else:
                command = [sys.executable, "-m", "uvicorn", "--app-dir", str(Path(__file__).parent), "--factory"]
                command += [f"webhook_bench:{name}_app", "--workers", str(args.workers), "--port", str(port)]
                command += ["--log-level", "warning", "--http", "httptools", "--loop", "uvloop"]
            if name != "bot":
                # The anchor and the least /ghi have no /healthz: wait for the port instead.
                command_env = env
                proc = await asyncio.create_subprocess_exec(*command, env=command_env)
                await _wait_port(port)
            else:
                proc = await _start(command, port, env)
            target = f"http://127.0.0.1:{port}/webhook/telegram"
            stats_before, id_base_start = await _database_stats(db), id_base
            phases = []
            last_post = 0.0
            try:
                for mode, count in (("closed", 1), ("closed", 50), ("closed", args.requests), ("open", open_count)):
                    measured = mode == "closed" and count == args.requests
                    cpu_before, busy_before, pg_before = _tree_cpu(proc.pid), _busy_cpu(), _postgres_cpu()
                    roles_before = _roles(proc.pid)
                    backends = await _database_backends(db)
                    backends_before = _pids_cpu(backends)
                    if measured and name == "bot" and args.profile_served:
                        _signal_tree(proc.pid, "SIGUSR1")
                    sends = await _load(target, mode, count, args, id_base)
                    id_base += count
                    if name == "bot":
                        wanted = {u for u, _, _ in sends}
                        ends: dict[int, float] = {}
                        for _ in range(60_000):
                            ends = await _processed_at(db, wanted)
                            if len(ends) == len(wanted):
                                break
                            await asyncio.sleep(0.05)
                        else:
                            raise SystemExit("updates were not processed in time")
                    else:
                        ends = {u: t1 for u, _, t1 in sends}
                    last_post = max(last_post, max(t1 for _, _, t1 in sends))
                    latencies = [ends[u] - t0 for u, t0, _ in sends]
                    span = max(ends.values()) - min(t0 for _, t0, _ in sends)
                    phases.append((count / span, latencies))
                    if measured:
                        results[f"{name}_cpu_ms"] = (_tree_cpu(proc.pid) - cpu_before) / count * 1000
                        results[f"{name}_busy_ms"] = (_busy_cpu() - busy_before) / count * 1000
                        results[f"{name}_pg_ms"] = (_postgres_cpu() - pg_before) / count * 1000
                        if name == "bot":
                            # Until the sender is done with this phase's receipts too (it trails the processing).
                            await _delivered(api, db, 600)
                            if args.profile_served:
                                _signal_tree(proc.pid, "SIGUSR2")
                        roles_after = _roles(proc.pid)
                        results[f"{name}_roles_ms"] = {
                            role: (roles_after[role] - roles_before[role]) / count * 1000 for role in roles_after
                        }
                        backends_after = _pids_cpu(backends)
                        results[f"{name}_db_ms"] = (
                            sum(backends_after[p] - backends_before[p] for p in backends_after if p in backends_before)
                            / count
                            * 1000
                        )
                        results[f"{name}_backends"] = len(backends)
                results[name] = phases[2:]
                if name == "bot":
                    # Every receipt must reach the (fake) Bot API exactly once.
                    async with db.session() as session:
                        ids = set((await session.exec(select(col(ActivityRecord.id)))).all())
                    records = len(ids)
                    delivered = await _delivered(api, db, 6000)
                    results["delivered_after"] = time.time() - last_post
                    # PostgreSQL publishes a backend's counters within about ten seconds of its last transaction.
                    await asyncio.sleep(11)
                    stats_after = await _database_stats(db)
                    total = id_base - id_base_start
                    results["db_stats"] = {
                        key: (value - stats_before.get(key, 0.0)) / total for key, value in stats_after.items()
                    }
                    if sorted(delivered) != sorted(ids):
                        raise SystemExit(f"bench check failed: {records} records, {len(delivered)} receipts delivered")
                    results["records"] = records
                    results["messages"] = len(api.fake.delivered())
                    results["busiest_second"] = _busiest_second([call.at for call in api.fake.delivered()])
            finally:
                await _stop(proc)
    await db.dispose()
    print(
        f"database: PostgreSQL; `tocns serve --workers {args.workers}`; {TEXT!r} from {args.people} people in "
        f"{args.groups} groups; closed loop {args.requests} requests at concurrency {args.concurrency}; open loop "
        f"{args.rate:g}/s for {args.seconds:g} s; {args.clients} client processes; cpus {os.cpu_count()}; "
        f"load {os.getloadavg()[0]:.1f}"
    )
    print(
        f"CPU per update (closed loop): server (all workers) {results['bot_cpu_ms']:.1f} ms, PostgreSQL "
        f"{results['bot_pg_ms']:.1f} ms, whole machine (also the load generator and anything else running) "
        f"{results['bot_busy_ms']:.1f} ms; anchor (FastAPI + asyncpg insert): server {results['bare_cpu_ms']:.2f} ms, "
        f"PostgreSQL {results['bare_pg_ms']:.2f} ms; ratio bot/anchor server CPU "
        f"{results['bot_cpu_ms'] / results['bare_cpu_ms']:.1f}"
    )
    if "least_cpu_ms" in results:
        print(
            f"least /ghi the standard's parts allow (least_app): server {results['least_cpu_ms']:.2f} ms, "
            f"PostgreSQL {results['least_pg_ms']:.2f} ms; ratio least/anchor server CPU "
            f"{results['least_cpu_ms'] / results['bare_cpu_ms']:.2f}"
        )
    roles = results["bot_roles_ms"]
    print(
        "CPU per update, closed loop until its receipts were delivered: "
        + ", ".join(f"{role} {ms:.2f} ms" for role, ms in roles.items())
        + f" (processes of `tocns serve`); PostgreSQL backends of this database {results['bot_db_ms']:.2f} ms "
        f"({results['bot_backends']} backends; anchor {results['bare_db_ms']:.2f} ms)"
    )
    stats = results["db_stats"]
    print(
        f"per update over the whole run: {stats.pop('transactions'):.2f} transactions; rows changed: "
        + ", ".join(f"{key} {value:.2f}" for key, value in stats.items() if value >= 0.005)
    )
    print(
        f"receipts delivered to the fake Bot API: all {results['records']} exactly once, in {results['messages']} "
        f"messages (replies to a group merged under the rate limits), the last {results['delivered_after']:.1f} s "
        f"after the last POST; at most {results['busiest_second']} in any one second (Telegram's limit: 30)"
    )
    _print_rows(results, args)


def _busiest_second(times: list[float]) -> int:
    """The most of these moments (seconds) inside any one-second span."""
    ordered, start, most = sorted(times), 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


async def _wait_port(port: int) -> None:
    for _ in range(600):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise SystemExit("bare server did not start")


def _profiler(args: argparse.Namespace) -> Any:
    """A started profiler when --profile is given: cProfile timed by process CPU (time waiting for PostgreSQL or the
    network is not counted), so its self times rank where the server's CPU goes."""
    if not args.profile:
        return None
    import cProfile

    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    return profiler


def _profile_report(profiler: Any, args: argparse.Namespace) -> None:
    """Stop the profiler, save its stats and print the CPU self time grouped by package, then the top functions."""
    import pstats
    from collections import Counter

    profiler.disable()
    profiler.dump_stats(args.profile)
    stats = pstats.Stats(profiler)
    by_package: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    for (path, line, function), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        parts = path.replace("\\", "/").split("/")
        package = next((p for p in parts if p in _PACKAGES), parts[-1] if "/" in path else path)
        by_package[package] += tottime
        by_function[f"{'/'.join(parts[-2:])}:{line} {function}"] += tottime
    total = sum(by_package.values())
    print(f"profile: {total:.2f} s CPU in profiled functions; self time by package:")
    for package, seconds in by_package.most_common(16):
        print(f"  {seconds:6.3f} s {100 * seconds / total:5.1f}%  {package}")
    print("top functions by self time:")
    for function, seconds in by_function.most_common(25):
        print(f"  {seconds:6.3f} s {100 * seconds / total:5.1f}%  {function}")


_PACKAGES = {
    "sqlalchemy",
    "asyncpg",
    "telegram",
    "fastapi",
    "starlette",
    "uvicorn",
    "pydantic",
    "pydantic_core",
    "sqlmodel",
    "tocns",
    "asyncio",
    "json",
    "logging",
    "greenlet",
    "uvloop",
    "anyio",
    "httptools",
    "bench",
}


def _print_rows(results: dict[str, Any], args: argparse.Namespace) -> None:
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
    parser.add_argument("--people", type=int, default=500, help="team members sending /ghi")
    parser.add_argument("--groups", type=int, default=20, help="bound Telegram groups (one commune each)")
    parser.add_argument("--clients", type=int, default=2, help="load generator processes")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop", help="server event loop")
    parser.add_argument("--workers", type=int, default=0, help="run `tocns serve --workers N` (PostgreSQL)")
    parser.add_argument(
        "--least", action="store_true", help="with --workers: also serve `least_app`, the least /ghi, measured alike"
    )
    parser.add_argument("--profile", default=None, help="in-process: cProfile file of the bot's closed loop")
    parser.add_argument(
        "--profile-served",
        default=None,
        help="with --workers: a directory for one cProfile file per process of `tocns serve`, over the closed loop",
    )
    parser.add_argument("--client", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="closed", help=argparse.SUPPRESS)
    parser.add_argument("--id-base", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--senders", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        import uvloop

        uvloop.run(_client(args))
    elif args.workers:
        asyncio.run(_server_workers(args))
    elif args.loop == "uvloop":
        import uvloop

        uvloop.run(_server(args))
    else:
        asyncio.run(_server(args))


if __name__ == "__main__":
    main()
