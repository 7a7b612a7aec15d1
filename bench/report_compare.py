"""Report outputs of two source trees compared byte for byte on a generated database (not a test).

Runs this script once per tree in a subprocess (`PYTHONPATH=<tree>`, so each process imports that tree's tocns),
each dumping, for many units, `unit_report(...).to_dict()` as sorted JSON: with and without team rows, for the
week 16-22/11/2026 and for November 2026 (tasks due, the previous month for the change). Units: the country (the
national unit, or an unsaved root "/" when the database has none), every province, every --every-th commune and
every --every-th team of the communes kept (plus any other level found, e.g. districts). Then compares the two
dumps line by line and prints the first difference; exit status 1 when they differ.

    python bench/report_compare.py --url postgresql+asyncpg://postgres@127.0.0.1:5432/national --baseline /work/main
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

HERE = Path(__file__).resolve()
NOW = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)


async def _dump(url: str, out: str, every: int) -> None:
    """Write one JSON line per (unit, period, team rows) report of this process's tocns."""
    from sqlalchemy import text

    import tocns.all_models  # noqa: F401  (every table known)
    from tocns.config import Settings
    from tocns.core.period import month_of, week_of
    from tocns.db.engine import Database
    from tocns.features.org.models import OrgUnit
    from tocns.features.reports.service import unit_report

    db = Database(url)
    files = tempfile.mkdtemp(prefix="report-compare-")
    settings = Settings(_env_file=None, database_url=url, files_dir=files, auto_migrate=False)  # type: ignore[call-arg]
    periods = [week_of(date(2026, 11, 22)), month_of(date(2026, 11, 1))]
    try:
        async with db.session() as session:
            conn = await session.connection()
            rows = (await conn.execute(text("SELECT id, level, path FROM org_unit WHERE active ORDER BY code"))).all()
        kept: list[int] = []
        communes = [r for r in rows if r[1] == "commune"][::every]
        prefixes = tuple(r[2] for r in communes)
        kept += [r[0] for r in rows if r[1] not in ("commune", "team")]
        kept += [r[0] for r in communes]
        kept += [r[0] for r in rows if r[1] == "team" and r[2].startswith(prefixes)][::every]
        lines = 0
        with open(out, "w", encoding="utf-8") as f:
            async with db.session() as session:
                units: list[OrgUnit] = [u for i in kept if (u := await session.get(OrgUnit, i)) is not None]
                if not any(u.level == "national" for u in units):
                    units.insert(0, OrgUnit(id=0, code="VN", name="Toàn quốc", name_folded="toan quoc",
                                            level="national", path="/"))  # fmt: skip
                for unit in units:
                    for period in periods:
                        for team_rows in (False, True):
                            report = await unit_report(session, unit, period, settings, NOW, team_rows=team_rows)
                            key = f"{unit.code} {period.start} {team_rows}"
                            f.write(key + " " + json.dumps(report.to_dict(), sort_keys=True, ensure_ascii=False) + "\n")
                            lines += 1
        print(f"  {lines:,} reports of {len(units):,} units dumped", file=sys.stderr, flush=True)
    finally:
        await db.dispose()


def _run(tree: Path, url: str, out: str, every: int) -> float:
    """Dump with the tocns of `tree` (a subprocess); its seconds."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, str(HERE), "--url", url, "--every", str(every), "--dump", out], env=env, check=True, cwd=tree
    )
    return time.perf_counter() - t


def main() -> None:
    """Parse arguments; dump (in a subprocess per tree) or compare."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--url", required=True, help="postgresql+asyncpg URL (or sqlite+aiosqlite) of a loaded database"
    )
    parser.add_argument("--baseline", type=Path, help="the other source tree (e.g. /work/main); required to compare")
    parser.add_argument("--every", type=int, default=20, help="keep every n-th commune, and every n-th of their teams")
    parser.add_argument("--dump", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dump:
        asyncio.run(_dump(args.url, args.dump, args.every))
        return
    if args.baseline is None:
        parser.error("--baseline is required")
    with tempfile.TemporaryDirectory(prefix="report-compare-") as tmp:
        base, this = f"{tmp}/baseline.jsonl", f"{tmp}/this.jsonl"
        seconds = (_run(args.baseline.resolve(), args.url, base, args.every),
                   _run(HERE.parents[1], args.url, this, args.every))  # fmt: skip
        with open(base, encoding="utf-8") as a, open(this, encoding="utf-8") as b:
            left, right = a.read().splitlines(), b.read().splitlines()
    print(f"baseline {seconds[0]:.1f} s, this tree {seconds[1]:.1f} s; {len(left):,} and {len(right):,} reports")
    for n, (x, y) in enumerate(zip(left, right, strict=False)):
        if x != y:
            print(f"report {n} differs:\n  baseline  {x[:400]}\n  this tree {y[:400]}")
            raise SystemExit(1)
    if len(left) != len(right):
        raise SystemExit("the dumps have different lengths")
    print("identical, byte for byte")


if __name__ == "__main__":
    main()
