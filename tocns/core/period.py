"""Report periods: weeks (Monday to Sunday), months and date ranges, read from Vietnamese or CLI input."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from tocns.core.dates import (
    ABSOLUTE_DATE,
    MAX_YEAR,
    MIN_YEAR,
    RELATIVE_WEEKS,
    DateError,
    YearOutOfRange,
    fmt_date,
    fmt_month,
    month_key,
    read_absolute,
    year_refusal,
)
from tocns.core.text import fold


class PeriodError(ValueError):
    """A period the user typed that cannot be read; the message is Vietnamese and says why."""


class PeriodNotUnderstood(PeriodError):
    """The text has no period shape at all (as opposed to a period that is refused: reversed, future, no such day)."""


@dataclass(frozen=True)
class Period:
    """An inclusive range of local dates with a Vietnamese label and the period it is compared with."""

    start: date
    end: date
    kind: str  # week, month, quarter, year, range

    @property
    def label(self) -> str:
        """A Vietnamese description, e.g. 'tuần 16/11/2026 - 22/11/2026'."""
        span = f"{fmt_date(self.start)} - {fmt_date(self.end)}"
        if self.kind == "week":
            return f"tuần {span}"
        if self.kind == "month":
            return f"tháng {fmt_month(self.start)}"
        if self.kind == "quarter":
            return f"quý {(self.start.month - 1) // 3 + 1}/{self.start.year}"
        if self.kind == "year":
            return f"năm {self.start.year}"
        return f"từ {fmt_date(self.start)} đến {fmt_date(self.end)}"

    @property
    def slug(self) -> str:
        """A file-name friendly form, e.g. '2026-W47', '2026-11' or '2026-11-01_2026-11-10'."""
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind == "month":
            return month_key(self.start)
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        if self.kind == "year":
            return f"{self.start.year}"
        return f"{self.start.isoformat()}_{self.end.isoformat()}"

    def previous(self) -> Period:
        """The period just before, of the same kind and length."""
        if self.kind == "week":
            return week_of(self.start - timedelta(days=7))
        if self.kind == "month":
            return month_of(self.start - timedelta(days=1))
        if self.kind == "quarter":
            return quarter_of(self.start - timedelta(days=1))
        if self.kind == "year":
            return year_of(self.start - timedelta(days=1))
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


def quarter_of(day: date) -> Period:
    """The calendar quarter containing `day` (quý 1 = January to March)."""
    first_month = (day.month - 1) // 3 * 3 + 1
    start = date(day.year, first_month, 1)
    end = month_of(date(day.year, first_month + 2, 1)).end
    return Period(start, end, "quarter")


def year_of(day: date) -> Period:
    """The calendar year containing `day`."""
    return Period(date(day.year, 1, 1), date(day.year, 12, 31), "year")


MAX_RANGE_DAYS = 366
# Year-less ranges that cross New Year ("28/12-03/01") are read across it only when that makes a short range.
MAX_WRAPPED_DAYS = 92
_DAY = r"[0-9]{1,2}[/.-][0-9]{1,2}(?:[/.-][0-9]{2,4})?"
_RANGE = re.compile(rf"^(?:tu\s+)?(?:ngay\s+)?({_DAY})\s*(?:->|-|–|den|toi|\.\.)\s*(?:ngay\s+)?({_DAY})$")
_ISO_RANGE = re.compile(r"^([0-9]{4}-[0-9]{1,2}-[0-9]{1,2})\s*\.\.\s*([0-9]{4}-[0-9]{1,2}-[0-9]{1,2})$")
_ISO_WEEK = re.compile(r"^([0-9]{4})-w([0-9]{1,2})$")
_ISO_MONTH = re.compile(r"^([0-9]{4})-([0-9]{1,2})$")
_MONTH = re.compile(r"^thang\s+([0-9]{1,2})(?:\s*[/-]\s*|\s+nam\s+|\s+)?([0-9]{4})?$")
_WEEK_NUMBER = re.compile(r"^tuan\s+([0-9]{1,2})(?:\s*[/-]\s*|\s+nam\s+|\s+)?([0-9]{4})?$")
# Years the grammar reads as a year period ("2026", "năm 2026"); a four-digit number outside is not one.
_YEAR = r"((?:19|20)[0-9]{2})"
_YEAR_WORDS = re.compile(rf"^(?:nam\s+)?{_YEAR}$")
_QUARTER = re.compile(rf"^(?:quy|q)\s*([0-9])(?:\s*[/-]\s*|\s+nam\s+|\s+)?{_YEAR}?$")
_ISO_QUARTER = re.compile(rf"^{_YEAR}\s*-\s*q([0-9])$")
USAGE = (
    "tuần này, tuần trước, tháng này, tháng trước, tháng 10, tháng 10/2026, quý 4, Q4/2026, năm nay, năm 2026, "
    "2026-W47, 2026-11, 01/11-15/11 hoặc 01/11/2026-15/11/2026"
)


def _year(year: int, text: str) -> int:
    """`year` when it is in the supported range (tocns.core.dates.MIN_YEAR..MAX_YEAR); else the shared refusal."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise PeriodError(year_refusal(year, text.strip()))
    return year


def _day(text: str, today: date, year: int | None = None) -> tuple[date, bool]:
    """A dd/mm[/yy(yy)] of a range and whether a year was typed.

    Without a year: `year` when given, else the shared date grammar's past reading (this year, or last year when
    that day is more than 180 days ahead).
    """
    try:
        anchor = today if year is None else date(year, 1, 1)
        value = read_absolute(text, anchor, "past" if year is None else None)
    except YearOutOfRange as exc:
        raise PeriodError(str(exc)) from exc
    except DateError as exc:
        raise PeriodError(f"Ngày '{text}' không có thật. Dùng: {USAGE}.") from exc
    if value is None:
        raise PeriodError(f"Không hiểu ngày '{text}'. Dùng: {USAGE}.")
    match = ABSOLUTE_DATE.match(text)
    return value, bool(match and match.group(4))


def _checked(period: Period, today: date) -> Period:
    """Refuse a reversed, too long or future period with the same Vietnamese reason for chat, CLI and API."""
    if period.end < period.start:
        raise PeriodError(
            f"Khoảng ngày bị ngược: ngày kết thúc {fmt_date(period.end)} trước ngày bắt đầu {fmt_date(period.start)}. "
            "Viết ngày bắt đầu trước, ví dụ 01/11-15/11."
        )
    if (period.end - period.start).days + 1 > MAX_RANGE_DAYS:
        raise PeriodError(f"Khoảng ngày tối đa {MAX_RANGE_DAYS} ngày.")
    if period.start > today:
        raise PeriodError(f"Kỳ {period.label} chưa bắt đầu; hôm nay là {fmt_date(today)}.")
    return period


def _range(first: str, second: str, today: date) -> Period:
    end, end_year = _day(second, today)
    start, start_year = _day(first, today, end.year)
    if start_year and not end_year:
        end, _ = _day(second, today, start.year)
    if not start_year and start > end and start.month > end.month:
        # "28/12-03/01": across New Year, when that makes a short range; otherwise it is a reversed range.
        wrapped = _day(first, today, end.year - 1)[0]
        if (end - wrapped).days + 1 <= MAX_WRAPPED_DAYS:
            start = wrapped
    return Period(start, end, "range")


def _latest_month(month: int, today: date) -> date:
    """The first day of month `month` read like a year-less day: this year unless more than 180 days ahead."""
    first = date(today.year, month, 1)
    return first if (first - today).days <= 180 else date(today.year - 1, month, 1)


def parse_period(text: str, today: date) -> Period:
    """Read a period as typed in chat, on the CLI or in the API (default: this week); refuse what is not one.

    Forms: tuần này/trước, tháng này/trước, tháng 10, tháng 10/2026, quý 4, Q4/2026, 2026-Q4, quý này/trước,
    năm nay/trước, năm 2026, 2026, 2026-W47, 2026-11, dd/mm-dd/mm,
    dd/mm/yyyy-dd/mm/yyyy, YYYY-MM-DD..YYYY-MM-DD. A reversed, over-long or not yet started period is refused.
    """
    key = fold(text).strip(" .")
    # The readers in the grammar's order of precedence: the first that reads the key wins.
    for reader in (_relative_period, _year_or_quarter, _week_period, _month_period, _iso_range, _typed_range):
        period = reader(key, text, today)
        if period is not None:
            return _checked(period, today)
    raise PeriodNotUnderstood(f"Không hiểu khoảng thời gian '{text.strip()}'. Dùng: {USAGE}.")


def _relative_period(key: str, text: str, today: date) -> Period | None:
    """This or last week or month (tuần này, tuần trước, tháng này, tháng trước, every relative week), else None."""
    if key in ("", "tuan", "tuan nay", "week", "this week", "tuannay"):
        return week_of(today)
    if tuple(key.split()) in RELATIVE_WEEKS:  # every spelling of a relative week, as the date grammar reads it
        return week_of(today + timedelta(days=7 * RELATIVE_WEEKS[tuple(key.split())]))
    if key in ("tuan truoc", "tuan roi", "last week", "tuantruoc"):
        return week_of(today - timedelta(days=7))
    if key in ("thang", "thang nay", "month", "this month", "thangnay"):
        return month_of(today)
    if key in ("thang truoc", "thang roi", "last month", "thangtruoc"):
        return month_of(today.replace(day=1) - timedelta(days=1))
    return None


def _week_period(key: str, text: str, today: date) -> Period | None:
    """A numbered week (2026-W47, tuần 47, tuần 47/2026), else None; a week number without a year is this year's,
    or last year's when this year's is more than 180 days ahead."""
    if m := _ISO_WEEK.match(key):
        iso_year, number, typed_year = _year(int(m[1]), text), int(m[2]), True
    elif m := _WEEK_NUMBER.match(key):
        iso_year = _year(int(m[2]), text) if m[2] else today.isocalendar()[0]
        number, typed_year = int(m[1]), bool(m[2])
    else:
        return None
    try:
        week = week_of(date.fromisocalendar(iso_year, number, 1))
    except ValueError as exc:
        raise PeriodError(f"Tuần '{text.strip()}' không có thật. Dùng: {USAGE}.") from exc
    if not typed_year and (week.start - today).days > 180:
        week = week_of(date.fromisocalendar(iso_year - 1, number, 1))
    return week


def _month_period(key: str, text: str, today: date) -> Period | None:
    """A month (2026-11, tháng 11, tháng 11/2026), else None; without a year the latest such month."""
    if (m := _ISO_MONTH.match(key)) or (m := _MONTH.match(key)):
        typed_year, month = (m[1], int(m[2])) if m.re is _ISO_MONTH else (m[2], int(m[1]))
        month_year = _year(int(typed_year), text) if typed_year else None
        if not 1 <= month <= 12:
            raise PeriodError(f"Tháng '{text.strip()}' không có thật. Dùng: {USAGE}.")
        return month_of(date(month_year, month, 1) if month_year is not None else _latest_month(month, today))
    return None


def _iso_range(key: str, text: str, today: date) -> Period | None:
    """A range of ISO days (YYYY-MM-DD..YYYY-MM-DD), else None."""
    if m := _ISO_RANGE.match(key):
        _year(int(m[1][:4]), text)
        _year(int(m[2][:4]), text)
        try:
            start, end = date.fromisoformat(_iso(m[1])), date.fromisoformat(_iso(m[2]))
        except ValueError as exc:
            raise PeriodError(f"Khoảng ngày '{text.strip()}' không có thật; dạng YYYY-MM-DD..YYYY-MM-DD.") from exc
        return Period(start, end, "range")
    return None


def _typed_range(key: str, text: str, today: date) -> Period | None:
    """A range of days as people type it (dd/mm-dd/mm, từ ngày dd/mm đến dd/mm/yyyy), else None."""
    m = _RANGE.match(key)
    return _range(m[1], m[2], today) if m else None


def _year_or_quarter(key: str, text: str, today: date) -> Period | None:
    """A year (năm nay/trước, năm 2026, 2026) or a quarter (quý này/trước, quý 4, Q4/2026, 2026-Q4), else None.

    A quarter without a year is this year's, or last year's when this year's has not started.
    """
    if key in ("nam", "nam nay", "this year", "namnay"):
        return year_of(today)
    if key in ("nam truoc", "nam ngoai", "nam roi", "last year"):
        return year_of(date(today.year - 1, 1, 1))
    if key in ("quy", "quy nay", "this quarter"):
        return quarter_of(today)
    if key in ("quy truoc", "quy roi", "last quarter"):
        return quarter_of(quarter_of(today).start - timedelta(days=1))
    if m := _YEAR_WORDS.match(key):
        return year_of(date(int(m[1]), 1, 1))
    m = _QUARTER.match(key) or _ISO_QUARTER.match(key)
    if m is None:
        return None
    number, year = (int(m[2]), int(m[1])) if m.re is _ISO_QUARTER else (int(m[1]), int(m[2]) if m[2] else 0)
    if not 1 <= number <= 4:
        raise PeriodError(f"Quý '{text.strip()}' không có thật (quý 1 đến quý 4). Dùng: {USAGE}.")
    if year:
        return quarter_of(date(year, number * 3, 1))
    quarter = quarter_of(date(today.year, number * 3, 1))
    return quarter if quarter.start <= today else quarter_of(date(today.year - 1, number * 3, 1))


def _iso(text: str) -> str:
    year, month, day = text.split("-")
    return f"{year}-{int(month):02d}-{int(day):02d}"


# The CLI and the API read exactly the same grammar as the chat.
parse_cli_period = parse_period
