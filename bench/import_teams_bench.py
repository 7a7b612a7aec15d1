"""Benchmark (not a test): `tocns org import-teams` of a province's sheet, 1,000 teams and 5,000 members.

Creates 1 province and 100 communes, writes an .xlsx of 1,000 teams x 5 members (one leader each), then times
reading the sheet (the baseline: no database work at all), the first import (validate + bulk insert + join codes,
committed), and the second import of the same file, which must change nothing.

    python bench/import_teams_bench.py --db sqlite
    python bench/import_teams_bench.py --db postgresql+asyncpg://postgres@127.0.0.1:5432/test_i18

On PostgreSQL the schema of the named database is dropped and recreated: name a scratch database.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, text
from sqlmodel import select

from tocns.db.audit import AuditLog
from tocns.db.engine import Database, upgrade_database
from tocns.features.org import service as org_service
from tocns.features.org import store as org_store
from tocns.features.org.models import JoinCode, Membership, OrgUnit, Person
from tocns.features.org.sheet import read_sheet

COMMUNES, TEAMS_PER_COMMUNE, MEMBERS_PER_TEAM = 100, 10, 5


def _write_sheet(path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Danh sách tổ")
    sheet.append(["Xã/phường (mã hoặc tên)", "Tổ", "Thành viên", "Điện thoại", "Telegram ID", "Zalo ID", "Vai trò"])
    phone = 912_000_000
    for c in range(COMMUNES):
        for t in range(TEAMS_PER_COMMUNE):
            for m in range(MEMBERS_PER_TEAM):
                phone += 1
                role = "tổ trưởng" if m == 0 else "thành viên"
                sheet.append([f"C{c:03d}", f"Thôn {t + 1}", f"Thành viên {c}-{t}-{m}", f"0{phone}", "", "", role])
    book.save(path)


async def _reset(url: str) -> None:
    if url.startswith("sqlite"):
        Path(url.split(":///", 1)[1]).unlink(missing_ok=True)
        return
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await db.dispose()


async def _counts(db: Database) -> tuple[int, ...]:
    counts = []
    async with db.session() as session:
        for model in (OrgUnit, Person, Membership, JoinCode, AuditLog):
            counts.append(int(await session.scalar(select(func.count()).select_from(model)) or 0))
    return tuple(counts)


async def _import(db: Database, path: Path, now: datetime) -> tuple[float, org_service.ImportOutcome]:
    t = time.perf_counter()
    rows = read_sheet(path)
    async with db.session() as session:
        plans, problems = await org_service.plan_team_import(session, rows)
        assert not problems, problems[:3]
        outcome = await org_service.apply_team_import(session, plans, now, timedelta(days=30))
    return time.perf_counter() - t, outcome


async def _bench(url: str) -> None:
    await _reset(url)
    await asyncio.to_thread(upgrade_database, url)
    db = Database(url)
    async with db.session() as session:
        province = await org_store.create_unit(session, code="P99", name="Tỉnh Thử Nghiệm", level="province")
        for c in range(COMMUNES):
            await org_store.create_unit(session, code=f"C{c:03d}", name=f"Xã {c:03d}", level="commune", parent=province)
    now = datetime(2026, 12, 1, 3, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "to.xlsx"
        _write_sheet(path)
        t = time.perf_counter()
        rows = read_sheet(path)
        reading = time.perf_counter() - t
        first, outcome = await _import(db, path, now)
        after_first = await _counts(db)
        second, again = await _import(db, path, now)
        after_second = await _counts(db)
    await db.dispose()
    assert (outcome.teams_created, outcome.memberships_created) == (1000, 5000), outcome
    assert (again.teams_created, again.people_created, again.memberships_created, again.roles_changed) == (0, 0, 0, 0)
    assert after_first == after_second, (after_first, after_second)
    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"{backend}: {len(rows):,} rows, {outcome.teams_created:,} teams, {outcome.memberships_created:,} members")
    print(f"  reading the sheet alone (baseline): {reading:.2f} s")
    print(f"  first import (read + validate + insert + join codes, committed): {first:.2f} s; {first / reading:.2f}x")
    print(f"  second import (changes nothing; tables {after_second}): {second:.2f} s; {second / reading:.2f}x")


def main() -> None:
    """Parse arguments and run the benchmark on one database."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="sqlite", help="sqlite or a postgresql+asyncpg URL (schema recreated)")
    args = parser.parse_args()
    url = "sqlite+aiosqlite:////tmp/bench_import_teams.db" if args.db == "sqlite" else args.db
    asyncio.run(_bench(url))


if __name__ == "__main__":
    main()
