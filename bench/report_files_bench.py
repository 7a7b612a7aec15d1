"""Report files benchmark (not a test): drawing one province's weekly files, raw rows in the workbook or as CSV.

Draws the files of one report the way the weekly summary's drawing process does (`files.draw_report_files`: the
chart when matplotlib is installed, the workbook, and since 06/12/2026 the raw data's zip) from a spool of `--rows`
synthetic raw rows (the RAW_SQL columns; a province's week has ~50,000 at 40,000 teams, a tenth of them with a kept
photo shown as a signed link). Two settings alternated in the same process, `--repeat` times each:

  baseline  REPORT_RAW_SHEET_MAX_ROWS=0: every raw row on the workbook's "Dữ liệu gốc" sheet (main before the zip);
  new       REPORT_RAW_SHEET_MAX_ROWS=--limit: above it, the raw rows as CSV in a zip next to the workbook.

Prints the best process CPU and wall seconds of each, the files' sizes and the ratio baseline/new. `--no-chart`
leaves the chart out (as without matplotlib) to time the workbook and the raw rows alone.

    python bench/report_files_bench.py --rows 50000 --repeat 3 [--no-chart]
"""

from __future__ import annotations

import argparse
import pickle
import shutil
import tempfile
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from tocns.config import Settings
from tocns.features.reports import files as report_files
from tocns.features.reports.files import Drawing, ReportFiles, draw_report_files
from tocns.features.reports.render import ChartsUnavailable
from tocns.features.reports.store import Report

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def _rows(n: int) -> list[tuple[Any, ...]]:
    start = datetime(2026, 11, 16, tzinfo=UTC)
    return [
        (
            5_000_000 + i, date(2026, 11, 16 + i % 7), f"Phường Phú Xuân {i % 40}", f"19768-T{i % 24:02d}",
            f"Tổ CNS thôn {i % 24}", f"Thành viên Nguyễn Văn {i % 97}", "Định danh điện tử VNeID", i % 40, "người",
            "=ghi chú" if i % 50 == 0 else ("đã hướng dẫn bà con" if i % 7 == 0 else None),
            f"files:evidence/{i % 256:02x}/{i:08x}.jpg" if i % 10 == 0 else None, start + timedelta(minutes=i),
        )
        for i in range(n)
    ]  # fmt: skip


def _report() -> Report:
    d = date(2026, 11, 16)
    return Report(
        unit_code="79", unit_name="Thành phố Hồ Chí Minh", unit_level="province", start=d, end=d + timedelta(days=6),
        previous_start=d - timedelta(days=7), previous_end=d - timedelta(days=1),
        generated_at=NOW, totals=[], children=[], teams=0, reporting_teams=0, records=0, timely_records=0,
        silent_teams=[],
    )  # fmt: skip


def _spool(folder: Path, rows: list[tuple[Any, ...]]) -> str:
    """The raw rows pickled in batches of 5,000, as `files.spool_raw_records` writes them."""
    path = folder / f"{time.monotonic_ns()}.rows"
    with path.open("wb") as out:
        for first in range(0, len(rows), 5_000):
            pickle.dump(rows[first : first + 5_000], out, protocol=pickle.HIGHEST_PROTOCOL)
    return str(path)


def _draw(drawing: Drawing, rows: list[tuple[Any, ...]]) -> tuple[float, float, ReportFiles]:
    """One drawing from a fresh spool: process CPU and wall seconds, and the files."""
    drawing = replace(drawing, spool=_spool(Path(drawing.root), rows))
    cpu, wall = time.process_time(), time.perf_counter()
    files = draw_report_files(drawing)
    return time.process_time() - cpu, time.perf_counter() - wall, files


def _sizes(files: ReportFiles) -> str:
    names = [files.xlsx_name, *files.raw_zip_names]
    return " + ".join(f"{Path(n).suffix[1:]} {(files.root / n).stat().st_size / 1e6:.1f} MB" for n in names)


def main() -> None:
    """Parse arguments, draw with both settings alternately, print the figures and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--limit", type=int, default=Settings.model_fields["report_raw_sheet_max_rows"].default)
    parser.add_argument("--no-chart", action="store_true", help="draw no chart: the workbook and raw rows alone")
    args = parser.parse_args()
    if args.no_chart:

        def no_chart(_report: Report) -> bytes:
            raise ChartsUnavailable("--no-chart")

        report_files.render_png = no_chart  # type: ignore[assignment]
    rows = _rows(args.rows)
    folder = Path(tempfile.mkdtemp(prefix="report-files-bench-"))
    common: dict[str, Any] = {
        "files_dir": str(folder),
        "public_base_url": "https://tocns.example.gov.vn",
        "link_signing_secret": "bench-link-signing-secret-0123456789",
    }
    runs: dict[str, list[tuple[float, float, ReportFiles]]] = {"baseline": [], "new": []}
    limits = {"baseline": 0, "new": args.limit}
    try:
        for _ in range(args.repeat):
            for name, limit in limits.items():
                settings = Settings(_env_file=None, report_raw_sheet_max_rows=limit, **common)  # type: ignore[call-arg]
                (folder / "2026-W47").mkdir(exist_ok=True)
                drawing = Drawing(_report(), settings.tz, str(folder), f"2026-W47/{name}", "", settings, NOW)
                runs[name].append(_draw(drawing, rows))
        best = {name: (min(r[0] for r in got), min(r[1] for r in got), got[-1][2]) for name, got in runs.items()}
        for name, (cpu, wall, files) in best.items():
            print(
                f"{name:8} (REPORT_RAW_SHEET_MAX_ROWS={limits[name]}): {args.rows:,} raw rows, best of "
                f"{args.repeat}: CPU {cpu:.2f} s, wall {wall:.2f} s; {_sizes(files)}"
            )
        (bc, bw, _), (nc, nw, _) = best["baseline"], best["new"]
        print(f"ratio baseline/new: CPU {bc / nc:.2f}x, wall {bw / nw:.2f}x")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
