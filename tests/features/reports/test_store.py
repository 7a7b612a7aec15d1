"""The reports' store: what the folding of a report's rows costs the event loop."""

from __future__ import annotations

import asyncio
import threading
from datetime import date
from typing import Any

import pytest

from tests.factories import FakeClock, build_tree
from tocns.app import BotApp
from tocns.core.period import week_of
from tocns.features.reports import store as report_store
from tocns.features.reports.service import unit_report


async def test_two_reports_read_at_once_fold_in_turn_off_the_event_loop(
    app: BotApp, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, is_postgres: bool
) -> None:
    # The weekly summary's and the digests' reports are read side by side on a busy Monday (and two dashboard
    # requests may be): their folding is CPU-bound Python, and side by side two folds took the GIL from each other and
    # from the event loop in turns, the loop waiting for both. One folds at a time, never on the loop (a report of
    # a few rows, a commune's, folds on the loop at once, never waiting behind a country's).
    if not is_postgres:
        pytest.skip("SQLite's write lock already makes two reports' sessions take turns")
    async with app.db.session() as session:
        tree = await build_tree(session)
    loop_thread = threading.get_ident()
    turns = threading.Condition()
    inside, most, folded, threads = [0], [0], [0], set()
    original = report_store._fold_report

    def fold(*args: Any) -> Any:
        with turns:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
            threads.add(threading.get_ident())
            turns.notify_all()
            # The first fold holds on until the second one is beside it (two threads) or 2 s have passed (one
            # thread: the second waits its turn); a fold after another has ended has nobody to wait for.
            turns.wait_for(lambda: inside[0] == 2 or folded[0] > 0, timeout=2)
        try:
            return original(*args)
        finally:
            with turns:
                inside[0] -= 1
                folded[0] += 1
                turns.notify_all()

    monkeypatch.setattr(report_store, "_fold_report", fold)
    monkeypatch.setattr(report_store, "FOLD_ON_LOOP_ROWS", 1)  # the test tree's province stands for a real one
    period = week_of(date(2026, 11, 16))

    async def report() -> Any:
        async with app.db.session() as session:
            return await unit_report(session, tree.province, period, app.settings, clock())

    first, second = await asyncio.gather(report(), report())
    assert first.unit_code == second.unit_code == tree.province.code
    assert most[0] == 1 and loop_thread not in threads
