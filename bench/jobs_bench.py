"""Benchmark (not a test): one scheduler tick (`run_due_jobs`) on a generated province of 5,000 teams.

Generates 1 province (one bound department chat), 1,000 communes x 5 teams, a bound group per commune, a commune
leader per commune (half with a private chat) and a team leader per team, 3 open tasks per commune assigned to
two teams each (one overdue for five weeks, one due this Thursday, one next month), a week of activity records
and three directives to every commune group (some acknowledged). Then it times:

  busy: Monday 23/11/2026 08:00 (reminders, escalations, digests and the weekly summary all due);
  idle: Tuesday 24/11/2026 14:37, after a tick at 14:00 sent what Tuesday had due (nothing new is due);
  idle Monday: 23/11/2026 15:37 after a tick at 15:00, the rest of the digests' and the summary's day;
  idle Saturday: 28/11/2026 10:00 after the Friday 16:00 tick nudged the silent teams and one at 09:00 (the
  nudge's window, Friday to Sunday night).

It prints the SQL statements sent during each tick (a before_cursor_execute listener), the seconds, and how long
the event loop stalled during the busy tick (a 10 ms sleeper's lateness: what a webhook would have waited).
Against an older commit: `git archive <commit> | tar -x -C /tmp/base` and run this script with
PYTHONPATH=/tmp/base (it imports only what every version has).

    python bench/jobs_bench.py --db sqlite [--communes 200] [--show-sql]
    python bench/jobs_bench.py --db postgresql+asyncpg://postgres@127.0.0.1:5432/bench_jobs
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from _common import recreate_postgres_database, watch_loop
from sqlalchemy import event, insert, text

import tocns.all_models  # noqa: F401  (every table known before inserting)
from tocns.app import BotApp
from tocns.config import Settings
from tocns.db.engine import Database, upgrade_database
from tocns.features.activity.models import ActivityItem, ActivityRecord, Indicator
from tocns.features.directives.models import Directive, DirectiveAck, DirectiveTarget
from tocns.features.org.models import ChatBinding, Membership, OrgUnit, Person
from tocns.features.tasks.models import Task, TaskAssignee
from tocns.scheduler import run_due_jobs

COMMUNES, TEAMS_PER_COMMUNE = 1000, 5
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 11, 1, tzinfo=UTC)
BUSY = datetime(2026, 11, 23, 8, 0, tzinfo=TZ)
WARM = datetime(2026, 11, 24, 14, 0, tzinfo=TZ)
IDLE = datetime(2026, 11, 24, 14, 37, tzinfo=TZ)
WARM_MONDAY = datetime(2026, 11, 23, 15, 0, tzinfo=TZ)
IDLE_MONDAY = datetime(2026, 11, 23, 15, 37, tzinfo=TZ)
NUDGE = datetime(2026, 11, 27, 16, 0, tzinfo=TZ)
WARM_SATURDAY = datetime(2026, 11, 28, 9, 0, tzinfo=TZ)
IDLE_SATURDAY = datetime(2026, 11, 28, 10, 0, tzinfo=TZ)


def _rows(communes: int) -> dict[Any, list[dict[str, Any]]]:
    rnd = random.Random(7)
    units = [
        dict(
            id=1,
            code="P01",
            name="Tỉnh Thử",
            name_folded="tinh thu",
            level="province",
            parent_id=None,
            path="/1/",
            depth=0,
            active=True,
            created_at=T0,
        )
    ]
    bindings = [dict(id=1, platform="telegram", chat_id="-1", org_unit_id=1, active=True, created_at=T0)]
    people: list[dict[str, Any]] = []
    members: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    assignees: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    teams_of: dict[int, list[int]] = {}
    leader_of: dict[int, int] = {}
    chat_of: dict[int, str] = {}
    uid = 2
    for c in range(communes):
        cid = uid
        uid += 1
        units.append(
            dict(
                id=cid,
                code=f"X{c:04d}",
                name=f"Xã {c:04d}",
                name_folded=f"xa {c:04d}",
                level="commune",
                parent_id=1,
                path=f"/1/{cid}/",
                depth=1,
                active=True,
                created_at=T0,
            )
        )
        bindings.append(
            dict(
                id=len(bindings) + 1,
                platform="telegram",
                chat_id=f"-{100000 + c}",
                org_unit_id=cid,
                active=True,
                created_at=T0,
            )
        )
        teams_of[cid] = []
        chat_of[cid] = f"-{100000 + c}"
        for t in range(TEAMS_PER_COMMUNE):
            units.append(
                dict(
                    id=uid,
                    code=f"X{c:04d}-T{t + 1}",
                    name=f"Thôn {t + 1}",
                    name_folded=f"thon {t + 1}",
                    level="team",
                    parent_id=cid,
                    path=f"/1/{cid}/{uid}/",
                    depth=2,
                    active=True,
                    created_at=T0,
                )
            )
            teams_of[cid].append(uid)
            uid += 1
    for cid, teams in teams_of.items():
        for unit_id, role in [(cid, "commune_leader")] + [(t, "team_leader") for t in teams]:
            pid = len(people) + 1
            private = str(500000 + pid) if role == "commune_leader" and cid % 2 == 0 else None
            people.append(
                dict(
                    id=pid,
                    platform="telegram",
                    user_id=str(pid),
                    display_name=f"Người {pid}",
                    private_chat_id=private,
                    created_at=T0,
                    last_seen_at=T0,
                )
            )
            members.append(dict(id=pid, person_id=pid, org_unit_id=unit_id, role=role, created_at=T0))
            leader_of.setdefault(unit_id, pid)
            if role == "team_leader":
                for day in range(16, 25):
                    if rnd.random() < 0.3:
                        rid = len(records) + 1
                        records.append(
                            dict(
                                id=rid,
                                person_id=pid,
                                org_unit_id=unit_id,
                                activity_date=date(2026, 11, day),
                                message_text="",
                                platform="telegram",
                                chat_id="-1",
                                created_at=datetime(2026, 11, day, 3, tzinfo=UTC),
                            )
                        )
                        items.append(dict(id=len(items) + 1, record_id=rid, indicator_id=1 + rid % 3, quantity=5))
        chat = chat_of[cid]
        for k, due in enumerate([date(2026, 10, 20), date(2026, 11, 26), date(2026, 12, 15)]):
            tid = len(tasks) + 1
            tasks.append(
                dict(
                    id=tid,
                    commune_id=cid,
                    title=f"Việc {k + 1}",
                    due_date=due,
                    scope="team",
                    platform="telegram",
                    chat_id=chat,
                    created_by_person_id=1,
                    status="open",
                    created_at=T0,
                )
            )
            for team in teams[:2]:
                assignees.append(dict(id=len(assignees) + 1, task_id=tid, team_id=team))
    indicators = [
        dict(
            id=i,
            code=f"c{i}",
            name=f"Chỉ tiêu {i}",
            unit="lượt",
            aliases="[]",
            max_per_message=500,
            sort_order=i,
            active=True,
        )
        for i in (1, 2, 3)
    ]
    directives, targets, acks = [], [], []
    for d in (1, 2, 3):
        created = datetime(2026, 11, 20 + d, 6, tzinfo=UTC)
        directives.append(dict(id=d, text=f"Chỉ đạo {d}", scope_label="toàn tỉnh", created_at=created))
        for b in bindings[1:]:
            targets.append(
                dict(
                    id=len(targets) + 1,
                    directive_id=d,
                    commune_id=b["org_unit_id"],
                    org_unit_id=b["org_unit_id"],
                    platform="telegram",
                    chat_id=b["chat_id"],
                )
            )
            if rnd.random() < 0.6:
                acks.append(
                    dict(
                        id=len(acks) + 1,
                        directive_id=d,
                        person_id=leader_of[b["org_unit_id"]],
                        commune_id=b["org_unit_id"],
                        acked_at=created + timedelta(hours=2),
                    )
                )
    return {
        OrgUnit: units,
        ChatBinding: bindings,
        Person: people,
        Membership: members,
        Indicator: indicators,
        ActivityRecord: records,
        ActivityItem: items,
        Task: tasks,
        TaskAssignee: assignees,
        Directive: directives,
        DirectiveTarget: targets,
        DirectiveAck: acks,
    }


async def _generate(db: Database, communes: int) -> None:
    async with db.engine.begin() as conn:
        # The migrations seed the indicator catalogue (ids 1-3 exist then); the records only need three of them.
        seeded = (await conn.execute(text("SELECT count(*) FROM indicator"))).scalar_one() >= 3
        for model, rows in _rows(communes).items():
            if model is Indicator and seeded:
                continue
            table = model.__table__  # type: ignore[attr-defined]
            for i in range(0, len(rows), 2000):
                await conn.execute(insert(table), rows[i : i + 2000])
        if not db.is_sqlite:
            await conn.execute(text("ANALYZE"))


async def _tick(
    app: BotApp, at: datetime, counter: list[Any], stalls: list[float] | None = None
) -> tuple[int, float, int]:
    counter[0] = 0
    counter[1] = []
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_loop(stalls if stalls is not None else [], stop))
    t = time.perf_counter()
    lines = await run_due_jobs(app, at.astimezone(UTC), wait=True)
    elapsed = time.perf_counter() - t
    stop.set()
    await watcher
    return counter[0], elapsed, len(lines)


async def _idle(app: BotApp, at: datetime, label: str, counter: list[Any], repeat: int, show_sql: bool) -> None:
    """Time `repeat` ticks at `at` that must enqueue nothing; print the best and, if asked, its statements."""
    idle = [await _tick(app, at, counter) for _ in range(repeat)]
    best = min(idle, key=lambda r: r[1])
    assert all(r[2] == 0 for r in idle), f"the idle tick {label} enqueued something"
    print(f"  idle tick {label}: {best[0]:,} statements, {best[1] * 1000:.1f} ms (best of {repeat})")
    if show_sql:
        for statement in counter[1]:
            print("      " + " ".join(statement.split())[:160])


async def _bench(url: str, repeat: int, show_sql: bool, communes: int) -> None:
    if url.startswith("sqlite"):
        Path(url.split(":///", 1)[1]).unlink(missing_ok=True)
    else:
        await recreate_postgres_database(url)
    await asyncio.to_thread(upgrade_database, url)
    db = Database(url)
    t = time.perf_counter()
    await _generate(db, communes)
    generation = time.perf_counter() - t
    files = tempfile.mkdtemp(prefix="jobs-bench-")
    settings = Settings(_env_file=None, database_url=url, files_dir=files, auto_migrate=False)  # type: ignore[call-arg]
    app = BotApp.build(settings, db)
    counter: list[Any] = [0, []]

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        counter[0] += 1
        counter[1].append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"{backend}: {communes * TEAMS_PER_COMMUNE:,} teams in {communes:,} communes; generation {generation:.1f} s")
    stalls: list[float] = []
    stmts, secs, sent = await _tick(app, BUSY, counter, stalls)
    print(f"  busy tick Mon 23/11 08:00: {sent:,} messages enqueued, {stmts:,} statements, {secs:.2f} s")
    print(
        f"    event loop during it: longest stall {max(stalls, default=0) * 1000:.0f} ms, "
        f"{sum(s for s in stalls if s > 0.1):.2f} s in stalls over 100 ms"
    )
    await _tick(app, WARM_MONDAY, counter)
    await _idle(app, IDLE_MONDAY, "Mon 23/11 15:37", counter, repeat, show_sql)
    await _tick(app, WARM, counter)
    await _idle(app, IDLE, "Tue 24/11 14:37", counter, repeat, show_sql)
    stmts, secs, sent = await _tick(app, NUDGE, counter)
    print(f"  nudge tick Fri 27/11 16:00: {sent:,} messages enqueued, {stmts:,} statements, {secs:.2f} s")
    await _tick(app, WARM_SATURDAY, counter)
    await _idle(app, IDLE_SATURDAY, "Sat 28/11 10:00", counter, repeat, show_sql)
    await app.close()  # the database and, after issue 23, the drawing pool


def main() -> None:
    """Parse arguments and run the benchmark on one database."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="sqlite", help="sqlite or a postgresql+asyncpg URL (database recreated)")
    parser.add_argument("--repeat", type=int, default=5, help="idle ticks timed (the best is printed)")
    parser.add_argument("--communes", type=int, default=COMMUNES, help=f"communes of {TEAMS_PER_COMMUNE} teams each")
    parser.add_argument("--show-sql", action="store_true", help="print the statements of each idle tick")
    args = parser.parse_args()
    url = "sqlite+aiosqlite:////tmp/bench_jobs.db" if args.db == "sqlite" else args.db
    asyncio.run(_bench(url, args.repeat, args.show_sql, args.communes))


if __name__ == "__main__":
    main()
