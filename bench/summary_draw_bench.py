"""One province's weekly summary files drawn at national size (not a test): CPU per tree, files compared, profile.

The weekly summary's drawing process (`reports.files.draw_report_files`: chart, workbook, raw data's CSV zip) is
most of the busy Monday tick at 80,000 teams (~100 s of 120, bench/RESULTS.md). This bench reads the week 16-22/11
report of the province with the most teams from a database bench/national_gen.py loaded, with its raw rows spooled
exactly as the job does (`prepare_drawing`), then scales it to the size of a province at 80,000 teams: each commune
repeated --communes-x times and each team --teams-x times (new codes), each raw row once per copy (new ids). A
scale-0.1 database has ~17 communes and ~235 teams a province, so the defaults (x3.5 communes, x3 teams) give ~60
communes, ~2,400 teams and ~22,000 raw rows, as at 80,000 teams.

The drawing then runs in a fresh process per --trees source tree (PYTHONPATH=<tree>, in the tree: before and
after), alternated --repeat times; printed: each tree's best process CPU seconds (the drawing alone) and wall
seconds, the ratio to the first tree, and whether each tree's files are the same to a user as the first's: every
sheet's name and cells (value, number format, bold), the workbook's parts (sheet XML, styles, charts: all but the
properties) and the CSV in the zips byte for byte, the chart's pixels. --profile writes
cProfile statistics of one drawing per tree (sorted by own time, top 30 printed).

    python bench/summary_draw_bench.py --url postgresql+asyncpg://postgres@127.0.0.1:5432/h_jobproc_8k \\
        --trees /work/main . [--repeat 3] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BUSY = datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))

# Run in the drawing process: unpickle the Drawing, draw it (cProfile when asked), print CPU and wall seconds.
CHILD = """
import cProfile, json, pickle, pstats, sys, time
from tocns.features.reports.files import draw_report_files
drawing = pickle.load(open(sys.argv[1], "rb"))
profile = cProfile.Profile() if sys.argv[2] != "-" else None
cpu, wall = time.process_time(), time.perf_counter()
if profile: profile.enable()
files = draw_report_files(drawing)
if profile:
    profile.disable()
    profile.dump_stats(sys.argv[2])
print(json.dumps({"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall,
                  "png": files.png_name, "xlsx": files.xlsx_name, "zips": list(files.raw_zip_names)}))
"""


def _scaled(report: Any, communes_x: float, teams_x: int) -> Any:
    """The report with each commune repeated (communes_x, fractional: the first ones once more) and each team
    repeated teams_x times under it, figures added up accordingly."""
    whole, extra = int(communes_x), round((communes_x - int(communes_x)) * len(report.children))
    copies = [(c, n) for n in range(whole) for c in report.children] + [(c, whole) for c in report.children[:extra]]
    by_child: dict[str, list[Any]] = {}
    for team in report.team_rows:
        by_child.setdefault(team.child_code, []).append(team)
    children, teams, silent = [], [], []
    silent_by_parent: dict[str, list[Any]] = {}
    for s in report.silent_teams:
        silent_by_parent.setdefault(s.parent_code, []).append(s)
    for child, n in copies:
        code, name = (child.code, child.name) if n == 0 else (f"{child.code}-{n}", f"{child.name} ({n + 1})")
        children.append(
            replace(
                child,
                code=code,
                name=name,
                teams=child.teams * teams_x,
                reporting_teams=child.reporting_teams * teams_x,
                records=child.records * teams_x,
                timely_records=child.timely_records * teams_x,
                by_indicator={k: v * teams_x for k, v in child.by_indicator.items()},
            )
        )
        for t in range(teams_x):
            for team in by_child.get(child.code, []):
                teams.append(
                    replace(team, code=f"{team.code}-{n}-{t}", parent_code=code, parent_name=name, child_code=code)
                )
        for t in range(teams_x):
            for s in silent_by_parent.get(child.code, []):
                silent.append(replace(s, code=f"{s.code}-{n}-{t}", parent_code=code, parent_name=name))
    factor = len(copies) / max(1, len(report.children)) * teams_x
    return replace(
        report,
        children=children,
        team_rows=teams,
        silent_teams=silent,
        teams=sum(c.teams for c in children),
        reporting_teams=sum(c.reporting_teams for c in children),
        records=round(report.records * factor),
        timely_records=round(report.timely_records * factor),
    )


def _scale_spool(spool: str, copies: int) -> int:
    """Repeat every spooled raw row `copies` times (new ids, the same day, team and values); the rows written."""
    batches = []
    with open(spool, "rb") as source:
        while True:
            try:
                batches.append(pickle.load(source))
            except EOFError:
                break
    written = 0
    with open(spool, "wb") as out:
        for copy in range(copies):
            for batch in batches:
                rows = [(row[0] + copy * 10_000_000, *row[1:]) for row in batch]
                pickle.dump(rows, out, protocol=pickle.HIGHEST_PROTOCOL)
                written += len(rows)
    return written


async def _prepare(args: argparse.Namespace, folder: Path) -> tuple[Path, dict[str, int]]:
    """The scaled Drawing of the largest province, pickled, with its spool; its size."""
    from sqlalchemy import text
    from sqlmodel import select

    from tocns.config import Settings
    from tocns.core.period import week_of
    from tocns.db.engine import Database
    from tocns.features.org.models import OrgUnit
    from tocns.features.reports.files import prepare_drawing
    from tocns.features.reports.service import unit_report

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=args.url,
        files_dir=str(folder / "files"),
        auto_migrate=False,
        link_signing_secret="bench-link-signing-secret-0123456789",
        public_base_url="https://bot.example.vn",
    )
    db = Database(args.url)
    period = week_of(BUSY.date().replace(day=16))
    try:
        async with db.session() as session:
            code = (
                args.province
                or (
                    await session.exec(
                        text(
                            "SELECT p.code FROM org_unit p JOIN org_unit c ON c.parent_id = p.id JOIN org_unit t "
                            "ON t.parent_id = c.id WHERE p.level = 'province' GROUP BY p.code ORDER BY count(*) DESC "
                            "LIMIT 1"
                        )
                    )
                ).one()[0]
            )
            found = await session.exec(select(OrgUnit).where(OrgUnit.code == code, OrgUnit.level == "province"))
            province = found.one()
            report = await unit_report(session, province, period, settings, BUSY)
            drawing = await prepare_drawing(session, settings, province, period, report, BUSY)
    finally:
        await db.dispose()
    scaled = _scaled(drawing.report, args.communes_x, args.teams_x)
    copies = round(len(scaled.team_rows) / max(1, len(report.team_rows)))
    rows = _scale_spool(drawing.spool, copies)
    drawing = replace(drawing, report=scaled)
    path = folder / "drawing.pickle"
    path.write_bytes(pickle.dumps(drawing))
    size = {"communes": len(scaled.children), "teams": len(scaled.team_rows), "raw_rows": rows}
    return path, size


def _draw(tree: str, drawing: Path, profile: str | None) -> dict[str, Any]:
    """Draw once in a fresh process on `tree`'s code, from a copy of the spool (the drawing removes it)."""
    loaded = pickle.loads(drawing.read_bytes())
    shutil.copy(loaded.spool, loaded.spool + ".keep")
    env = {**os.environ, "PYTHONPATH": str(Path(tree).resolve()), "RENDER_WORKERS": "0"}
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(drawing), profile or "-"],
            env=env,
            # In the tree: `python -c` puts the working directory first on sys.path, before PYTHONPATH.
            cwd=Path(tree).resolve(),
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        shutil.move(loaded.spool + ".keep", loaded.spool)
    if done.returncode != 0:
        raise SystemExit(f"drawing with {tree} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["root"] = str(Path(loaded.root))
    return result


def _contents(result: dict[str, Any]) -> dict[str, Any]:
    """What a user sees of the files: each sheet's cells, the CSV bytes in the zips, the chart's pixels."""
    from openpyxl import load_workbook

    root = Path(result["root"])
    book = load_workbook(root / result["xlsx"], read_only=True)
    sheets = {
        ws.title: [tuple((c.value, c.number_format, bool(c.font and c.font.b)) for c in row) for row in ws.iter_rows()]
        for ws in book.worksheets
    }
    book.close()
    # The workbook's parts byte for byte too (sheets, styles, charts), all but the properties (the moment it was saved).
    with zipfile.ZipFile(root / result["xlsx"]) as archive:
        parts = {name: archive.read(name) for name in archive.namelist() if name != "docProps/core.xml"}
    csvs: dict[str, bytes] = {}
    for name in result["zips"]:
        with zipfile.ZipFile(root / name) as archive:
            for member in archive.namelist():
                csvs[member] = archive.read(member)
    pixels = None
    if result["png"]:
        from matplotlib.image import imread

        pixels = imread(io.BytesIO((root / result["png"]).read_bytes()), format="png").tobytes()
    return {"sheets": sheets, "parts": parts, "csv": csvs, "png": pixels}


def _differences(base: dict[str, Any], other: dict[str, Any]) -> list[str]:
    """Where `other`'s files differ from `base`'s, in words (none: the same to a user)."""
    found = []
    if list(base["sheets"]) != list(other["sheets"]):
        found.append("sheet names or order")
    for title, rows in base["sheets"].items():
        theirs = other["sheets"].get(title)
        if theirs is not None and theirs != rows:
            first = next(i for i, (a, b) in enumerate(zip(rows, theirs, strict=False)) if a != b) if rows else 0
            found.append(f"sheet {title!r} cells (first at row {first + 1})")
    differing = sorted(name for name in base["parts"].keys() | other["parts"].keys()
                       if base["parts"].get(name) != other["parts"].get(name))  # fmt: skip
    if differing:
        found.append(f"workbook parts not the same bytes: {', '.join(differing[:5])}")
    if base["csv"] != other["csv"]:
        found.append("raw CSV")
    if base["png"] != other["png"]:
        found.append("chart pixels")
    return found


def main() -> None:
    """Prepare the province's drawing once, draw it on each tree, compare the files, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="postgresql+asyncpg URL of a database national_gen.py loaded")
    parser.add_argument("--trees", nargs="+", default=["."], help="source trees to draw with; the first: baseline")
    parser.add_argument("--province", default=None, help="province code (default: the one with the most teams)")
    parser.add_argument("--communes-x", type=float, default=3.5, help="each commune repeated (fractional allowed)")
    parser.add_argument("--teams-x", type=int, default=2, help="each team repeated under its commune")
    parser.add_argument("--repeat", type=int, default=3, help="drawings per tree, alternated; the best is kept")
    parser.add_argument("--profile", action="store_true", help="also profile one drawing per tree (cProfile)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="summary-draw-bench-"))
    try:
        drawing, size = asyncio.run(_prepare(args, folder))
        print(
            f"one province at national size: {size['communes']} communes, {size['teams']:,} teams, "
            f"{size['raw_rows']:,} raw rows; load average {os.getloadavg()[0]:.1f}; cpus {os.cpu_count()}",
            flush=True,
        )
        best: dict[str, dict[str, float]] = {}
        contents: dict[str, dict[str, Any]] = {}
        for _ in range(args.repeat):
            for tree in args.trees:
                result = _draw(tree, drawing, None)
                mine = best.setdefault(tree, {"cpu": result["cpu"], "wall": result["wall"]})
                mine["cpu"], mine["wall"] = min(mine["cpu"], result["cpu"]), min(mine["wall"], result["wall"])
                if tree not in contents:
                    contents[tree] = _contents(result)
        base = args.trees[0]
        for tree in args.trees:
            ratio = best[base]["cpu"] / best[tree]["cpu"]
            same = _differences(contents[base], contents[tree]) if tree != base else []
            verdict = "baseline" if tree == base else ("same files" if not same else "DIFFER: " + "; ".join(same))
            print(
                f"  {tree:28} CPU {best[tree]['cpu']:6.2f} s  wall {best[tree]['wall']:6.2f} s  "
                f"baseline/this {ratio:4.2f}x  {verdict}"
            )
        if args.profile:
            import pstats

            for n, tree in enumerate(args.trees):
                stats_path = folder / f"profile-{n}.pstats"
                _draw(tree, drawing, str(stats_path))
                print(f"=== profile, {tree} (own time, top 30)")
                pstats.Stats(str(stats_path)).sort_stats("tottime").print_stats(30)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    load = os.getloadavg()
    print(f"load average at the end {load[0]:.1f} (1-minute), {load[2]:.1f} (15-minute)")


if __name__ == "__main__":
    main()
