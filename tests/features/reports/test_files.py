"""Report files drawn with no session open and off the event loop: in the drawing pool's own process."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.factories import FakeClock, build_tree, make_logger
from tests.features.reports.test_service import local
from tocns.app import BotApp
from tocns.core.period import week_of
from tocns.features.reports import files as report_files
from tocns.features.reports.service import unit_report


def _pid(_arg: object) -> int:
    """The process a drawing runs in (a top-level function: the spawned worker imports it)."""
    return os.getpid()


@pytest.fixture
def pool_closed() -> Iterator[None]:
    """The drawing pool a test starts is stopped after it."""
    yield
    report_files.shutdown_render_pool()


async def test_the_pool_draws_the_chart_and_workbook_in_another_process(
    app: BotApp, clock: FakeClock, tmp_path: Path, pool_closed: None
) -> None:
    settings = app.settings.model_copy(update={"render_workers": 1, "files_dir": str(tmp_path / "files")})
    period = week_of(date(2026, 11, 16))
    async with app.db.session() as session:
        tree = await build_tree(session)
        logger = await make_logger(session, clock())
        await logger.log(tree.teams[0], date(2026, 11, 17), {"vneid": 12}, local(date(2026, 11, 17)))
        report = await unit_report(session, tree.province, period, settings, clock())
        drawing = await report_files.prepare_drawing(session, settings, tree.province, period, report, clock())
    # The session is closed: what the drawing needs is in the report and the spooled raw rows.
    files = await report_files.draw_off_loop(settings, drawing)
    assert await report_files.off_loop(settings, _pid, None) != os.getpid()
    # It draws below the bot's priority, so the webhooks and the database get the cores first.
    assert await report_files.off_loop(settings, os.nice, 0) == min(19, os.nice(0) + report_files.RENDER_NICENESS)
    assert files.png is not None and Path(files.png["path"]).read_bytes().startswith(b"\x89PNG")
    book = load_workbook(io.BytesIO(Path(files.xlsx["path"]).read_bytes()))
    raw = [row for row in book["Dữ liệu gốc"].iter_rows(values_only=True)][1:]
    assert [row[7] for row in raw] == [12]  # the one logged item, from the spool
    assert not Path(drawing.spool).exists()  # the spool is removed once drawn


async def test_without_a_pool_the_drawing_runs_in_a_thread(app: BotApp) -> None:
    # RENDER_WORKERS=0 (a console, the tests): still off the event loop, in this process.
    assert app.settings.render_workers == 0
    assert await report_files.off_loop(app.settings, _pid, None) == os.getpid()
