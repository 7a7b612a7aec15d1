"""Pure date helpers: the one set of date formatters, reading a typed deadline, Vietnamese holidays, quiet hours."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta, tzinfo
from functools import lru_cache

import holidays

from tocns.core.text import fold

_WEEKDAYS: dict[str, int] = {
    "2": 0,
    "hai": 0,
    "3": 1,
    "ba": 1,
    "4": 2,
    "tu": 2,
    "5": 3,
    "nam": 3,
    "6": 4,
    "sau": 4,
    "7": 5,
    "bay": 5,
}
WEEKDAY_NAMES = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")
"""The one weekday table: Monday first, as Python's date.weekday() counts."""
_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})(?:/(\d{4}))?$")

DEADLINE_HELP = "Hạn viết dạng dd/mm, dd/mm/yyyy, 'cuối tháng', 'thứ 6' hoặc 'thứ sáu tuần sau'."


class DeadlineError(ValueError):
    """The typed deadline cannot be read; the message is Vietnamese and shown to the user."""


def fmt_date(day: date) -> str:
    """A date as dd/mm/yyyy."""
    return day.strftime("%d/%m/%Y")


def weekday_name(day: date) -> str:
    """The Vietnamese name of a date's weekday ("Thứ Sáu", "Chủ Nhật")."""
    return WEEKDAY_NAMES[day.weekday()]


def day_label(day: date) -> str:
    """A date with its weekday, as receipts show it: "22/11/2026 (Chủ Nhật)"."""
    return f"{fmt_date(day)} ({weekday_name(day)})"


def fmt_time(moment: datetime, tz: tzinfo) -> str:
    """A moment in local time as "HH:MM dd/mm/yyyy"."""
    return moment.astimezone(tz).strftime("%H:%M %d/%m/%Y")


def end_of_month(day: date) -> date:
    """The last day of the month of `day`."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _make_date(year: int, month: int, day: int, typed: str) -> date:
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise DeadlineError(f"Ngày {typed!r} không có thật. {DEADLINE_HELP}") from exc


def parse_deadline(text: str, today: date) -> tuple[date, str]:
    """Read a deadline at the start of `text`; return it and the rest of the text.

    A dd/mm without a year that is already past means next year (typed in December for January).
    A weekday means its next occurrence from today; "tuần sau" means that weekday of next week.
    """
    words = text.split()
    if not words:
        raise DeadlineError(f"Thiếu hạn. {DEADLINE_HELP}")
    first = words[0]
    match = _DATE.match(first)
    if match:
        day, month = int(match.group(1)), int(match.group(2))
        if match.group(3):
            due = _make_date(int(match.group(3)), month, day, first)
        else:
            due = _make_date(today.year, month, day, first)
            if due < today:
                due = _make_date(today.year + 1, month, day, first)
        if due < today:
            raise DeadlineError(f"Hạn {fmt_date(due)} đã qua. Hãy chọn một ngày từ hôm nay ({fmt_date(today)}).")
        return due, " ".join(words[1:])
    folded = [fold(w) for w in words]
    if folded[:2] == ["cuoi", "thang"]:
        return end_of_month(today), " ".join(words[2:])
    weekday: int | None = None
    used = 0
    if folded[0] in ("cn", "chu") and (folded[0] == "cn" or folded[1:2] == ["nhat"]):
        weekday, used = 6, 1 if folded[0] == "cn" else 2
    elif re.fullmatch(r"t[2-7]", folded[0]):
        weekday, used = int(folded[0][1]) - 2, 1
    elif folded[0] == "thu" and len(folded) > 1 and folded[1] in _WEEKDAYS:
        weekday, used = _WEEKDAYS[folded[1]], 2
    if weekday is None:
        raise DeadlineError(f"Không đọc được hạn {first!r}. {DEADLINE_HELP}")
    if folded[used : used + 2] == ["tuan", "sau"]:
        monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
        return monday + timedelta(days=weekday), " ".join(words[used + 2 :])
    due = today + timedelta(days=(weekday - today.weekday()) % 7)
    return due, " ".join(words[used:])


def parse_month(text: str, today: date) -> date:
    """Read `mm/yyyy` (or `mm`) as the first day of that month."""
    match = re.fullmatch(r"(\d{1,2})(?:/(\d{4}))?", text.strip())
    if not match or not 1 <= int(match.group(1)) <= 12:
        raise DeadlineError(f"Không đọc được tháng {text.strip()!r}. Viết dạng mm/yyyy, ví dụ 12/2026.")
    year = int(match.group(2)) if match.group(2) else today.year
    return date(year, int(match.group(1)), 1)


@lru_cache(maxsize=16)
def _vn_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("VN", years=[year, year + 1])


def is_holiday(day: date) -> bool:
    """Whether a date is a Vietnamese public holiday (lunar new year included)."""
    return day in _vn_holidays(day.year)


def holiday_name(day: date) -> str | None:
    """The Vietnamese name of the public holiday on `day`, or None."""
    return _vn_holidays_vi(day.year).get(day)


@lru_cache(maxsize=16)
def _vn_holidays_vi(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("VN", years=[year], language="vi")


def is_day_off(day: date) -> bool:
    """Whether nobody works on `day`: a Saturday, a Sunday or a public holiday."""
    return day.weekday() >= 5 or is_holiday(day)


def previous_working_day(day: date, is_off: Callable[[date], bool] = is_day_off) -> date:
    """`day` itself, or the last day before it that is not a day off."""
    while is_off(day):
        day -= timedelta(days=1)
    return day


def next_working_day(day: date) -> date:
    """`day` itself, or the first day after it that is not a public holiday."""
    while is_holiday(day):
        day += timedelta(days=1)
    return day


def in_quiet_hours(local: datetime, start_hour: int, end_hour: int) -> bool:
    """Whether a local time falls in the nightly quiet period (start to end, across midnight)."""
    if start_hour == end_hour:
        return False
    if start_hour > end_hour:
        return local.hour >= start_hour or local.hour < end_hour
    return start_hour <= local.hour < end_hour


def quiet_hours_end(local: datetime, start_hour: int, end_hour: int) -> datetime | None:
    """When the quiet period around `local` ends (same time zone), or None when `local` is not in it."""
    if not in_quiet_hours(local, start_hour, end_hour):
        return None
    end = local.replace(hour=end_hour, minute=0, second=0, microsecond=0)
    return end if end > local else end + timedelta(days=1)
