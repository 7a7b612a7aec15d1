"""National data generator (not a test): the whole country on one PostgreSQL database, loaded with COPY.

At --scale 1.0: 34 provinces and their 3,321 communes (names and codes from `vietnam-provinces`, codes as
`tocns org import` makes them), 80,000 teams (about 24 per commune, `<commune>-T01`...), 400,000 team members
(a leader and four members per team), a commune leader per commune (half with a private chat), a staff member per
province, a bound group per province and per commune, three open tasks per commune (one overdue, one due this
Thursday, one next month, each assigned to two teams), three directives to every commune group (60% acknowledged)
and a year of records up to Sunday 22/11/2026: about 20 M records with 2 items each, 40 M items (3% deleted, 10% of
teams silent). --scale keeps the 34 provinces and scales the communes (each province keeps its first share of
wards), teams, members and records together, so a commune keeps the shape it has at full size.

The database named by --url is dropped and created, migrated (`tocns db upgrade`), then loaded in one session with
`session_replication_role = replica` (no foreign-key or month-total trigger per row: the rows are consistent by
construction), the record tables' secondary indexes and unique constraint dropped during the load and rebuilt
after; `activity_month_total` (kept by triggers in the app) is filled with the same aggregate its migration uses.
A final step runs `tocns rollup rebuild` when that command exists.

    python bench/national_gen.py --scale 0.05 --url postgresql+asyncpg://postgres@127.0.0.1:5432/national
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from _common import recreate_postgres_database

from tocns.core.text import fold
from tocns.db.bulk import drop_and_rebuild, secondary_sql
from tocns.db.engine import upgrade_database

PROVINCES, COMMUNES, TEAMS, MEMBERS_PER_TEAM = 34, 3321, 80_000, 5
RECORDS_PER_TEAM = 250  # a year, 2 items each: 80,000 x 250 x 2 = 40 M items
# Activity weight of a team (mean 1): one team in ten never reports.
WEIGHTS = (0.0, 0.6, 1.0, 1.4, 2.0)
END = date(2026, 11, 22)
DAYS = 365
T0 = datetime(2026, 1, 1, tzinfo=UTC)
BIG_TABLES = ("activity_record", "activity_item")
DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/national"


@dataclass
class Tree:
    """The generated org tree and people, as COPY rows per table, plus what the record pass needs."""

    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    teams: list[tuple[int, str, list[int]]] = field(default_factory=list)  # (team id, commune chat, people)
    next_unit: int = 1

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        """Append one row to a table's COPY rows."""
        self.rows.setdefault(table, []).append(row)

    def unit(self, code: str, name: str, level: str, parent: tuple[int, str] | None, depth: int) -> tuple[int, str]:
        """Add an org unit; returns (id, path)."""
        uid = self.next_unit
        self.next_unit += 1
        path = f"{parent[1] if parent else '/'}{uid}/"
        self.add("org_unit", (uid, code, name, fold(name), level, parent[0] if parent else None, path, depth, True, T0))
        return uid, path

    def person(self, name: str, unit_id: int, role: str, private: bool = False) -> int:
        """Add a person with one membership; returns the person id."""
        pid = len(self.rows.get("person", ())) + 1
        self.add("person", (pid, "telegram", str(pid), name, str(900_000_000 + pid) if private else None, T0, T0))
        self.add("membership", (pid, pid, unit_id, role, T0))
        return pid

    def chat(self, unit_id: int, chat_id: str, title: str) -> None:
        """Bind a group chat to a unit."""
        self.add(
            "chat_binding", (len(self.rows.get("chat_binding", ())) + 1, "telegram", chat_id, unit_id, title, True, T0)
        )


COLUMNS = {
    "org_unit": ["id", "code", "name", "name_folded", "level", "parent_id", "path", "depth", "active", "created_at"],
    "person": ["id", "platform", "user_id", "display_name", "private_chat_id", "created_at", "last_seen_at"],
    "membership": ["id", "person_id", "org_unit_id", "role", "created_at"],
    "chat_binding": ["id", "platform", "chat_id", "org_unit_id", "chat_title", "active", "created_at"],
    "task": ["id", "commune_id", "title", "due_date", "scope", "platform", "chat_id", "created_by_person_id", "status",
             "created_at"],
    "task_assignee": ["id", "task_id", "team_id"],
    "directive": ["id", "text", "scope_label", "created_at", "state", "urgent"],
    "directive_target": ["id", "directive_id", "commune_id", "org_unit_id", "platform", "chat_id"],
    "directive_ack": ["id", "directive_id", "person_id", "commune_id", "role", "acked_at"],
    "activity_record": ["id", "person_id", "org_unit_id", "activity_date", "platform", "chat_id", "message_id",
                        "created_at", "deleted_at", "message_text"],
    "activity_item": ["id", "record_id", "indicator_id", "quantity"],
}  # fmt: skip


def _divisions(scale: float) -> list[tuple[Any, list[Any]]]:
    """The 34 provinces with their first share of wards (at least one each)."""
    from vietnam_provinces import Province, Ward

    out = []
    for province in Province.iter_all():
        wards = list(Ward.iter_by_province(province.code))
        out.append((province, wards[: max(1, round(len(wards) * scale))]))
    return out


def _communes(tree: Tree, scale: float) -> list[tuple[int, str, str, int]]:
    """Provinces and communes with their groups and leaders: (commune id, code, chat, leader) per commune."""
    communes = []
    for province, wards in _divisions(scale):
        pcode = f"{province.code.value:02d}"
        prov = tree.unit(pcode, province.name, "province", None, 0)
        tree.chat(prov[0], f"-10{pcode}", f"Sở KH&CN {province.name}")
        tree.person(f"Cán bộ {province.name}", prov[0], "staff", private=True)
        for ward in wards:
            wcode = f"{ward.code.value:05d}"
            commune = tree.unit(wcode, ward.name, "commune", prov, 1)
            chat = f"-20{wcode}"
            tree.chat(commune[0], chat, f"Tổ CNS {ward.name}")
            leader = tree.person(f"Chủ tịch {ward.name}", commune[0], "commune_leader", private=commune[0] % 2 == 0)
            communes.append((commune[0], wcode, chat, leader))
    return communes


def build_tree(scale: float) -> Tree:
    """Generate every table except the records: org tree, people, groups, tasks and directives."""
    tree = Tree()
    communes = _communes(tree, scale)
    teams = max(len(communes), round(TEAMS * scale))
    paths = {row[0]: row[6] for row in tree.rows["org_unit"]}
    for k, (cid, code, chat, _leader) in enumerate(communes):
        count = teams // len(communes) + (1 if k < teams % len(communes) else 0)
        team_ids = []
        for n in range(1, count + 1):
            tid, _ = tree.unit(f"{code}-T{n:02d}", f"Tổ CNS thôn {n}", "team", (cid, paths[cid]), 2)
            people = [tree.person(f"Tổ trưởng {code}-{n}", tid, "team_leader")]
            people += [tree.person(f"Thành viên {code}-{n}.{m}", tid, "member") for m in range(1, MEMBERS_PER_TEAM)]
            tree.teams.append((tid, chat, people))
            team_ids.append(tid)
        _tasks(tree, cid, chat, team_ids)
    _directives(tree, communes)
    return tree


def _tasks(tree: Tree, commune: int, chat: str, teams: list[int]) -> None:
    """Three open tasks per commune (overdue, due this Thursday, next month), each assigned to two teams."""
    for k, due in enumerate([date(2026, 10, 20), date(2026, 11, 26), date(2026, 12, 15)]):
        task_id = len(tree.rows.get("task", ())) + 1
        tree.add("task", (task_id, commune, f"Việc {k + 1}", due, "team", "telegram", chat, 1, "open", T0))
        for team in teams[:2]:
            tree.add("task_assignee", (len(tree.rows.get("task_assignee", ())) + 1, task_id, team))


def _directives(tree: Tree, communes: list[tuple[int, str, str, int]]) -> None:
    """Three directives to every commune group, 60% acknowledged by the commune leader."""
    rnd = random.Random(11)
    for d in (1, 2, 3):
        created = datetime(2026, 11, 20 + d, 6, tzinfo=UTC)
        tree.add("directive", (d, f"Chỉ đạo {d}", "toàn quốc", created, "sent", False))
        for cid, _code, chat, leader in communes:
            tree.add(
                "directive_target", (len(tree.rows.get("directive_target", ())) + 1, d, cid, cid, "telegram", chat)
            )
            if rnd.random() < 0.6:
                ack = (len(tree.rows.get("directive_ack", ())) + 1, d, leader, cid, "commune_leader")
                tree.add("directive_ack", (*ack, created + timedelta(hours=2)))


def records(tree: Tree, seed: int) -> Iterator[tuple[Any, ...]]:
    """A year of records per team (ids 1, 2, ...), as COPY rows; about RECORDS_PER_TEAM x weight per team."""
    rnd = random.Random(seed)
    days = [END - timedelta(days=k) for k in range(DAYS)]
    # created_at is the day at 10:00 local plus 0..80 hours: some records are late (timeliness in reports).
    stamps = [[datetime(d.year, d.month, d.day, 3, tzinfo=UTC) + timedelta(hours=h) for h in range(81)] for d in days]
    rid = 0
    for team, chat, people in tree.teams:
        for _ in range(int(RECORDS_PER_TEAM * rnd.choice(WEIGHTS))):
            rid += 1
            k = rnd.randrange(DAYS)
            created = stamps[k][rnd.randrange(81)]
            deleted = created + timedelta(hours=1) if rnd.random() < 0.03 else None
            yield (rid, rnd.choice(people), team, days[k], "telegram", chat, str(rid), created, deleted, "")


def items(record_count: int, seed: int, indicators: list[int]) -> Iterator[tuple[int, int, int, int]]:
    """Two items on two different indicators per record."""
    rnd = random.Random(seed)
    n = len(indicators)
    item_id = 0
    for rid in range(1, record_count + 1):
        first = rnd.randrange(n)
        second = (first + 1 + rnd.randrange(n - 1)) % n
        item_id += 2
        yield (item_id - 1, rid, indicators[first], rnd.randint(1, 30))
        yield (item_id, rid, indicators[second], rnd.randint(1, 30))


async def _drop_secondary(conn: Any, table: str) -> list[str]:
    """Drop a table's unique constraints and non-key indexes; returns the statements that rebuild them."""
    drop, build = drop_and_rebuild(table, [tuple(r) for r in await conn.fetch(secondary_sql(table))])
    for sql in drop:
        await conn.execute(sql)
    return build


MONTH_TOTALS = """
INSERT INTO activity_month_total (org_unit_id, indicator_id, month, quantity)
SELECT r.org_unit_id, i.indicator_id,
       EXTRACT(YEAR FROM r.activity_date)::int * 100 + EXTRACT(MONTH FROM r.activity_date)::int, SUM(i.quantity)
FROM activity_record r JOIN activity_item i ON i.record_id = r.id
WHERE r.deleted_at IS NULL
GROUP BY 1, 2, 3
"""


class Steps:
    """Prints and keeps the seconds of each step."""

    def __init__(self) -> None:
        self.t = time.perf_counter()
        self.start = self.t
        self.figures: dict[str, float] = {}

    def done(self, name: str, note: str = "") -> None:
        """Close a step: print its seconds."""
        now = time.perf_counter()
        self.figures[name] = now - self.t
        self.t = now
        print(f"  {name}: {self.figures[name]:.1f} s {note}".rstrip(), flush=True)


async def _load(conn: Any, tree: Tree, seed: int, steps: Steps) -> int:
    """COPY every table, rebuild the dropped indexes; returns the record count."""
    await conn.execute("SET session_replication_role = replica")
    await conn.execute("SET maintenance_work_mem = '512MB'")
    for table, rows in tree.rows.items():
        await conn.copy_records_to_table(table, records=rows, columns=COLUMNS[table])
    steps.done("org tree, people, groups, tasks, directives", f"({len(tree.rows['org_unit']):,} units)")
    rebuild = [sql for table in BIG_TABLES for sql in await _drop_secondary(conn, table)]
    await conn.copy_records_to_table("activity_record", records=records(tree, seed), columns=COLUMNS["activity_record"])
    count = await conn.fetchval("SELECT COUNT(*) FROM activity_record")
    steps.done("COPY activity_record", f"({count:,} rows)")
    indicators = [r[0] for r in await conn.fetch("SELECT id FROM indicator WHERE active ORDER BY sort_order, id")]
    await conn.copy_records_to_table(
        "activity_item", records=items(count, seed + 1, indicators), columns=COLUMNS["activity_item"]
    )
    steps.done("COPY activity_item", f"({2 * count:,} rows)")
    for sql in rebuild:
        await conn.execute(sql)
    steps.done("indexes and unique constraint rebuilt", f"({len(rebuild)})")
    await conn.execute(MONTH_TOTALS)
    for table in COLUMNS:
        if table != "task_assignee" or tree.rows.get(table):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )
    await conn.execute("SET session_replication_role = DEFAULT")
    await conn.execute("VACUUM (ANALYZE)")
    steps.done("month totals, sequences, VACUUM ANALYZE")
    return int(count)


def rollup_rebuild(url: str) -> str:
    """Run `tocns rollup rebuild` when the command exists; a note otherwise."""
    env = {**os.environ, "DATABASE_URL": url, "AUTO_MIGRATE": "false"}
    cli = [sys.executable, "-m", "tocns.cli"]
    probe = subprocess.run([*cli, "rollup", "rebuild", "--help"], env=env, capture_output=True, text=True)
    if probe.returncode != 0:
        return "skipped: this tree has no `tocns rollup rebuild` (the rollups migration has not landed)"
    done = subprocess.run([*cli, "rollup", "rebuild"], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"tocns rollup rebuild failed:\n{done.stderr}")
    return (done.stdout or done.stderr).strip().splitlines()[-1] if (done.stdout or done.stderr).strip() else "done"


async def generate(url: str, scale: float, seed: int) -> dict[str, float]:
    """Recreate, migrate and load the database; print and return the step times and sizes."""
    import asyncpg

    steps = Steps()
    await recreate_postgres_database(url)
    await asyncio.to_thread(upgrade_database, url)
    steps.done("database created and migrated (tocns db upgrade)")
    tree = build_tree(scale)
    steps.done("tree generated in Python", f"({len(tree.teams):,} teams, {len(tree.rows['person']):,} people)")
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        count = await _load(conn, tree, seed, steps)
        load = time.perf_counter() - steps.start
        print(f"  rollups: {rollup_rebuild(url)}", flush=True)
        # The rebuild wrote the rollups after the VACUUM above: without statistics and a visibility map the planner
        # misjudges them (autovacuum would get there later on a live database).
        await conn.execute("VACUUM (ANALYZE) rollup_team_day, rollup_team_day_records")
        steps.done("rollup step, VACUUM ANALYZE of the rollups")
        size = await conn.fetchval("SELECT pg_database_size(current_database())")
        biggest = await conn.fetch(
            "SELECT relname, pg_total_relation_size(oid) AS b FROM pg_class WHERE relkind = 'r' "
            "AND relnamespace = 'public'::regnamespace ORDER BY b DESC LIMIT 4"
        )
    finally:
        await conn.close()
    print(f"scale {scale}: {len(tree.teams):,} teams, {count:,} records, {2 * count:,} items")
    print(f"  loaded in {load:.0f} s ({load / 60:.1f} min); database size {size / 2**30:.2f} GiB")
    print("  largest: " + ", ".join(f"{r['relname']} {r['b'] / 2**30:.2f} GiB" for r in biggest))
    return {**steps.figures, "load": load, "bytes": float(size), "items": 2.0 * count}


def main() -> None:
    """Parse arguments and generate."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=DEFAULT_URL, help="postgresql+asyncpg URL of a scratch database (recreated)")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the country (0.05 for a quick run)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    if not args.url.startswith("postgresql+asyncpg://"):
        raise SystemExit("--url must be a postgresql+asyncpg:// URL (the generator loads with COPY)")
    if not 0 < args.scale <= 1.0:
        raise SystemExit("--scale must be in (0, 1]")
    asyncio.run(generate(args.url, args.scale, args.seed))


if __name__ == "__main__":
    main()
