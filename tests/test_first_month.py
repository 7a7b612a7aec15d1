"""A commune's first month, scripted from December to after Tết 2027, through the router and the scheduler.

The province's teams come from a sheet; the imported people join and log; the leader gives tasks by name; a
directive is sent in the quiet hours; the scheduler ticks every day through New Year and Tết. At the end: one
person per imported name, replies that said what really happened, and no bot-started message on a public holiday.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import select

from tests.factories import ChatHarness, FakeClock, build_tree, join_code, outbox_rows, record_id, tick
from tests.features.org.test_import_teams import _import, _xlsx
from tocns.app import BotApp
from tocns.core.dates import fmt_time, is_holiday
from tocns.core.mentions import render_plain
from tocns.core.roles import Role
from tocns.features.activity.models import ActivityRecord
from tocns.features.org.models import Membership, OrgUnit, Person
from tocns.outbox.sender import OutboxSender

VN = ZoneInfo("Asia/Ho_Chi_Minh")
ROSTER = [
    ["X1", "Thôn 5", "Hoàng Văn Tùng", "0912 345 678", "", "", "tổ trưởng"],
    ["X1", "Thôn 5", "Bế Thị Hoa", "0987 654 321", "", "", ""],
    ["X1", "Thôn 5", "Lò Văn Páo", "0977 000 111", "", "", ""],
    ["X1", "Thôn 6", "Nông Thị Mai", "0966 111 222", "", "", "tổ trưởng"],
]
# What people send and jobs queue themselves; everything else in the outbox is a reply or a directive a person sent.
BOT_STARTED = {"nudge", "reminder", "due", "digest", "summary", "overdue", "escalation", "directive_reminder"}
GROUP = "g-x1"
STAFF_CHAT = "p-staff"


async def _import_roster(app: BotApp, path: Path) -> dict[str, str]:
    """The operator's `tocns org import-teams`: each team's leader code, and each person's own code, by name."""
    problems, outcome = await _import(app, _xlsx(path, ROSTER))
    assert outcome is not None, problems
    codes = {c.team_name: c.join_code for c in outcome.codes if c.join_code}
    codes.update({p.name: p.join_code for p in outcome.personal if p.join_code})
    return codes


async def _people_named(app: BotApp) -> dict[str, int]:
    async with app.db.session() as session:
        name = func.coalesce(Person.roster_name, Person.display_name)
        rows = (await session.exec(select(name, func.count()).group_by(name))).all()
    return {name: count for name, count in rows}


def _local_day(moment: datetime) -> date:
    return moment.replace(tzinfo=moment.tzinfo or ZoneInfo("UTC")).astimezone(VN).date()


async def _join(app: BotApp, chat: ChatHarness, clock: FakeClock, tmp_path: Path) -> None:
    """Staff, the commune group and the imported people arrive; each imported name stays one person."""
    async with app.db.session() as session:
        tree = await build_tree(session)
        staff = await join_code(session, tree.province, Role.STAFF, clock())
        commune = await join_code(session, tree.commune, Role.COMMUNE_LEADER, clock(), ttl=timedelta(days=60))
    codes = await _import_roster(app, tmp_path / "to-cns.xlsx")
    assert "Cán bộ Sở" in await chat.text(
        f"/ketnoi {staff}", user="1", name="Cán bộ Mai", private=True, chat=STAFF_CHAT
    )
    assert "Đã kết nối" in await chat.text(f"/ketnoi {commune}", user="10", name="Chủ tịch Hùng", chat=GROUP)
    # The team leader types the code the import printed, in the commune's group: the roster entry becomes him.
    claimed = await chat.text(f"/ketnoi {codes['Thôn 5']}", user="50", name="Tùng HV", chat=GROUP)
    assert "Hoàng Văn Tùng" in claimed, claimed
    # Members choose their own name from the roster, by number.
    offered = await chat.text("/thamgia thon 5", user="51", name="Hoa Bế", chat=GROUP)
    assert "1. Bế Thị Hoa" in offered, offered
    assert "Bế Thị Hoa" in await chat.text("/toila 1", user="51", name="Hoa Bế", chat=GROUP)
    # Another types the personal code the import printed for him, in the group.
    own = await chat.text(f"/ketnoi {codes['Lò Văn Páo']}", user="52", name="Páo", chat=GROUP)
    assert "Lò Văn Páo" in own, own


async def _plain(harness: ChatHarness, text: str, **kwargs: object) -> str:
    """The reply as people read it (names, not the outbox's mention markers)."""
    return render_plain(await harness.text(text, **kwargs))


async def _log_and_assign(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    """A double tap is one record; tasks by whole name and word; a past day-month is refused with the date meant."""
    clock.set_local("2026-12-07 09:00")
    first = await chat.text("/ghi vneid 3", user="51", chat=GROUP)
    again = await chat.text("/ghi vneid 3", user="51", chat=GROUP)
    assert f"#{record_id(first)}" in again and "không ghi thêm" in again, again
    clock.set_local("2026-12-08 09:00")
    record_id(await chat.text("/ghi vneid 2", user="52", chat=GROUP))
    full = await _plain(chat, "/giaoviec 20/12 Rà soát hộ chưa có VNeID @Bế Thị Hoa", user="50", chat=GROUP)
    assert "Đã giao việc" in full and "Người nhận: Hoa Bế" in full, full
    word = await _plain(chat, "/giaoviec 09/02 Trực Tết @Lò", user="50", chat=GROUP)
    assert "Đã giao việc" in word and "Người nhận: Páo" in word and "09/02/2027" in word, word
    past = await chat.text("/giaoviec 01/12 Việc đã qua @Bế Thị Hoa", user="50", chat=GROUP)
    assert "01/12 đã qua; ý bạn là 01/12/2027?" in past, past
    fragment = await chat.text("/giaoviec 20/12 Việc khác @Ho", user="50", chat=GROUP)
    assert "Đã giao việc" not in fragment, fragment


async def _directive_in_quiet_hours(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    """Sent at 06:08, it says it goes at 07:00, and the outbox holds it until then."""
    clock.set_local("2026-12-09 06:08")
    held = await chat.text("/chidao X1: Rà soát hộ nghèo", user="1", private=True, chat=STAFF_CHAT)
    assert held.startswith("Đã xếp hàng chỉ đạo số 1") and "07:00 09/12/2026" in held, held
    # The time the reply names is the time the sender holds phones' messages until (a terminal wakes nobody, so
    # the console itself prints at once).
    until = OutboxSender(app.db, app.settings, {}, clock=clock).quiet_until(clock())
    assert until is not None and fmt_time(until, VN) == "07:00 09/12/2026"
    rows = [r for r in await outbox_rows(app, "directive") if "Rà soát hộ nghèo" in r.text]
    assert [r.chat_id for r in rows] == [GROUP]


async def _run_until_after_tet(app: BotApp, clock: FakeClock) -> None:
    """The scheduler's day, at the hours its jobs run: a December week, New Year, and Tết 2027 with the days around."""
    for first, last in (
        (date(2026, 12, 9), date(2026, 12, 14)),
        (date(2026, 12, 30), date(2027, 1, 4)),
        (date(2027, 1, 30), date(2027, 2, 12)),
    ):
        day = first
        while day <= last:
            for hour in ("07:00", "07:30", "08:00", "16:00"):
                await tick(app, clock, f"{day.isoformat()} {hour}")
            day += timedelta(days=1)


async def test_a_first_month_from_december_to_tet(
    app: BotApp, chat: ChatHarness, clock: FakeClock, tmp_path: Path
) -> None:
    clock.set_local("2026-12-01 09:00")
    await _join(app, chat, clock, tmp_path)
    await _log_and_assign(app, chat, clock)
    await _directive_in_quiet_hours(app, chat, clock)
    await _run_until_after_tet(app, clock)

    # One person per imported name, whatever way they arrived.
    named = await _people_named(app)
    assert all(named[row[2]] == 1 for row in ROSTER), named
    async with app.db.session() as session:
        team = (await session.exec(select(OrgUnit).where(OrgUnit.name == "Thôn 5"))).one()
        members = (await session.exec(select(Membership).where(Membership.org_unit_id == team.id))).all()
        assert len(members) == 3
        records = (await session.exec(select(func.count()).select_from(ActivityRecord))).one()
        assert records == 2  # the double tap was not recorded twice
    rows = await outbox_rows(app)
    started = [r for r in rows if r.kind in BOT_STARTED]
    assert {r.kind for r in started} >= {"digest", "summary", "reminder"}, {r.kind for r in started}
    # No bot-started message is queued on a public holiday (New Year, Tết 2027): the holiday rule moves them.
    on_holidays = [(r.kind, _local_day(r.created_at)) for r in started if is_holiday(_local_day(r.created_at))]
    assert on_holidays == []
    # The deadline on the fourth day of Tết (09/02) is reminded on the last working day before the holidays.
    tet_task = [r for r in started if r.kind == "reminder" and "Trực Tết" in r.text]
    before = [r for r in tet_task if "(còn " in r.text]
    assert before and all(_local_day(r.created_at) == date(2027, 2, 3) for r in before)
    # Overdue reminders inform: they wait for the first working day after Tết.
    assert min(_local_day(r.created_at) for r in tet_task if "quá hạn" in r.text) == date(2027, 2, 11)
    # And nothing bot-started is queued in the quiet hours (21:00–07:00).
    assert all(7 <= r.created_at.replace(tzinfo=ZoneInfo("UTC")).astimezone(VN).hour < 21 for r in started)
