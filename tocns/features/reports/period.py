"""Report periods: weeks (Monday to Sunday), months and date ranges, read from Vietnamese or CLI input."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from tocns.core.text import fold


class PeriodError(ValueError):
    """A period the user typed that cannot be read; the message is Vietnamese and says why."""


@dataclass(frozen=True)
class Period:
    """An inclusive range of local dates with a Vietnamese label and the period it is compared with."""

    start: date
    end: date
    kind: str  # week, month, range

    @property
    def label(self) -> str:
        """A Vietnamese description, e.g. 'tuần 16/11/2026 - 22/11/2026'."""
        span = f"{self.start:%d/%m/%Y} - {self.end:%d/%m/%Y}"
        if self.kind == "week":
            return f"tuần {span}"
        if self.kind == "month":
            return f"tháng {self.start:%m/%Y}"
        return f"từ {self.start:%d/%m/%Y} đến {self.end:%d/%m/%Y}"

    @property
    def slug(self) -> str:
        """A file-name friendly form, e.g. '2026-W47', '2026-11' or '2026-11-01_2026-11-10'."""
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        return f"{self.start.isoformat()}_{self.end.isoformat()}"

    def previous(self) -> Period:
        """The period just before, of the same kind and length."""
        if self.kind == "week":
            return week_of(self.start - timedelta(days=7))
        if self.kind == "month":
            return month_of(self.start - timedelta(days=1))
        length = self.end - self.start
        end = self.start - timedelta(days=1)
        return Period(end - length, end, "range")


def week_of(day: date) -> Period:
    """The Monday-to-Sunday week containing `day`."""
    start = day - timedelta(days=day.weekday())
    return Period(start, start + timedelta(days=6), "week")


def month_of(day: date) -> Period:
    """The calendar month containing `day`."""
    start = day.replace(day=1)
    following = (start + timedelta(days=32)).replace(day=1)
    return Period(start, following - timedelta(days=1), "month")


MAX_RANGE_DAYS = 366
_DAY = r"(\d{1,2})[/.-](\d{1,2})(?:[/.-](\d{2,4}))?"
_RANGE = re.compile(rf"^{_DAY}\s*(?:-|–|->|den|\.\.)\s*{_DAY}$")
USAGE = "tuan, tuan truoc, thang, thang truoc hoặc khoảng ngày dd/mm-dd/mm (ví dụ 01/11-15/11)"


def _make_date(day: str, month: str, year: str | None, default_year: int) -> date:
    y = int(year) if year else default_year
    if year and len(year) == 2:
        y += 2000
    try:
        return date(y, int(month), int(day))
    except ValueError as exc:
        raise PeriodError(f"Ngày {day}/{month}{'/' + year if year else ''} không có thật.") from exc


def _checked_range(start: date, end: date) -> Period:
    if end < start:
        raise PeriodError(f"Ngày kết thúc {end:%d/%m/%Y} trước ngày bắt đầu {start:%d/%m/%Y}.")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise PeriodError(f"Khoảng ngày tối đa {MAX_RANGE_DAYS} ngày.")
    return Period(start, end, "range")


def parse_period(text: str, today: date) -> Period:
    """Read '/baocao' arguments: tuan, tuan truoc, thang, thang truoc or dd/mm-dd/mm (default: this week)."""
    key = fold(text)
    if key in ("", "tuan", "tuan nay", "week", "this week"):
        return week_of(today)
    if key in ("tuan truoc", "last week", "tuantruoc"):
        return week_of(today - timedelta(days=7))
    if key in ("thang", "thang nay", "month", "this month"):
        return month_of(today)
    if key in ("thang truoc", "last month", "thangtruoc"):
        return month_of(today.replace(day=1) - timedelta(days=1))
    match = _RANGE.match(key)
    if match:
        d1, m1, y1, d2, m2, y2 = match.groups()
        end = _make_date(d2, m2, y2, today.year)
        start = _make_date(d1, m1, y1, end.year)
        if start > end and not y1:
            start = _make_date(d1, m1, None, end.year - 1)
        return _checked_range(start, end)
    raise PeriodError(f"Không hiểu khoảng thời gian {text.strip()!r}. Dùng: {USAGE}.")


_ISO_WEEK = re.compile(r"^(\d{4})-W(\d{1,2})$", re.IGNORECASE)
_ISO_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


def parse_cli_period(text: str, today: date) -> Period:
    """Read the CLI form: tuan|thang|YYYY-Www|YYYY-MM|YYYY-MM-DD..YYYY-MM-DD, or any /baocao form."""
    text = text.strip()
    if m := _ISO_WEEK.match(text):
        try:
            return week_of(date.fromisocalendar(int(m[1]), int(m[2]), 1))
        except ValueError as exc:
            raise PeriodError(f"Tuần {text} không có thật.") from exc
    if m := _ISO_MONTH.match(text):
        if not 1 <= int(m[2]) <= 12:
            raise PeriodError(f"Tháng {text} không có thật.")
        return month_of(date(int(m[1]), int(m[2]), 1))
    if ".." in text and "-" in text.split("..")[0][4:5]:
        first, _, second = text.partition("..")
        try:
            return _checked_range(date.fromisoformat(first.strip()), date.fromisoformat(second.strip()))
        except ValueError as exc:
            raise PeriodError(f"Khoảng ngày {text!r} không hợp lệ; dạng YYYY-MM-DD..YYYY-MM-DD.") from exc
    return parse_period(text, today)
