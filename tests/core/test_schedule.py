"""The one holiday rule for messages the bot starts: a table across Tết 2027, Tết 2028 and New Year, and properties."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocns.core.dates import is_day_off, is_holiday
from tocns.core.schedule import daily_due, holiday_moved, weekly_due

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
D = date


@pytest.mark.parametrize(
    ("nominal", "purpose", "not_before", "expected"),
    [
        # Tết 2027: 04/02 (29 Tết) to 10/02. Friday's nudge (act before Sunday) goes on Wednesday 03/02.
        (D(2027, 2, 5), "action", D(2027, 2, 1), D(2027, 2, 3)),
        # Monday 08/02's summary (informs) waits for Thursday 11/02.
        (D(2027, 2, 8), "info", None, D(2027, 2, 11)),
        # A deadline on the fourth day of Tết is reminded before the holidays.
        (D(2027, 2, 9), "action", D(2027, 1, 20), D(2027, 2, 3)),
        # ... unless the task was written during them: nothing earlier than its window.
        (D(2027, 2, 9), "action", D(2027, 2, 6), None),
        # New Year's Day 2027 is a Friday: the nudge goes on Thursday 31/12/2026.
        (D(2027, 1, 1), "action", D(2026, 12, 28), D(2026, 12, 31)),
        # Tết 2028: 24/01 to 29/01; Monday 24/01's summary goes on Monday 31/01, a working day, not Sunday 30/01.
        (D(2028, 1, 24), "info", None, D(2028, 1, 31)),
        # Friday 28/01/2028's nudge: the whole week is Tết, nothing to move it to inside the week.
        (D(2028, 1, 28), "action", D(2028, 1, 24), None),
        # 03/01/2028 (New Year observed): Monday's summary goes on Tuesday.
        (D(2028, 1, 3), "info", None, D(2028, 1, 4)),
        # An ordinary day stays.
        (D(2026, 12, 4), "action", D(2026, 11, 30), D(2026, 12, 4)),
        (D(2026, 12, 7), "info", None, D(2026, 12, 7)),
    ],
)
def test_holiday_rule_table(nominal: date, purpose: str, not_before: date | None, expected: date | None) -> None:
    assert holiday_moved(nominal, purpose, not_before) == expected  # type: ignore[arg-type]


def _local(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=TZ)


def test_weekly_messages_across_tet_2027() -> None:
    # The Monday summary of 08/02/2027 is not sent in Tết, then goes on Thursday 11/02 for its own week.
    assert weekly_due(_local("2027-02-08 07:30"), 0, "07:30", "info") is None
    assert weekly_due(_local("2027-02-11 07:29"), 0, "07:30", "info") is None
    assert weekly_due(_local("2027-02-11 07:30"), 0, "07:30", "info") == D(2027, 2, 8)
    assert weekly_due(_local("2027-02-15 07:30"), 0, "07:30", "info") == D(2027, 2, 15)
    # The Friday nudge: Wednesday before Tết, never on Tết eve.
    assert weekly_due(_local("2027-02-03 16:00"), 4, "16:00", "action") == D(2027, 2, 5)
    assert weekly_due(_local("2027-02-05 16:00"), 4, "16:00", "action") is None


def test_daily_digest_skips_holidays_and_catches_up() -> None:
    assert daily_due(_local("2027-02-05 07:00"), "07:00") is None  # Tết eve
    assert daily_due(_local("2027-02-03 07:00"), "07:00") == (D(2027, 2, 2), D(2027, 2, 2))
    # The first day after Tết covers every day since the last digest (sent 03/02, covering 02/02).
    assert daily_due(_local("2027-02-11 07:00"), "07:00") == (D(2027, 2, 3), D(2027, 2, 10))
    assert daily_due(_local("2027-01-01 07:00"), "07:00") is None
    assert daily_due(_local("2027-01-02 07:00"), "07:00") == (D(2026, 12, 31), D(2027, 1, 1))


@given(st.dates(min_value=D(2025, 1, 1), max_value=D(2030, 12, 31)), st.sampled_from(["action", "info"]))
def test_a_moved_message_never_lands_on_a_holiday_and_moves_the_right_way(nominal: date, purpose: str) -> None:
    day = holiday_moved(nominal, purpose, not_before=nominal - timedelta(days=nominal.weekday()))  # type: ignore[arg-type]
    if day is None:
        assert purpose == "action" and is_holiday(nominal)
        return
    assert not is_holiday(day)
    assert day == nominal or not is_day_off(day)
    assert (day <= nominal) if purpose == "action" else (day >= nominal)
    assert abs((day - nominal).days) <= 10


@given(st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2030, 12, 31)))
def test_the_daily_digest_covers_every_day_once(moment: datetime) -> None:
    """Consecutive digests tile the calendar: each starts the day after the previous one ended."""
    day = moment.date()
    due = daily_due(datetime.combine(day, datetime.min.time()).replace(hour=8, tzinfo=TZ), "07:00")
    if due is None:
        assert is_holiday(day)
        return
    first, last = due
    assert last == day - timedelta(days=1)
    previous = day - timedelta(days=1)
    while is_holiday(previous):
        previous -= timedelta(days=1)
    earlier = daily_due(datetime.combine(previous, datetime.min.time()).replace(hour=8, tzinfo=TZ), "07:00")
    assert earlier is not None and earlier[1] + timedelta(days=1) == first
