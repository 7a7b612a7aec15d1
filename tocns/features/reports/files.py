"""Building what the jobs send: report files drawn with no session open and off the event loop (a small process
pool), and the outbox attachment entries.

A job reads what a file needs inside its session (the report, and the raw rows spooled to a temporary file so
memory stays flat), closes the session, then draws: on SQLite every session holds the write lock, and a chart or
a workbook takes seconds a webhook should not wait. The drawing runs in a process pool of RENDER_WORKERS processes
(spawned, so it is safe with the event loop's threads), or in a thread when RENDER_WORKERS is 0 (tests, a console).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import pickle
import shutil
import tempfile
import zipfile
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.config import Settings
from tocns.core.period import Period
from tocns.features.activity.evidence import photo_shown, shown_by
from tocns.features.org.models import OrgUnit
from tocns.features.reports.render import ChartsUnavailable, render_png
from tocns.features.reports.store import Report, stream_raw_records
from tocns.features.reports.workbook import RawOutside, ReportWorkbook, Saved, raw_zip_for, write_workbook

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ZIP_MIME = "application/zip"

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class ReportFiles:
    """The chart and workbook of one report, written to disk (no chart without the `charts` extra)."""

    png_name: str | None
    xlsx_name: str
    root: Path
    # The zips holding the raw rows as CSV when they left the workbook (REPORT_RAW_SHEET_MAX_ROWS), and their count.
    raw_zip_names: tuple[str, ...] = ()
    raw_rows: int = 0

    def attachment(self, name: str, mime: str) -> dict[str, str]:
        """An outbox attachment entry for one of the files."""
        return {"filename": Path(name).name, "mime_type": mime, "path": str(self.root / name)}

    @property
    def png(self) -> dict[str, str] | None:
        """The chart as an outbox attachment, or None when matplotlib is not installed."""
        return None if self.png_name is None else self.attachment(self.png_name, "image/png")

    @property
    def xlsx(self) -> dict[str, str]:
        """The workbook as an outbox attachment."""
        return self.attachment(self.xlsx_name, XLSX_MIME)

    @property
    def documents(self) -> list[dict[str, str]]:
        """The workbook and the raw data's zips, if any, as outbox attachments (in that order)."""
        return [self.xlsx, *(self.attachment(name, ZIP_MIME) for name in self.raw_zip_names)]


@dataclass(frozen=True)
class Drawing:
    """Everything needed to draw one report's files, picklable for a worker process: no session, no database."""

    report: Report
    tz: ZoneInfo
    root: str
    base: str
    spool: str
    # For the photo links the workbook signs (activity.evidence.photo_shown), as of when the files are made.
    settings: Settings
    made_at: datetime


# ---------------------------------------------------------------- inside the job's session


async def spool_raw_records(session: AsyncSession, unit: OrgUnit, period: Period, folder: Path) -> str:
    """Copy the period's raw rows of `unit` to a temporary file (pickled batches); return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("wb", dir=folder, suffix=".rows", delete=False) as out:
        # Batches of 1,000: each batch is decoded and pickled on the event loop (5,000 held it ~80 ms at a time).
        async for batch in stream_raw_records(session, unit, period.start, period.end, batch=1000):
            pickle.dump(batch, out, protocol=pickle.HIGHEST_PROTOCOL)
    return out.name


async def prepare_drawing(
    session: AsyncSession, settings: Settings, unit: OrgUnit, period: Period, report: Report, now: datetime
) -> Drawing:
    """Read what the files of `report` need while the session is open; drawing them needs no database."""
    root = Path(settings.files_dir).resolve() / "reports"
    spool = await spool_raw_records(session, unit, period, root / period.slug)
    base = f"{period.slug}/bao-cao-{unit.code}-{period.slug}"
    return Drawing(report, settings.tz, str(root), base, spool, settings, now)


# ---------------------------------------------------------------- in a worker (process or thread)


def raw_outside(settings: Settings, workbook: str | Path) -> RawOutside:
    """When and where the raw rows of the workbook at `workbook` leave it (one rule for every report workbook)."""
    return RawOutside(settings.report_raw_sheet_max_rows, raw_zip_for(workbook), settings.report_file_max_bytes)


def _spooled(path: str) -> Iterator[list[tuple[Any, ...]]]:
    with open(path, "rb") as spool:
        while True:
            try:
                yield pickle.load(spool)
            except EOFError:
                return


def draw_report_files(drawing: Drawing) -> ReportFiles:
    """Render the chart (when matplotlib is installed) and the workbook of a report into FILES_DIR/reports/<period>/."""
    root = Path(drawing.root)
    png_name: str | None = None
    xlsx_name = f"{drawing.base}.xlsx"
    try:
        try:
            chart = render_png(drawing.report)
        except ChartsUnavailable as exc:
            log.warning("report chart skipped: %s", exc)
        else:
            png_name = f"{drawing.base}.png"
            (root / png_name).write_bytes(chart)
        settings, made = drawing.settings, drawing.made_at
        book = ReportWorkbook(
            drawing.report,
            drawing.tz,
            photo=lambda value: photo_shown(settings, value, made),
            outside=raw_outside(settings, root / xlsx_name),
        )
        try:
            for batch in _spooled(drawing.spool):
                book.add_raw(batch)
        except BaseException:
            book.discard()
            raise
        # Saved under a temporary name, then renamed: a reader never sees half a workbook.
        partial = root / f"{xlsx_name}.part"
        saved = book.save(partial)
        partial.replace(root / xlsx_name)
    finally:
        Path(drawing.spool).unlink(missing_ok=True)
    # Each raw zip's name relative to the root, next to the workbook's (the outbox keeps paths under FILES_DIR).
    zips = tuple(str(Path(xlsx_name).parent / path.name) for path in saved.raw_files)
    return ReportFiles(png_name, xlsx_name, root, zips, saved.raw_rows)


# ---------------------------------------------------------------- the pool


# One pool per process, created on first use and sized by the first settings that ask for it.
_pool: ProcessPoolExecutor | None = None


RENDER_NICENESS = 10
"""How much lower the drawing processes run than the bot: on a small machine the webhooks and the database get the
cores first while a busy Monday draws its workbooks (Linux gives a process at niceness 10 about a tenth of the CPU
a niceness-0 process gets when both want it, and all of it when nothing else does)."""


def _lower_priority() -> None:
    with contextlib.suppress(OSError, AttributeError):  # a platform without nice() draws at normal priority
        os.nice(RENDER_NICENESS)


def _render_pool(workers: int) -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        # Spawned, not forked: a fork would copy the event loop's threads and the database connections' locks.
        _pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=_lower_priority
        )
    return _pool


def shutdown_render_pool() -> None:
    """Stop the drawing processes, if any were started (the app calls it when it closes)."""
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=True, cancel_futures=True)
        _pool = None


async def off_loop(settings: Settings, draw: Callable[[T], Any], arg: T) -> Any:
    """Run CPU-heavy `draw(arg)` in the drawing pool (or a thread when RENDER_WORKERS is 0), never on the loop."""
    if settings.render_workers <= 0:
        return await asyncio.to_thread(draw, arg)
    try:
        return await asyncio.get_running_loop().run_in_executor(_render_pool(settings.render_workers), draw, arg)
    except BrokenProcessPool:
        # A worker died (out of memory, killed): the next draw gets a fresh pool; this one is drawn in a thread.
        log.warning("the drawing pool broke; drawing this report in a thread")
        shutdown_render_pool()
        return await asyncio.to_thread(draw, arg)


async def draw_off_loop(settings: Settings, drawing: Drawing) -> ReportFiles:
    """Draw one report's files in the drawing pool (no session open, the event loop free)."""
    try:
        files: ReportFiles = await off_loop(settings, draw_report_files, drawing)
    except asyncio.CancelledError:
        # Let go before a drawing process took it (the job failed and runs again next minute): nobody would ever
        # read its spooled rows. A drawing already under way reads the file it opened, and removes it itself.
        Path(drawing.spool).unlink(missing_ok=True)
        raise
    return files


LEFTOVER_AGE = timedelta(hours=1)
"""How old a spool file or a half-written file must be to count as left by a drawing that was killed (a drawing
under way is minutes old; a killed process cannot remove its own)."""
LEFTOVER_PATTERNS = ("*.rows", "*.part")


def remove_leftovers(settings: Settings, now: datetime) -> int:
    """Remove the spooled rows and half-written files that drawings killed midway (the process killed, out of
    memory, the machine restarted) left under FILES_DIR/reports, older than LEFTOVER_AGE at `now`; how many."""
    root = Path(settings.files_dir).resolve() / "reports"
    before = (now - LEFTOVER_AGE).timestamp()
    removed = 0
    for pattern in LEFTOVER_PATTERNS:
        for path in root.glob(f"*/{pattern}"):
            with contextlib.suppress(OSError):  # gone meanwhile, or not ours to remove: the next run tries again
                if path.stat().st_mtime < before:
                    path.unlink()
                    removed += 1
    if removed:
        log.warning("removed %s file(s) left by drawings that never finished under %s", removed, root)
    return removed


# ---------------------------------------------------------------- one file to download (API, dashboard)


@dataclass(frozen=True)
class Download:
    """A report to download as one file: the workbook, or a zip holding it and its raw data's zips."""

    path: Path
    filename: str
    media_type: str

    def remove(self) -> None:
        """Remove the file and its temporary folder once it is served."""
        shutil.rmtree(self.path.parent, ignore_errors=True)


def _bundle(bundle: Path, workbook: Path, raw_files: list[Path]) -> None:
    """One zip with the workbook (stored: an .xlsx is compressed already) and every CSV of the raw data's zips."""
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as out:
        out.write(workbook, workbook.name, compress_type=zipfile.ZIP_STORED)
        workbook.unlink()
        for raw in raw_files:
            with zipfile.ZipFile(raw) as part:
                for member in part.infolist():
                    with part.open(member) as source, out.open(member.filename, "w", force_zip64=True) as target:
                        shutil.copyfileobj(source, target, 1 << 20)
            raw.unlink()


async def report_download(
    report: Report, rows: AsyncIterator[list[tuple[Any, ...]]], settings: Settings, now: datetime, name: str
) -> Download:
    """The report workbook `name`.xlsx with its raw rows (the same rule as every report workbook), as one file for
    an HTTP download: the workbook alone, or when the raw rows left it, `name`.zip holding the workbook and the raw
    data's CSV files side by side (not a zip in a zip: one download opens in one step)."""
    folder = Path(tempfile.mkdtemp(prefix="tocns-report-"))
    try:
        workbook = folder / f"{name}.xlsx"
        saved: Saved = await write_workbook(
            report,
            rows,
            settings.tz,
            workbook,
            photo=shown_by(settings, now),
            outside=raw_outside(settings, workbook),
        )
        if not saved.raw_files:
            return Download(workbook, workbook.name, XLSX_MIME)
        bundle = folder / f"{name}.zip"
        # Compressing the CSVs again is CPU work: in a thread, not on the loop that answers webhooks.
        await asyncio.to_thread(_bundle, bundle, workbook, saved.raw_files)
        return Download(bundle, bundle.name, ZIP_MIME)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
