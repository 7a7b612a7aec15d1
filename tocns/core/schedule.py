"""When a message the bot starts on its own goes out: the weekly slots and the one rule for public holidays.

The rule (docs/holidays.md): a message that asks people to act before a moment (the nudge to log, a deadline
reminder) moves to the last working day before the holiday, and is dropped when that day falls before its window
opens; a message that only informs (a summary, a digest, an overdue notice) moves to the first day after the
holiday, both landing on a working day. Weekends alone move nothing: the daily digest still goes on Saturday.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Literal

from tocns.core.dates import is_day_off, is_holiday

Purpose = Literal["action", "info"]
""""action": asks people to do something by a moment; "info": tells them what happened."""


def holiday_moved(nominal: date, purpose: Purpose, not_before: date | None = None) -> date | None:
    """The day a message nominally due on `nominal` goes out under the holiday rule, or None when it is dropped.

    A message on a public holiday moves to a working day: an action message back, but never before `not_before`
    (then it is dropped: its window opened during the holiday); an informative one forward.
    """
    if not is_holiday(nominal):
        return nominal
    day = nominal
    step = timedelta(days=-1 if purpose == "action" else 1)
    # Once moved, it lands on a working day: nobody reads a summary held back by Tết on the Sunday after.
    while is_day_off(day):
        day += step
    if not_before is not None and day < not_before:
        return None
    return day


def local_slot(at: str) -> time:
    """The local time of day of a job set for "HH:MM"."""
    hour, minute = (int(x) for x in at.split(":"))
    return time(hour, minute)


def weekly_due(local_now: datetime, weekday: int, at: str, purpose: Purpose) -> date | None:
    """The nominal day of a weekly message (this week's or last week's `weekday`) due at `local_now`, or None.

    The message is due on the day the holiday rule gives for its nominal day, from `at` local time. Last week's
    nominal day is looked at too: an informative message of a Monday inside Tết goes on the first working day,
    which may be in the next week.
    """
    today = local_now.date()
    if local_now.time() < local_slot(at):
        return None
    monday = today - timedelta(days=today.weekday())
    for nominal in (monday + timedelta(days=weekday), monday + timedelta(days=weekday - 7)):
        window = nominal - timedelta(days=nominal.weekday())  # an action message stays inside its own week
        if holiday_moved(nominal, purpose, not_before=window) == today:
            return nominal
    return None


def daily_due(local_now: datetime, at: str) -> tuple[date, date] | None:
    """The days (first, last) a daily informative message covers at `local_now`, or None when it is not due.

    Not sent on a public holiday; the first day after covers every day since the last one went out.
    """
    today = local_now.date()
    if is_holiday(today) or local_now.time() < local_slot(at):
        return None
    yesterday = today - timedelta(days=1)
    # The last message went out on the last day before today that was not a holiday, and covered the day before.
    first = yesterday
    while is_holiday(first):
        first -= timedelta(days=1)
    return first, yesterday
