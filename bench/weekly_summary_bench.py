"""Weekly summary benchmark (not a test): the Monday department summary alone, on `bench/national_gen.py` data.

Runs `reports.jobs.weekly_summary` for the week 16-22/11/2026 (Monday 23/11/2026 08:00) on an existing generated
database, after deleting the outbox's summary rows and the job's `job_done` mark (nothing else is touched), and
prints: the job's seconds, when the first summary text was queued (seconds after the start: before 06/12/2026 the
texts waited for every department's files), the messages queued, the files drawn and their sizes (workbooks, raw
zips), and the event loop's longest stall. Run it from a tree (PYTHONPATH=<tree>) to time that tree's code;
alternate trees for a ratio. RENDER_WORKERS and REPORT_RAW_SHEET_MAX_ROWS come from the environment.

    python bench/weekly_summary_bench.py --url postgresql+asyncpg://postgres@127.0.0.1:5432/h_rawzip_8k
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from _common import watch_loop
from sqlalchemy import text

from tocns.app import BotApp
from tocns.config import Settings
from tocns.db.engine import Database
from tocns.features.reports import jobs as report_jobs
from tocns.features.reports.files import shutdown_render_pool
from tocns.outbox import store as outbox_store

BUSY = datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


async def _run(url: str) -> None:
    db = Database(url)
    files = Path(tempfile.mkdtemp(prefix="weekly-summary-bench-"))
    settings = Settings(_env_file=None, database_url=url, files_dir=str(files), auto_migrate=False)  # type: ignore[call-arg]
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("DELETE FROM outbox WHERE kind = 'summary'"))
            await conn.execute(text("DELETE FROM job_done WHERE job = 'weekly_summary'"))
        app = BotApp.build(settings, db)
        first: list[float] = []
        enqueue_many = outbox_store.enqueue_many

        async def timed_enqueue(session: Any, messages: Any) -> Any:
            if not first and any(m.get("kind") == "summary" for m in messages):
                first.append(time.perf_counter())
            return await enqueue_many(session, messages)

        outbox_store.enqueue_many = timed_enqueue  # type: ignore[assignment]
        stalls: list[float] = []
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch_loop(stalls, stop))
        start = time.perf_counter()
        try:
            lines = await report_jobs.weekly_summary(app, BUSY.astimezone(UTC))
        finally:
            secs = time.perf_counter() - start
            stop.set()
            await watcher
            outbox_store.enqueue_many = enqueue_many  # type: ignore[method-assign]
        kinds = {suffix: list(files.rglob(f"*{suffix}")) for suffix in (".xlsx", "-du-lieu-goc.zip", ".png")}
        sizes = ", ".join(
            f"{len(found)} {suffix.lstrip('.-')} ({sum(p.stat().st_size for p in found) / 1e6:.1f} MB)"
            for suffix, found in kinds.items()
        )
        queued = first[0] - start if first else float("nan")
        print(
            f"weekly summary: {secs:.2f} s; first text queued after {queued:.2f} s;"
            f" {len(lines)} messages; files: {sizes}; longest loop stall {max(stalls, default=0) * 1000:,.0f} ms "
            f"(RENDER_WORKERS={settings.render_workers}, "
            f"REPORT_RAW_SHEET_MAX_ROWS={getattr(settings, 'report_raw_sheet_max_rows', 'n/a')})",
            flush=True,
        )
    finally:
        shutdown_render_pool()
        await db.dispose()
        shutil.rmtree(files, ignore_errors=True)


def main() -> None:
    """Parse arguments and time the weekly summary once."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the postgresql+asyncpg URL national_gen.py loaded")
    asyncio.run(_run(parser.parse_args().url))


if __name__ == "__main__":
    main()
