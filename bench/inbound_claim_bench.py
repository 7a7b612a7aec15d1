"""The inbound loop's claim on PostgreSQL with a backlog: the claim before migration 0027 (every claimable pending row
by id, each probed for an earlier pending row of its chat) against the claim of each chat's head (a loose index
scan of ix_inbound_update_pending), by EXPLAIN (ANALYZE, BUFFERS), with the buffers each one touches.

Run: python bench/inbound_claim_bench.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/NAME
    [--pending 2000] [--chats 20] [--done 0] [--repeat 5]

The database's schema is recreated at the head migration. For each case the table is filled with `--done` done
updates then `--pending` pending ones spread round-robin over `--chats` chats (arrival order), vacuumed and analysed;
the "before" claim is measured with migration 0026's index (ix_inbound_update_chat) and the "after" claim with
0027's, each in a transaction rolled back, best of `--repeat`. Cases: the chats' heads free (a sweep takes one
update per chat), the heads held by another worker (a sweep finds nothing: the poll that used to pay the whole
backlog), and an empty queue.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parent.parent))  # after PYTHONPATH: a baseline checkout may go first

import asyncpg

from bench._common import recreate_postgres_database
from tocns.db.engine import upgrade_database
from tocns.inbound import store as inbound_store

LIMIT = 32  # the loop's SWEEP_BATCH
# Migration 0026's claim (tocns/inbound/store.py before 0027), as SQLAlchemy compiled it; then the UPDATE of the ids.
BEFORE = (
    "SELECT inbound_update.id FROM inbound_update WHERE inbound_update.platform IN ('telegram') "
    "AND inbound_update.state = $2 "
    "AND (inbound_update.next_attempt_at IS NULL OR inbound_update.next_attempt_at <= $1) "
    "AND (inbound_update.claimed_by IS NULL OR inbound_update.claimed_until < $1) AND NOT (EXISTS (SELECT * "
    "FROM inbound_update AS earlier WHERE earlier.platform = inbound_update.platform "
    "AND earlier.chat_key = inbound_update.chat_key AND earlier.state = $2 AND earlier.id < inbound_update.id)) "
    f"ORDER BY inbound_update.id LIMIT {LIMIT} FOR UPDATE OF inbound_update SKIP LOCKED"
)
OLD_INDEX = "CREATE INDEX ix_inbound_update_chat ON inbound_update (platform, chat_key, state)"
NEW_INDEX = "CREATE INDEX ix_inbound_update_pending ON inbound_update (platform, chat_key, id) WHERE state = 'pending'"
FILL = (
    "INSERT INTO inbound_update (platform, update_key, body, state, received_at, processed_at, chat_key, attempts) "
    "SELECT 'telegram', 'd' || g, '{}', 'done', now() - interval '1 hour', now() - interval '1 hour', "
    "(-1000 - g % $2)::text, 0 FROM generate_series(1, $1) g",
    "INSERT INTO inbound_update (platform, update_key, body, state, received_at, chat_key, attempts) "
    "SELECT 'telegram', 'p' || g, '{}', 'pending', now(), (-1000 - g % $2)::text, 0 FROM generate_series(1, $1) g",
)
HOLD_HEADS = (
    "UPDATE inbound_update SET claimed_by = 'other-worker', claimed_until = now() + interval '2 minutes' "
    "WHERE id IN (SELECT min(id) FROM inbound_update WHERE state = 'pending' GROUP BY chat_key)"
)


async def explain(conn: asyncpg.Connection, sql: str, args: list[Any], repeat: int) -> dict[str, Any]:
    """Best of `repeat` EXPLAIN (ANALYZE, BUFFERS) runs, each rolled back: milliseconds, buffers, rows returned."""
    best: dict[str, Any] | None = None
    for _ in range(repeat):
        tr = conn.transaction()
        await tr.start()
        try:
            [plan] = json.loads(await conn.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", *args))
        finally:
            await tr.rollback()
        top = plan["Plan"]
        run = {
            "ms": round(plan["Execution Time"], 3),
            "planning": round(plan["Planning Time"], 3),
            "buffers": top["Shared Hit Blocks"] + top["Shared Read Blocks"],
            "rows": top["Actual Rows"],
        }
        if best is None or run["ms"] < best["ms"]:
            best = run
    assert best is not None
    return best


async def use_index(conn: asyncpg.Connection, old: bool) -> None:
    """Migration 0026's index (old) or 0027's, the other dropped; analysed."""
    await conn.execute("DROP INDEX IF EXISTS ix_inbound_update_chat")
    await conn.execute("DROP INDEX IF EXISTS ix_inbound_update_pending")
    await conn.execute(OLD_INDEX if old else NEW_INDEX)
    await conn.execute("ANALYZE inbound_update")


async def case(url: str, name: str, pending: int, chats: int, done: int, hold: bool, repeat: int) -> dict[str, Any]:
    """Fill one case, measure the claim before and after; returns the figures."""
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        await conn.execute("TRUNCATE inbound_update RESTART IDENTITY")
        await conn.execute(FILL[0], done, chats)
        await conn.execute(FILL[1], pending, chats)
        if hold:
            await conn.execute(HOLD_HEADS)
        await conn.execute("VACUUM ANALYZE inbound_update")
        now = datetime.now(UTC)
        await use_index(conn, old=True)
        before = await explain(conn, BEFORE, [now, "pending"], repeat)
        # The UPDATE that followed the old SELECT, by primary key: a few buffers per row claimed; not counted.
        await use_index(conn, old=False)
        params = {
            "owner": "bench",
            "until": now + timedelta(seconds=120),
            "now": now,
            "limit": LIMIT,
            "platform_0": "telegram",
        }
        from sqlalchemy.dialects.postgresql.asyncpg import dialect

        sql, args = inbound_store._claim_heads(1, postgres=True).args(dialect(), params)
        after = await explain(conn, sql, args, repeat)
    finally:
        await conn.close()
    return {"case": name, "pending": pending, "chats": chats, "done": done, "before": before, "after": after}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--pending", type=int, default=2000)
    parser.add_argument("--chats", type=int, default=20)
    parser.add_argument("--done", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    await recreate_postgres_database(args.database_url)
    await asyncio.to_thread(upgrade_database, args.database_url)
    cases = [
        ("heads free", args.pending, args.chats, False),
        ("heads held", args.pending, args.chats, True),
        ("spread, heads held", args.pending, args.pending, True),
        ("empty queue", 0, args.chats, False),
    ]
    print("| case | pending | chats | done | before: ms (planning) | buffers | rows | after: ms (planning) | buffers "
          "| rows | ratio (execution) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, pending, chats, hold in cases:
        r = await case(args.database_url, name, pending, chats, args.done, hold, args.repeat)
        b, a = r["before"], r["after"]
        print(
            f"| {name} | {pending} | {chats} | {args.done} | {b['ms']} ({b['planning']}) | {b['buffers']} "
            f"| {b['rows']} "
            f"| {a['ms']} ({a['planning']}) | {a['buffers']} | {a['rows']} | {a['ms'] / b['ms']:.2f}x |"
        )


if __name__ == "__main__":
    asyncio.run(main())
