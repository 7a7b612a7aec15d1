"""Reminders driven by `tick` through simulated time: lead times, holidays, quiet hours, escalation, restarts."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from tests.factories import (
    VN,
    ChatHarness,
    FakeClock,
    build_tree,
    count_statements,
    log_activity,
    outbox_rows,
    setup_commune,
    tick,
)
from tocns.app import BotApp
from tocns.config import Settings
from tocns.core.roles import Level, Role
from tocns.db.engine import Database
from tocns.features.org import store as org_store
from tocns.features.org.models import Membership, OrgUnit
from tocns.features.tasks import store as task_store
from tocns.features.tasks.models import Task, TaskScope


async def _tasks_tick(app: BotApp, clock: FakeClock, local: str) -> list[str]:
    """Tick, keeping only task lines (the nudge, digests and summaries are tested on their own)."""
    return _task_lines(await tick(app, clock, local))


def _nudge_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("nhắc tổ")]


def _task_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith(("nhắc việc", "báo lãnh đạo"))]


async def test_a_week_of_reminders(app: BotApp, chat: ChatHarness, clock: FakeClock, settings: Settings) -> None:
    await setup_commune(app, chat, clock)
    assert "Đã giao việc #1" in await chat.text("/giaoviec 27/11 Rà soát hộ chưa có VNeID @binh @Lan", user="10")
    # 24/11 is Vietnam Cultural Day: the 3-days-before reminder moves earlier, to 23/11 (the day it was written).
    assert await _tasks_tick(app, clock, "2026-11-23 09:00") == ["nhắc việc #1 (before3) → console:group-1"]
    assert await _tasks_tick(app, clock, "2026-11-24 08:00") == []
    assert await _tasks_tick(app, clock, "2026-11-25 08:00") == []
    [first] = await outbox_rows(app, "reminder")
    assert first.chat_id == "group-1"
    assert "⏰ Nhắc việc #1: Rà soát hộ chưa có VNeID" in first.text
    assert "Hạn: Thứ Sáu, 27/11/2026 (còn 4 ngày)" in first.text
    assert "Chưa xong: @binh, Lan" in first.text

    clock.set_local("2026-11-25 10:00")
    await chat.send("/xong 1", user="21")
    assert await _tasks_tick(app, clock, "2026-11-26 08:00") == ["nhắc việc #1 (before1) → console:group-1"]
    second = (await outbox_rows(app, "reminder"))[-1]
    assert "Chưa xong: @binh\n" in second.text and "Lan" not in second.text

    # A restart: a new process with a new engine finds the reminder already recorded.
    restarted = Database(settings.database_url)
    try:
        app2 = BotApp.build(settings, restarted)
        clock.set_local("2026-11-26 08:05")
        from tocns.scheduler import run_due_jobs

        assert _task_lines(await run_due_jobs(app2, clock(), wait=True)) == []
    finally:
        await restarted.dispose()

    # The process was down at 08:00 on the deadline: the 10:30 run catches up, once.
    assert await _tasks_tick(app, clock, "2026-11-27 10:30") == ["nhắc việc #1 (due) → console:group-1"]
    assert await _tasks_tick(app, clock, "2026-11-27 11:00") == []
    assert "(hạn hôm nay)" in (await outbox_rows(app, "reminder"))[-1].text

    # Quiet hours: nothing at night.
    assert await _tasks_tick(app, clock, "2026-11-28 22:30") == []
    assert await _tasks_tick(app, clock, "2026-11-28 08:00") == ["nhắc việc #1 (overdue) → console:group-1"]
    # Two days overdue: no reminder to the group (days 1, 3, 7...), but the commune leader is told, once.
    assert await _tasks_tick(app, clock, "2026-11-29 08:00") == ["báo lãnh đạo việc #1 → console:group-1"]
    [escalation] = await outbox_rows(app, "escalation")
    assert escalation.text.startswith("@hung\n⚠️ Việc #1 của Xã Tân Lập đã quá hạn 2 ngày")
    assert "Chưa xong: @binh." in escalation.text
    assert await _tasks_tick(app, clock, "2026-11-30 08:00") == ["nhắc việc #1 (overdue) → console:group-1"]
    assert "quá hạn 3 ngày" in (await outbox_rows(app, "reminder"))[-1].text

    clock.set_local("2026-11-30 09:00")
    await chat.send("/xong 1 xong 25 hộ", user="31")
    for day in ("2026-12-01 08:00", "2026-12-02 08:00", "2026-12-15 08:00"):
        assert await _tasks_tick(app, clock, day) == []
    assert len(await outbox_rows(app, "reminder")) == 5
    assert len(await outbox_rows(app, "escalation")) == 1


async def test_quiet_hours_wait_for_seven(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    app.settings.task_reminder_hour = 5
    await setup_commune(app, chat, clock)
    await chat.send("/giaoviec 26/11 Họp tổ tổ Thôn 3", user="10")
    await outbox_rows(app)
    assert _task_lines(await tick(app, clock, "2026-11-25 05:00")) == []
    assert _task_lines(await tick(app, clock, "2026-11-25 06:59")) == []
    # 24/11 (1 day before) is a holiday: moved to 25/11, sent when the quiet hours end.
    assert _task_lines(await tick(app, clock, "2026-11-25 07:00")) == ["nhắc việc #1 (before1) → console:group-1"]
    text = (await outbox_rows(app, "reminder"))[-1].text
    assert "Chưa xong: Thôn 3" in text


async def test_per_commune_lead_days_and_cancelled_tasks(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_commune(app, chat, clock)
    await chat.send("/caidat nhac 2", user="10")
    await chat.send("/giaoviec 04/12 Tập huấn tổ Thôn 1", user="10")
    await chat.send("/giaoviec 04/12 Việc sẽ huỷ tổ Thôn 1", user="10")
    await chat.send("/huyviec 2", user="10")
    assert _task_lines(await tick(app, clock, "2026-12-01 08:00")) == []
    assert _task_lines(await tick(app, clock, "2026-12-02 08:00")) == ["nhắc việc #1 (before2) → console:group-1"]
    assert "Thôn 1 (@minh)" in (await outbox_rows(app, "reminder"))[-1].text
    assert _task_lines(await tick(app, clock, "2026-12-03 08:00")) == []


async def test_nonreporter_nudge(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    c = await setup_commune(app, chat, clock)
    thon1, thon3, ban = c.tree.teams
    await log_activity(app, "21", thon1.id or 0, date(2026, 11, 24))
    await log_activity(app, "31", thon3.id or 0, date(2026, 11, 25), deleted=True)
    await log_activity(app, "20", ban.id or 0, date(2026, 11, 20))  # last week does not count
    assert _nudge_lines(await tick(app, clock, "2026-11-27 15:59")) == []
    assert _nudge_lines(await tick(app, clock, "2026-11-27 16:00")) == ["nhắc tổ chưa báo cáo (2 tổ) → console:group-1"]
    assert _nudge_lines(await tick(app, clock, "2026-11-27 17:00")) == []
    [nudge] = await outbox_rows(app, "nudge")
    assert "2/3 tổ của Xã Tân Lập chưa ghi kết quả nào: Thôn 3, Bản Nà Hin." in nudge.text
    assert "Thôn 1" not in nudge.text
    for team in (thon1, thon3, ban):
        await log_activity(app, "20", team.id or 0, date(2026, 12, 1))
    assert _nudge_lines(await tick(app, clock, "2026-12-04 16:00")) == []


async def test_a_fully_reported_commune_is_checked_once_a_week_not_every_minute(
    app: BotApp, chat: ChatHarness, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tocns.features.tasks import store as task_store

    c = await setup_commune(app, chat, clock)
    for team in c.tree.teams:
        await log_activity(app, "20", team.id or 0, date(2026, 11, 24))
    reads = []
    real = task_store.active_teams

    async def counted(*args: object, **kwargs: object) -> object:
        reads.append(1)
        return await real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(task_store, "active_teams", counted)
    for at in ("2026-11-27 16:00", "2026-11-27 16:01", "2026-11-28 09:00", "2026-11-29 20:59"):
        assert _nudge_lines(await tick(app, clock, at)) == []
    # Every team had reported: the group got no nudge, and the weekend's ticks did not read all teams again.
    assert len(reads) == 1
    assert await outbox_rows(app, "nudge") == []
    # Next week is checked afresh: nobody has logged yet, so the group hears about all three teams.
    assert _nudge_lines(await tick(app, clock, "2026-12-04 16:00")) == ["nhắc tổ chưa báo cáo (3 tổ) → console:group-1"]


async def test_two_tick_processes_send_once(
    app: BotApp, chat: ChatHarness, clock: FakeClock, is_postgres: bool, db_url: str, tmp_path: Path
) -> None:
    if not is_postgres:
        pytest.skip("the advisory lock is PostgreSQL's")
    await setup_commune(app, chat, clock)
    await chat.send("/giaoviec 27/11 Rà soát tất cả", user="10")
    await chat.send("/giaoviec 28/11 Báo cáo @binh", user="10")
    env = {**os.environ, "DATABASE_URL": db_url, "AUTO_MIGRATE": "false"}

    async def one() -> str:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tocns.cli", "tick", "--at", "2026-11-27 16:00",
            cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        return out.decode()

    outputs = await asyncio.gather(one(), one())
    lines = sorted(line for out in outputs for line in out.splitlines())
    assert lines == [
        "nhắc tổ chưa báo cáo (3 tổ) → console:group-1",
        "nhắc việc #1 (due) → console:group-1",
        "nhắc việc #2 (before1) → console:group-1",
    ]
    rows = await outbox_rows(app)
    assert sorted(r.kind for r in rows) == ["nudge", "reminder", "reminder"]


async def test_no_nudge_on_tet_eve_or_new_year_it_goes_on_the_working_day_before(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    await setup_commune(app, chat, clock)
    # Friday 01/01/2027 is New Year's Day: the nudge goes on Thursday 31/12 at 16:00, and not again on the 1st.
    assert _nudge_lines(await tick(app, clock, "2026-12-31 15:59")) == []
    assert _nudge_lines(await tick(app, clock, "2026-12-31 16:00")) != []
    assert _nudge_lines(await tick(app, clock, "2027-01-01 16:00")) == []
    # Friday 05/02/2027 is Tết eve (04-10/02 off): Wednesday 03/02, nothing on the holidays.
    assert _nudge_lines(await tick(app, clock, "2027-02-03 16:00")) != []
    for moment in ("2027-02-04 16:00", "2027-02-05 16:00", "2027-02-06 10:00", "2027-02-07 10:00"):
        assert _nudge_lines(await tick(app, clock, moment)) == [], moment
    nudges = await outbox_rows(app, "nudge")
    assert {r.created_at.date() for r in nudges} == {date(2026, 12, 31), date(2027, 2, 3)}


async def test_a_deadline_in_tet_is_reminded_before_the_holidays(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    await setup_commune(app, chat, clock)
    await chat.send("/caidat nhac 0", user="10")
    await chat.send("/giaoviec 09/02/2027 Báo cáo số hộ tổ Thôn 1", user="10")  # the fourth day of Tết
    assert _task_lines(await tick(app, clock, "2027-02-03 08:00")) == ["nhắc việc #1 (due) → console:group-1"]
    for moment in ("2027-02-04 08:00", "2027-02-08 08:00", "2027-02-09 08:00"):
        assert _task_lines(await tick(app, clock, moment)) == [], moment
    [reminder] = await outbox_rows(app, "reminder")
    assert "09/02/2027" in reminder.text


async def _next_due(app: BotApp) -> dict[int, datetime | None]:
    async with app.db.session() as session:
        return {t.id or 0: t.next_due_at for t in (await session.exec(select(Task))).all()}


async def test_a_task_is_looked_at_again_only_on_its_next_reminder_day(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    await setup_commune(app, chat, clock)
    assert "Đã giao việc #1" in await chat.text("/giaoviec 27/11 Rà soát hộ chưa có VNeID @binh", user="10")
    assert await _tasks_tick(app, clock, "2026-11-23 09:00") == ["nhắc việc #1 (before3) → console:group-1"]
    # 24/11 is a holiday and 25/11 has no reminder: the next look is the day before the deadline, at 08:00.
    assert await _next_due(app) == {1: datetime(2026, 11, 26, 8, tzinfo=VN).astimezone(UTC)}
    assert await _tasks_tick(app, clock, "2026-11-26 08:00") == ["nhắc việc #1 (before1) → console:group-1"]
    clock.set_local("2026-11-26 09:00")
    await chat.send("/xong 1", user="31")
    assert await _tasks_tick(app, clock, "2026-11-27 08:00") == []
    assert await _next_due(app) == {1: None}  # finished: never read again


async def _add_tasks(app: BotApp, count: int, now: datetime) -> None:
    async with app.db.session() as session:
        commune = (await session.exec(select(OrgUnit).where(OrgUnit.code == "X1"))).one()
        team = (await session.exec(select(OrgUnit).where(OrgUnit.parent_id == commune.id))).first()
        creator = await org_store.upsert_person(session, platform="console", user_id="boss", display_name="Hùng")
        for number in range(count):
            await task_store.create_task(
                session,
                commune=commune,
                title=f"Việc {number}",
                due_date=date(2026, 11, 20) + timedelta(days=3 * (number % 12)),
                scope=TaskScope.TEAM,
                platform="console",
                chat_id="group-1",
                creator=creator,
                teams=[team] if team else [],
                now=now,
            )


async def test_an_idle_minute_reads_only_due_tasks_whatever_their_number(app: BotApp, clock: FakeClock) -> None:
    async with app.db.session() as session:
        await build_tree(session)
    counts = []
    for size, day in ((4, "2026-11-24"), (60, "2026-11-25")):
        clock.set_local(f"{day} 07:00")
        await _add_tasks(app, size, clock())
        await tick(app, clock, f"{day} 08:00")  # what the day has due is sent and each task's next time stored
        seen, stop = count_statements(app)
        try:
            assert [line for line in await tick(app, clock, f"{day} 14:37") if "việc" in line] == []
        finally:
            stop()
        counts.append(len(seen))
        # The only look at the tasks is the indexed range of those due; no open task's deadline is read.
        task_reads = [s for s in seen if re.search(r"\bFROM task\b", s)]
        assert task_reads and all("next_due_at <=" in s for s in task_reads), task_reads
    assert counts[0] == counts[1] <= 20, counts


async def test_a_busy_minutes_statements_do_not_grow_with_its_reminders(app: BotApp, clock: FakeClock) -> None:
    from tocns.features.tasks import jobs as task_jobs

    async with app.db.session() as session:
        tree = await build_tree(session)
        await org_store.bind_chat(session, platform="console", chat_id="group-1", unit=tree.commune, person=None)
    clock.set_local("2026-11-23 07:00")
    assert await task_jobs.task_reminders(app, clock()) == []  # the process's first look (open tasks rechecked)
    counts = []
    for size, day in ((3, date(2026, 11, 24)), (30, date(2026, 11, 25))):
        clock.set_local(f"{day.isoformat()} 07:00")
        async with app.db.session() as session:
            creator = await org_store.upsert_person(session, platform="console", user_id="boss", display_name="Hùng")
            for number in range(size):
                await task_store.create_task(
                    session, commune=tree.commune, title=f"Việc {day.day}-{number}", due_date=day,
                    scope=TaskScope.TEAM, platform="console", chat_id="group-1", creator=creator,
                    teams=[tree.teams[number % 3]], now=clock(),
                )  # fmt: skip
        clock.set_local(f"{day.isoformat()} 08:00")
        seen, stop = count_statements(app)
        try:
            lines = await task_jobs.task_reminders(app, clock())
        finally:
            stop()
        # Each of the day's tasks reminded in the group on its deadline (yesterday's are overdue now).
        assert len([line for line in lines if "(due) → console:group-1" in line]) == size, lines
        counts.append(len(seen))
    assert counts[0] == counts[1], counts
    assert len(await outbox_rows(app, "reminder")) == 3 + 30 + 3


async def test_a_teams_leaders_are_named_in_vietnamese_order(app: BotApp) -> None:
    # Byte order puts "Em" before "Đạt"; the alphabet the villagers learnt puts Đ between D and E.
    async with app.db.session() as session:
        team = await org_store.create_unit(session, code="T-ORDER", name="Tổ thứ tự", level=Level.TEAM)
        other = await org_store.create_unit(session, code="T-ALONE", name="Tổ một người", level=Level.TEAM)
        for user_id, name, unit in (("1", "Em", team), ("2", "Đạt", team), ("3", "Anh", team), ("4", "Ý", other)):
            person = await org_store.upsert_person(session, platform="console", user_id=user_id, display_name=name)
            session.add(Membership(person_id=person.id or 0, org_unit_id=unit.id or 0, role=Role.TEAM_LEADER.value))
        await session.flush()
        leaders = await task_store.people_with_role(session, [team.id or 0, other.id or 0], Role.TEAM_LEADER.value)
    assert [p.display_name for p in leaders[team.id or 0]] == ["Anh", "Đạt", "Em"]
    assert [p.display_name for p in leaders[other.id or 0]] == ["Ý"]
