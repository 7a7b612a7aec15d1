"""Workbook raw-rows benchmark (not a test): the report workbook's "Dữ liệu gốc" sheet, CPU seconds per row.

Writes `--rows` synthetic raw rows (the RAW_SQL columns: a province's week has ~50,000 at 40,000 teams) with
`ReportWorkbook.add_raw` and saves the workbook, against a baseline in the same run: the same rows written as one
styled cell object per value (how add_raw wrote them before 06/12/2026). Best CPU time of --repeat, alternated.

    python bench/workbook_raw_bench.py --rows 5000 --repeat 5
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook

from tocns.core.exports import DAY, MOMENT, NUMBER
from tocns.features.reports.store import Report
from tocns.features.reports.workbook import ReportWorkbook, _cell, _local, _photo_cell

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
FORMATS = (None, DAY, None, None, None, None, None, NUMBER, None, None, None, MOMENT)


def _rows(n: int) -> list[tuple[Any, ...]]:
    start = datetime(2026, 11, 16, tzinfo=UTC)
    return [
        (
            5_000_000 + i, date(2026, 11, 16 + i % 7), "Phường Phú Xuân", f"19768-T{i % 24:02d}",
            f"Tổ CNS thôn {i % 24}",
            f"Thành viên {i % 97}", "Định danh điện tử VNeID", i % 40, "người", "=ghi chú" if i % 50 == 0 else None,
            "https://example.org/a.jpg" if i % 100 == 0 else None, start + timedelta(minutes=i),
        )
        for i in range(n)
    ]  # fmt: skip


def _report() -> Report:
    d = date(2026, 11, 16)
    return Report(
        unit_code="X", unit_name="X", unit_level="province", start=d, end=d, previous_start=d, previous_end=d,
        generated_at=datetime(2026, 11, 23, tzinfo=UTC), totals=[], children=[], teams=0, reporting_teams=0,
        records=0, timely_records=0, silent_teams=[],
    )  # fmt: skip


def branch(rows: list[tuple[Any, ...]]) -> None:
    """The workbook as the code writes it."""
    book = ReportWorkbook(_report(), TZ, photo=lambda v: v or "")
    book.add_raw(rows)
    book.save(io.BytesIO())


def baseline(rows: list[tuple[Any, ...]]) -> None:
    """The same sheet with one styled cell object per value."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Dữ liệu gốc")
    for rid, day, parent, code, team, person, indicator, qty, unit, note, photo, created in rows:
        values = [rid, day, parent or "", code, team, person, indicator, qty, unit, note or ""]
        cells = [_cell(ws, v, f) for v, f in zip(values, FORMATS, strict=False)]
        cells.append(_photo_cell(ws, photo or ""))
        cells.append(_cell(ws, _local(created, TZ), MOMENT))
        ws.append(cells)
    wb.save(io.BytesIO())


def _best(work: Callable[[list[tuple[Any, ...]]], None], rows: list[tuple[Any, ...]]) -> float:
    t = time.process_time()
    work(rows)
    return time.process_time() - t


def main() -> None:
    """Parse arguments, time both writers alternately, print the figures and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rows = _rows(args.rows)
    base, ours = [], []
    for _ in range(args.repeat):
        base.append(_best(baseline, rows))
        ours.append(_best(branch, rows))
    b, o = min(base), min(ours)
    print(
        f"{args.rows:,} raw rows, best CPU of {args.repeat}: add_raw+save {o:.3f} s "
        f"({o / args.rows * 1e6:.0f} µs/row); "
        f"one cell per value {b:.3f} s ({b / args.rows * 1e6:.0f} µs/row); ratio {b / o:.2f}x"
    )


if __name__ == "__main__":
    main()
