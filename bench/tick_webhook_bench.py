"""The webhook during the busy Monday tick (not a test): `/ghi` latency at an open-loop rate before and during it.

Usage:
    python bench/tick_webhook_bench.py --url postgresql+asyncpg://postgres@127.0.0.1:5432/national
                                       [--rate 50] [--people 2000] [--workers 1] [--after 15] [--clients 1]
                                       [--trees /work/main .]   (before and after, one run each, same load)

On a database bench/national_gen.py loaded (kept; only the outbox and `job_done` are emptied first, as in
national_bench.py, so every run's tick does the whole Monday's work) it starts the real `tocns serve` with its
outbox sender delivering to a fake Telegram Bot API in this process (the tests' fake, as webhook_bench.py does) and
the process's clock set by TOCNS_CLOCK_START (tocns/core/clock.py: the setting tests and trials use to run `tocns`
at a chosen moment) to Monday 23/11/2026 07:59:10 local. The server's scheduler then runs its first minute's tick
at about 08:00:10 by its clock: the busy Monday tick (weekly summary, commune digests, task reminders and
escalations, the nudge), exactly as in production: in the worker that answers the webhook before 06/12/2026, in
`tocns serve`'s jobs process since (PostgreSQL; tocns/jobs_process.py). Nothing in the server is patched.
--trees runs the server once from each source tree in turn (before, after) on the same database and load.

From the moment the server answers /healthz, --people known team members (bench/webhook_bench.py's
`known_senders`: each in the group bound to their team's commune) post `/ghi vneid N thon 3` through the Telegram
webhook at an open-loop --rate per second (webhook_bench's load generator), until --after seconds after the tick
ended. The tick is seen from outside: the scheduler holds its PostgreSQL advisory lock for exactly the jobs' run,
and this script polls `pg_locks` every 20 ms. Each update's latency is measured two ways:

  ack: the HTTP POST to its 200 (what Telegram waits for);
  done: the POST to the update marked processed (record, items, rollup and receipt committed), from
        `inbound_update.processed_at`, which the server stamps on its shifted clock: the offset is bounded from
        `received_at` (stamped between each POST and its answer) and its uncertainty printed;
  and, every 100 ms, a probe: GET of a path the app does not have (a 404 answered on the event loop without the
  database): the "loop" rows, how late the server's event loop gets to a request (its stalls).

Updates are grouped by when they were posted: before the tick (the baseline, same run), during it, after it.
Printed: p50/p99/max of each, the ratios during/baseline, the tick's duration, and the CPU seconds of the server
process tree over each phase (robust to a loaded machine: the seconds are not).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from webhook_bench import (
    _free_port,
    _load,
    _pct,
    _postgres_cpu,
    _start,
    _stop,
    _tree_cpu,
    known_senders,
    serve_env,
)

from tocns.scheduler import JOBS_LOCK_KEY

CLOCK_START = "2026-11-23T07:59:10+07:00"
CHUNK_SECONDS = 20.0


async def _reset(url: str) -> None:
    """Empty the outbox and the finished-job marks (the tick then does the whole Monday's work again) and the
    inbound queue: an interrupted run's pending updates would hold their chats' turn (one chat's updates are
    processed in arrival order) and be processed first."""
    from sqlalchemy import text

    from tocns.db.engine import Database

    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.execute(text("DELETE FROM outbox"))
        await conn.execute(text("DELETE FROM job_done"))
        await conn.execute(text("DELETE FROM inbound_update"))
    await db.dispose()


async def _watch_lock(
    dsn: str, holds: list[list[float]], stop: asyncio.Event, cpu: list[tuple[float, float]], pid: int
) -> None:
    """Record each interval the scheduler's advisory lock is held in this database ([start, end] epoch seconds),
    with the server's and PostgreSQL's CPU seconds at each edge."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    query = (
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = $1 AND objid = $2 "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    high, low = JOBS_LOCK_KEY >> 32, JOBS_LOCK_KEY & 0xFFFFFFFF
    held = False
    try:
        while not stop.is_set():
            now = await conn.fetchval(query, high, low) > 0
            if now != held:
                if now:
                    holds.append([time.time(), 0.0])
                else:
                    holds[-1][1] = time.time()
                    print(f"  scheduler tick {len(holds)}: {holds[-1][1] - holds[-1][0]:.2f} s", flush=True)
                cpu.append((_tree_cpu(pid), _postgres_cpu()))
                held = now
            await asyncio.sleep(0.02)
    finally:
        await conn.close()


async def _probe_loop(port: int, probes: list[tuple[float, float]], stop: asyncio.Event) -> None:
    """Every 100 ms, GET a path the app does not have (a 404 answered on the event loop, no database): its latency
    is how long the server's loop takes to get to a request, so a stall shows apart from database waits."""
    from webhook_bench import _Connection

    request = f"GET /loop-probe HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    connection = _Connection(*await asyncio.open_connection("127.0.0.1", port))
    while not stop.is_set():
        t0 = time.time()
        try:
            await connection.post(request)
        except (asyncio.IncompleteReadError, ConnectionError):
            connection = _Connection(*await asyncio.open_connection("127.0.0.1", port))
            continue
        probes.append((t0, time.time() - t0))
        await asyncio.sleep(max(0.0, 0.1 - (time.time() - t0)))
    connection.writer.close()


async def _ends(url: str, ids: set[int]) -> tuple[dict[int, float], dict[int, float]]:
    """(received_at, processed_at) on the server's clock, epoch seconds, of each of these updates processed."""
    from sqlalchemy import text

    from tocns.db.engine import Database

    db = Database(url)
    async with db.engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT update_key, received_at, processed_at FROM inbound_update WHERE platform = 'telegram' "
                    "AND update_key::bigint BETWEEN :lo AND :hi"
                ),
                {"lo": min(ids), "hi": max(ids)},
            )
        ).all()
    await db.dispose()

    def epoch(at: datetime) -> float:
        return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()

    received = {int(k): epoch(r) for k, r, _ in rows if int(k) in ids}
    processed = {int(k): epoch(p) for k, _, p in rows if int(k) in ids and p is not None}
    return received, processed


async def _loaded(target: str, args: argparse.Namespace, id_base: int, tick_over: asyncio.Event) -> list[Any]:
    """Open-loop load in CHUNK_SECONDS pieces started on a fixed timetable (a slow answer never delays the next
    piece), until --after seconds past the tick's end (or --max-seconds)."""
    chunks: list[asyncio.Task[list[Any]]] = []
    per_chunk = int(args.rate * CHUNK_SECONDS)
    started = time.perf_counter()
    over_at: float | None = None
    while True:
        chunks.append(asyncio.create_task(_load(target, "open", per_chunk, args, id_base + len(chunks) * per_chunk)))
        due = started + len(chunks) * CHUNK_SECONDS
        while time.perf_counter() < due:
            if tick_over.is_set() and over_at is None:
                over_at = time.perf_counter()
            await asyncio.sleep(0.05)
        if over_at is not None and time.perf_counter() - over_at >= args.after:
            break
        if time.perf_counter() - started >= args.max_seconds:
            print(f"  load stopped after --max-seconds {args.max_seconds:g}", flush=True)
            break
    sends: list[Any] = []
    for chunk in chunks:
        sends.extend(await chunk)
    return sends


def _row(label: str, values: list[float]) -> str:
    if not values:
        return f"  {label:28} (none)"
    return (
        f"  {label:28} n={len(values):5,}  p50 {_pct(values, 0.5):8.1f} ms  p99 {_pct(values, 0.99):8.1f} ms  "
        f"max {max(values) * 1000:8.1f} ms"
    )


async def bench(args: argparse.Namespace, tree: str | None = None) -> dict[str, Any]:
    """Start the server (its code from `tree` when given) on the Monday clock, load it, watch the tick, then print
    the figures; the run's raw figures."""
    from tests.fakes.telegram_server import TelegramServer

    url = args.url
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    await _reset(url)
    args.senders = await known_senders(url, args.people)
    load_start = os.getloadavg()
    port = _free_port()
    # Unique update ids across runs on the same database (the inbound queue dedupes on them).
    id_base = int(time.time()) * 1000
    holds: list[list[float]] = []
    edges: list[tuple[float, float]] = []
    stop = asyncio.Event()
    with TelegramServer() as api:
        env = {**serve_env(url, api.base_url, port), "TOCNS_CLOCK_START": CLOCK_START}
        if tree is not None:
            env["PYTHONPATH"] = str(Path(tree).resolve())  # that tree's tocns, in the venv's interpreter
        tocns = str(Path(sys.executable).with_name("tocns"))
        proc = await _start([tocns, "serve", "--workers", str(args.workers), "--port", str(port)], port, env)
        t_ready = time.time()
        cpu_ready = (_tree_cpu(proc.pid), _postgres_cpu())
        watcher = asyncio.create_task(_watch_lock(dsn, holds, stop, edges, proc.pid))
        probes: list[tuple[float, float]] = []
        prober = asyncio.create_task(_probe_loop(port, probes, stop))
        tick_over = asyncio.Event()

        async def tick_end() -> None:
            while not (holds and holds[0][1]):
                await asyncio.sleep(0.05)
            tick_over.set()

        ender = asyncio.create_task(tick_end())
        try:
            sends = await _loaded(f"http://127.0.0.1:{port}/webhook/telegram", args, id_base, tick_over)
            t_end = time.time()
            ids = {u for u, _, _ in sends}
            received: dict[int, float] = {}
            processed: dict[int, float] = {}
            for _ in range(3000):
                received, processed = await _ends(url, ids)
                if len(processed) == len(ids):
                    break
                await asyncio.sleep(0.2)
            else:
                raise SystemExit(f"only {len(processed)} of {len(ids)} updates processed in time")
            delivered = len(api.fake.delivered())
        finally:
            stop.set()
            ender.cancel()
            await watcher
            await prober
            await _stop(proc)
    load_end = os.getloadavg()
    if not holds or not holds[0][1]:
        raise SystemExit("the busy tick did not run (or did not end) while the load ran")
    raw = {
        "sends": sends,
        "received": received,
        "processed": processed,
        "tick": holds[0],
        "span": [t_ready, t_end],
        "edges": edges,
        "cpu_ready": cpu_ready,
        "probes": probes,
    }
    save = args.save if tree is None else f"{Path(args.save).stem}.{Path(tree).resolve().name}.json"
    Path(save).write_text(json.dumps(raw))
    _report(args, raw)
    print(
        f"{len(sends):,} updates, every one processed; {delivered:,} messages reached the fake Bot API by the stop; "
        f"load average {load_start[0]:.1f} at start, {load_end[0]:.1f} at end (1-minute), "
        f"{load_end[2]:.1f} (15-minute); cpus {os.cpu_count()}"
    )
    return raw


async def compare(args: argparse.Namespace) -> None:
    """One run per --trees source tree, in turn on the same database and load; then their p99s side by side."""
    runs = []
    for tree in args.trees:
        print(f"=== server code from {tree}", flush=True)
        runs.append((tree, await bench(args, tree)))
    print("=== side by side (during the tick; the first tree is the baseline)")
    base = None
    for tree, raw in runs:
        during = _during(raw)
        line = "  ".join(f"{kind} p99 {_pct(v, 0.99):7.1f} ms" for kind, v in during.items() if v)
        tick = raw["tick"][1] - raw["tick"][0]
        if base is None:
            base = during
            print(f"  {tree:28} tick {tick:6.1f} s  {line}")
            continue
        ratios = "  ".join(
            f"{kind} {_pct(v, 0.99) / _pct(base[kind], 0.99):.2f}x" for kind, v in during.items() if v and base[kind]
        )
        print(f"  {tree:28} tick {tick:6.1f} s  {line}  (p99 vs baseline: {ratios})")


def _during(raw: dict[str, Any]) -> dict[str, list[float]]:
    """The ack latencies and loop probes of the updates posted while the tick ran (seconds)."""
    start, stop = raw["tick"]
    ack = [t1 - t0 for _, t0, t1 in raw["sends"] if start <= t0 <= stop]
    loop = [latency for at, latency in raw.get("probes", []) if start <= at <= stop]
    return {"ack": ack, "loop": loop}


def _report(args: argparse.Namespace, raw: dict[str, Any]) -> None:
    """Print the latency table by phase, the ratios and the CPU seconds per phase, from a run's raw figures."""
    sends, span, edges, cpu_ready = raw["sends"], raw["span"], raw["edges"], raw["cpu_ready"]
    received = {int(k): v for k, v in raw["received"].items()}
    processed = {int(k): v for k, v in raw["processed"].items()}
    # The server's clock runs at real speed from TOCNS_CLOCK_START: one offset, bounded by each received_at.
    low = max(received[u] - t1 for u, _, t1 in sends)
    high = min(received[u] - t0 for u, t0, _ in sends)
    offset = (low + high) / 2
    start, stop = raw["tick"]
    phases: dict[str, dict[str, list[float]]] = {p: {"ack": [], "done": []} for p in ("before", "during", "after")}
    for u, t0, t1 in sends:
        phase = "before" if t0 < start else "during" if t0 <= stop else "after"
        phases[phase]["ack"].append(t1 - t0)
        phases[phase]["done"].append(processed[u] - offset - t0)
    print(
        f"`tocns serve --workers {args.workers}`, clock from {CLOCK_START}; /ghi from {args.people:,} known members "
        f"at {args.rate:g}/s open loop ({args.clients} client process(es), {CHUNK_SECONDS:g} s pieces)"
    )
    print(
        f"busy tick (scheduler's advisory lock held): {stop - start:.1f} s, from {start - span[0]:.1f} s after the "
        f"server was ready; clock offset known within +-{(high - low) / 2 * 1000:.1f} ms"
    )
    for u, latency in raw.get("probes", []):
        phase = "before" if u < start else "during" if u <= stop else "after"
        phases[phase].setdefault("loop", []).append(latency)
    for kind in ("ack", "done", "loop"):
        for phase in ("before", "during", "after"):
            print(_row(f"{kind} {phase} the tick", phases[phase].get(kind, [])))
    for kind in ("ack", "done", "loop"):
        base, busy = phases["before"].get(kind, []), phases["during"].get(kind, [])
        if base and busy:
            print(
                f"ratio during/before, {kind}: p50 {_pct(busy, 0.5) / _pct(base, 0.5):.1f}x, "
                f"p99 {_pct(busy, 0.99) / _pct(base, 0.99):.1f}x"
            )
    if len(edges) >= 2:
        (s0, _), (s1, _) = edges[0], edges[1]
        before_s, tick_s = max(1e-9, start - span[0]), max(1e-9, stop - start)
        print(
            f"CPU seconds per wall second of the server (with its drawing process): before the tick "
            f"{(s0 - cpu_ready[0]) / before_s:.2f}, during {(s1 - s0) / tick_s:.2f}; over the tick {s1 - s0:.1f} s "
            f"({args.rate:g}/s x {tick_s:.0f} s of /ghi included)"
        )


def main() -> None:
    """Parse the arguments and run the benchmark (the load generator children run webhook_bench.py)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="postgresql+asyncpg URL of a database national_gen.py loaded")
    parser.add_argument("--rate", type=float, default=50.0, help="/ghi updates per second, open loop")
    parser.add_argument("--people", type=int, default=2000, help="known team members posting")
    parser.add_argument("--workers", type=int, default=1, help="`tocns serve --workers N`")
    parser.add_argument("--after", type=float, default=15.0, help="seconds of load after the tick ended")
    parser.add_argument("--max-seconds", type=float, default=1200.0, help="stop the load after this long anyway")
    parser.add_argument("--clients", type=int, default=1, help="load generator processes per piece")
    parser.add_argument("--save", default="tick_webhook_bench.json", help="the run's raw figures (JSON)")
    parser.add_argument("--report", default=None, help="print the figures of a saved run instead of running")
    parser.add_argument(
        "--trees",
        nargs="+",
        default=None,
        help="run the server once from each of these source trees in turn (git worktrees: before, after), "
        "the first being the baseline; the same database, load and machine",
    )
    args = parser.parse_args()
    args.concurrency, args.groups = 1, 1  # webhook_bench's load generator reads these (unused in open loop)
    if args.report:
        _report(args, json.loads(Path(args.report).read_text()))
    elif args.trees:
        asyncio.run(compare(args))
    else:
        asyncio.run(bench(args))


if __name__ == "__main__":
    main()
