"""Reports carry task figures counted in tasks, each task's progress, and the overdue tasks by name."""

from __future__ import annotations

from datetime import date

from sqlalchemy import event

from tests.factories import ChatHarness, FakeClock, setup_commune
from tocns.app import BotApp
from tocns.core.period import week_of
from tocns.features.reports.service import unit_report
from tocns.features.tasks.store import task_progress


async def test_baocao_counts_due_done_and_overdue(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_commune(app, chat, clock)  # Monday 23/11/2026
    assert "#1" in await chat.text("/giaoviec 24/11 Rà soát hộ nghèo tổ thon 1", user="10")
    assert "#2" in await chat.text("/giaoviec 26/11 Tập huấn VNeID tất cả", user="10")
    assert "#3" in await chat.text("/giaoviec 10/12 Việc tháng sau tổ thon 3", user="10")
    clock.set_local("2026-11-25 09:00")
    done = await chat.text("/xong 2 đã xong", user="20")  # Thôn 1 completes its part of #2
    assert "hoàn thành việc #2: “Tập huấn VNeID” (1/3 xong)" in done

    commune_report = await chat.text("/baocao tuan", user="10")
    # #1: Thôn 1 (overdue since 24/11); #2: three teams, Thôn 1 done, two not yet due; #3 is next month.
    # Two tasks, not four assignments.
    assert "Nhiệm vụ: 2 việc đến hạn, 0 hoàn thành, 1 quá hạn" in commune_report
    assert "• #1 Rà soát hộ nghèo: 0/1 xong\n• #2 Tập huấn VNeID: 1/3 xong" in commune_report
    assert "Việc quá hạn (1):\n• #1 Rà soát hộ nghèo (hạn 24/11/2026), chưa xong: Thôn 1" in commune_report

    clock.set_local("2026-11-27 09:00")
    later = await chat.text("/baocao tuan", user="10")
    assert "Nhiệm vụ: 2 việc đến hạn, 0 hoàn thành, 2 quá hạn" in later
    assert "• #2 Tập huấn VNeID (hạn 26/11/2026), chưa xong: Thôn 3, Bản Nà Hin" in later

    cancelled = await chat.text("/huyviec 1", user="10")
    assert cancelled.startswith("Đã huỷ việc #1: “Rà soát hộ nghèo”. Sẽ không còn nhắc việc này.")
    assert "Nhiệm vụ: 1 việc đến hạn, 0 hoàn thành, 1 quá hạn" in await chat.text("/baocao tuan", user="10")


async def test_long_task_lists_are_capped(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_commune(app, chat, clock)  # Monday 23/11/2026
    for n in range(12):
        assert f"#{n + 1}" in await chat.text(f"/giaoviec 23/11 Việc số {n + 1} tổ thon 1", user="10")
    clock.set_local("2026-11-25 09:00")
    report = await chat.text("/baocao tuan", user="10")
    assert "Nhiệm vụ: 12 việc đến hạn, 0 hoàn thành, 12 quá hạn" in report
    assert "• #10 Việc số 10: 0/1 xong\n… và 2 việc khác." in report
    assert "Việc quá hạn (12):" in report and "… và 2 việc quá hạn khác." in report
    assert "#11 Việc số 11" not in report


async def test_a_report_reads_figures_and_tasks_in_one_statement(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    commune = await setup_commune(app, chat, clock)  # Monday 23/11/2026, no target set anywhere
    assert "#1" in await chat.text("/giaoviec 24/11 Rà soát hộ nghèo tổ thon 1", user="10")
    assert "#2" in await chat.text("/giaoviec 26/11 Tập huấn VNeID tất cả", user="10")
    clock.set_local("2026-11-25 09:00")
    await chat.text("/xong 2 đã xong", user="20")
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if not statement.startswith("BEGIN"):  # SQLite's session opens its write transaction
            statements.append(statement)

    week = week_of(date(2026, 11, 23))
    async with app.db.session() as session:
        event.listen(app.db.engine.sync_engine, "before_cursor_execute", count)
        try:
            report = await unit_report(session, commune.tree.commune, week, app.settings, clock(), team_rows=False)
        finally:
            event.remove(app.db.engine.sync_engine, "before_cursor_execute", count)
        expected = await task_progress(session, commune.tree.commune, week.start, week.end)
    # A text report of a unit with no target is one round trip: figures, tasks and the targets check together.
    assert len(statements) == 1
    assert report.tasks is not None and report.progress is None
    assert report.tasks.progress == [(1, "Rà soát hộ nghèo", 0, 1), (2, "Tập huấn VNeID", 1, 3)]
    assert report.tasks.progress == [(t.id, t.title, t.done, t.total) for t in expected]
    assert report.tasks.overdue_tasks == [(1, "Rà soát hộ nghèo", "24/11/2026", ["Thôn 1"])]
