"""Reminder days (holidays, creation, overdue cadence) and the bulk lookups the jobs rely on."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tocns.core.dates import in_quiet_hours
from tocns.db.engine import Database
from tocns.features.tasks.jobs import current_slot, reminder_slots
from tocns.outbox import store as outbox

QUIET_START, QUIET_END = 21, 7


async def test_used_keys_finds_exactly_the_keys_already_enqueued(db: Database) -> None:
    now = datetime(2026, 11, 23, 1, tzinfo=UTC)
    async with db.session() as session:
        for n in range(0, 3000, 3):
            await outbox.enqueue(
                session, platform="telegram", chat_id="-1", text="x", dedupe_key=f"nhắc:Xã Đông:{n}", now=now
            )
    # More keys than SQLite's old 999-parameter limit, with diacritics and one key asked twice.
    asked = [f"nhắc:Xã Đông:{n}" for n in range(3000)] + ["nhắc:Xã Đông:0", "nhac:Xa Dong:3"]
    async with db.session() as session:
        used = await outbox.used_keys(session, asked)
        assert await outbox.used_keys(session, []) == set()
    assert used == {f"nhắc:Xã Đông:{n}" for n in range(0, 3000, 3)}


def test_overdue_reminders_fade_out_after_four_weeks() -> None:
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    due = date(2026, 11, 6)  # Friday; no public holiday on the overdue days
    slots = reminder_slots(due, [3, 1, 0], date(2027, 1, 30), created=date(2026, 11, 2))
    overdue = [(s.day - due).days for s in slots if s.kind == "overdue"]
    assert overdue == [1, 3, 7, 14, 21, 28]
    # A task forgotten a year ago: nothing more to the group (the digest still names it).
    old = reminder_slots(date(2025, 11, 3), [3, 1, 0], date(2026, 11, 25))
    assert current_slot(old, datetime(2026, 11, 25, 8, 0, tzinfo=tz), 8) == old[-1]
    assert old[-1].day == date(2025, 12, 1) and old[-1].kind == "overdue"


def test_tet_moves_advance_reminders_before_the_holidays() -> None:
    # Due Thursday 11/02/2027 right after Tết (04-10/02/2027 off): lead days 3 and 1 fall in the holidays and
    # move to Wednesday 03/02, the last working day before them; the deadline day's reminder stays.
    slots = reminder_slots(date(2027, 2, 11), [3, 1, 0], date(2027, 2, 11), created=date(2027, 1, 25))
    assert [(s.kind, s.day) for s in slots] == [("before1", date(2027, 2, 3)), ("due", date(2027, 2, 11))]
    # Written during the holidays themselves: never before it was written.
    late = reminder_slots(date(2027, 2, 11), [3, 1, 0], date(2027, 2, 11), created=date(2027, 2, 9))
    assert [(s.kind, s.day) for s in late] == [
        ("before3", date(2027, 2, 9)),
        ("before1", date(2027, 2, 10)),
        ("due", date(2027, 2, 11)),
    ]


@given(
    holidays_offsets=st.sets(st.integers(min_value=0, max_value=60), max_size=25),
    lead_days=st.sets(st.integers(min_value=0, max_value=7), min_size=1),
    created_offset=st.integers(min_value=0, max_value=30),
    created_hour=st.integers(min_value=0, max_value=23),
    span=st.integers(min_value=1, max_value=25),
    hour=st.integers(min_value=QUIET_END, max_value=QUIET_START - 1),
)
@settings(max_examples=150, deadline=None)
def test_every_task_gets_a_reminder_by_its_deadline_and_none_at_night(
    holidays_offsets: set[int], lead_days: set[int], created_offset: int, created_hour: int, span: int, hour: int
) -> None:
    """Simulate the job's half-hourly ticks over a random holiday calendar, from creation to the deadline."""
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    start = date(2027, 1, 1)
    off_days = {start + timedelta(days=n) for n in holidays_offsets}

    def is_off(day: date) -> bool:
        return day.weekday() >= 5 or day in off_days

    created = start + timedelta(days=created_offset)
    due = created + timedelta(days=span)
    assume(any(not is_off(created + timedelta(days=n)) for n in range(1, span + 1)))
    moment = datetime.combine(created, time(created_hour), tz)
    sent: list[datetime] = []
    used: set[tuple[str, date]] = set()
    while moment.date() <= due:
        if not in_quiet_hours(moment, QUIET_START, QUIET_END):
            slots = reminder_slots(due, sorted(lead_days, reverse=True), moment.date(), created, is_off)
            slot = current_slot(slots, moment, hour)
            if slot is not None and (slot.kind, slot.day) not in used:
                used.add((slot.kind, slot.day))
                sent.append(moment)
        moment += timedelta(minutes=30)
    assert sent, "no reminder on or before the deadline"
    assert all(not in_quiet_hours(m, QUIET_START, QUIET_END) for m in sent)
    assert all(s.day >= created for s in reminder_slots(due, sorted(lead_days), due, created, is_off))
