"""The sender's claim on PostgreSQL with a long sent history: the id-ordered claim (before) against the two range
scans of ix_outbox_due (now), by EXPLAIN ANALYZE execution time, with the plan each one uses.

Run: python bench/outbox_claim_bench.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/NAME
    [--sent 300000] [--waiting 2000]

The outbox table of that database is emptied, filled with `--sent` sent rows and `--waiting` pending rows due in an
hour (nothing due: the claim the sender makes every poll while a broadcast waits; with --due, due now: a
broadcast under way), measured, and emptied again.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tocns.db.engine import upgrade_database

PLATFORM = "platform IN ('telegram')"
BEFORE = (
    f"SELECT id FROM outbox WHERE {PLATFORM} AND ((state='pending' AND next_attempt_at <= now()) "
    "OR (state='sending' AND lease_until < now())) ORDER BY id LIMIT 30 FOR UPDATE SKIP LOCKED"
)
AFTER = (
    f"SELECT id FROM outbox WHERE {PLATFORM} AND state='sending' AND lease_until < now() "
    "ORDER BY id LIMIT 30 FOR UPDATE SKIP LOCKED",
    f"SELECT id FROM outbox WHERE {PLATFORM} AND state='pending' AND next_attempt_at <= now() "
    "ORDER BY next_attempt_at, id LIMIT 30 FOR UPDATE SKIP LOCKED",
)
FILL = (
    "INSERT INTO outbox (platform, chat_id, text, kind, state, attempts, next_attempt_at, created_at, sent_at, "
    "parts_sent) SELECT 'telegram', (-1000 - g % 5000)::text, 'x', 'reply', 'sent', 1, now() - interval '1 day', "
    "now() - interval '1 day', now() - interval '1 day', 0 FROM generate_series(1, :sent) g",
    "INSERT INTO outbox (platform, chat_id, text, kind, state, attempts, next_attempt_at, created_at, parts_sent) "
    "SELECT 'telegram', (-1000 - g)::text, 'x', 'directive', 'pending', 0, now() + :wait, now(), 0 "
    "FROM generate_series(1, :waiting) g",
)


async def measure(url: str, sent: int, waiting: int, due: bool) -> dict[str, float | str]:
    """Fill, explain both claims (best of three), empty; returns milliseconds and the top plan node of each."""
    engine = create_async_engine(url)
    figures: dict[str, float | str] = {}
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM outbox"))
            for sql in FILL:
                wait = timedelta(seconds=-1 if due else 3600)
                await conn.execute(text(sql), {"sent": sent, "waiting": waiting, "wait": wait})
            await conn.execute(text("ANALYZE outbox"))
        async with engine.begin() as conn:
            for name, queries in (("before", (BEFORE,)), ("after", AFTER)):
                best = float("inf")
                for _ in range(3):
                    total, nodes = 0.0, []
                    for sql in queries:
                        plan = (await conn.execute(text(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}"))).scalar_one()
                        plan = plan if isinstance(plan, list) else json.loads(plan)
                        total += plan[0]["Execution Time"]
                        node = plan[0]["Plan"]
                        while node.get("Plans") and node["Node Type"] in (
                            "Limit",
                            "LockRows",
                            "Sort",
                            "Incremental Sort",
                        ):
                            node = node["Plans"][0]
                        nodes.append(f"{node['Node Type']} on {node.get('Index Name', 'the table')}")
                    best = min(best, total)
                figures[name], figures[f"{name}_plan"] = best, " + ".join(nodes)
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM outbox"))
        await engine.dispose()
    return figures


def main() -> None:
    """Parse arguments, measure, print one line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True, help="a PostgreSQL database this bench may empty")
    parser.add_argument("--sent", type=int, default=300_000)
    parser.add_argument("--waiting", type=int, default=2_000)
    parser.add_argument("--due", action="store_true", help="the waiting rows are due now (a broadcast under way)")
    args = parser.parse_args()
    upgrade_database(args.database_url)
    r = asyncio.run(measure(args.database_url, args.sent, args.waiting, args.due))
    rows = f"{args.waiting} {'due' if args.due else 'waiting'} rows"
    print(
        f"claim with {args.sent} sent and {rows}: before {r['before']:.2f} ms "
        f"({r['before_plan']}), after {r['after']:.3f} ms ({r['after_plan']}); "
        f"ratio after/before {float(r['after']) / float(r['before']):.4f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
