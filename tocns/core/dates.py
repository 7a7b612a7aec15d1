"""Pure date helpers: the one date grammar every command reads days with, the one set of date formatters,
Vietnamese holidays, quiet hours."""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Literal

import holidays

from tocns.core.text import fold

# Weekday words after "thứ": Monday is "thứ 2"/"thứ hai"; Sunday is "chủ nhật"/"cn".
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
# dd/mm, dd-mm, dd.mm with an optional year of 2 or 4 digits, the same separator throughout.
ABSOLUTE_DATE = re.compile(r"^([0-9]{1,2})([/.-])([0-9]{1,2})(?:\2([0-9]{4}|[0-9]{2}))?$")
# A word like t6 / th6 for a weekday.
_SHORT_WEEKDAY = re.compile(r"^th?([2-7])$")
# Relative day phrases (folded words) -> days after today.
RELATIVE_DAYS: dict[tuple[str, ...], int] = {
    ("hom", "nay"): 0,
    ("bua", "nay"): 0,
    ("sang", "nay"): 0,
    ("trua", "nay"): 0,
    ("chieu", "nay"): 0,
    ("toi", "nay"): 0,
    ("hom", "qua"): -1,
    ("bua", "qua"): -1,
    ("hom", "truoc"): -1,
    ("bua", "truoc"): -1,
    ("sang", "qua"): -1,
    ("trua", "qua"): -1,
    ("chieu", "qua"): -1,
    ("toi", "qua"): -1,
    ("dem", "qua"): -1,
    ("hom", "kia"): -2,
    ("bua", "kia"): -2,
    ("hqua",): -1,
    ("homqua",): -1,
    ("hnay",): 0,
    ("homnay",): 0,
    ("hkia",): -2,
    ("homkia",): -2,
    ("ngay", "mai"): 1,
    ("sang", "mai"): 1,
    ("chieu", "mai"): 1,
    ("toi", "mai"): 1,
    ("ngay", "kia"): 2,
    ("ngay", "mot"): 2,
}
# Relative weeks (folded words) -> weeks after this week. Every spelling is read alike: in a command that needs a
# day a week is refused ("không phải một ngày"); after a weekday it says which week ("thứ 6 tuần trước nữa"); the
# period grammar (tocns/core/period.py) reads it as that week.
RELATIVE_WEEKS: dict[tuple[str, ...], int] = {
    ("tuan", "nay"): 0,
    ("tuan", "nay", "nua"): 0,
    ("tuan", "truoc"): -1,
    ("tuan", "roi"): -1,
    ("tuan", "qua"): -1,
    ("tuan", "vua", "qua"): -1,
    ("tuan", "vua", "roi"): -1,
    ("tuan", "truoc", "nua"): -2,
    ("tuan", "sau"): 1,
    ("tuan", "toi"): 1,
    ("tuan", "sau", "nua"): 2,
}
# Spans that are not one day: in a command that needs a day they are refused, never dropped.
NOT_A_DAY: dict[tuple[str, ...], str] = {
    ("tuan", "nay"): "tuần này",
    ("tuan", "nay", "nua"): "tuần này nữa",
    ("tuan", "truoc"): "tuần trước",
    ("tuan", "roi"): "tuần rồi",
    ("tuan", "qua"): "tuần qua",
    ("tuan", "vua", "qua"): "tuần vừa qua",
    ("tuan", "vua", "roi"): "tuần vừa rồi",
    ("tuan", "truoc", "nua"): "tuần trước nữa",
    ("tuan", "sau"): "tuần sau",
    ("tuan", "toi"): "tuần tới",
    ("tuan", "sau", "nua"): "tuần sau nữa",
    ("thang", "nay"): "tháng này",
    ("thang", "truoc"): "tháng trước",
    ("thang", "roi"): "tháng rồi",
    ("thang", "qua"): "tháng qua",
    ("thang", "vua", "qua"): "tháng vừa qua",
    ("thang", "sau"): "tháng sau",
    ("cuoi", "tuan"): "cuối tuần",
    ("dau", "tuan"): "đầu tuần",
    ("giua", "tuan"): "giữa tuần",
}
# Weekday qualifiers: which week the weekday is in, relative to this week.
_WEEK_SHIFT = RELATIVE_WEEKS
# "hôm"/"bữa" followed by a word we do not know is a date we did not understand ("hôm nọ", "hôm bữa").
_VAGUE_HEADS = ("hom", "bua")

DATE_FORMS = (
    "Ngày viết dạng 20/11, 20/11/2026, 20-11, 20.11 hoặc 'ngày 20 tháng 11', 'mùng 3' (có hoặc không có chữ "
    "'ngày'), 'hôm nay', 'hôm qua', 'hôm kia', hoặc thứ trong tuần: 'thứ 6', 'hôm thứ 5', 't6', 'chủ nhật', "
    "'thứ 6 tuần trước'."
)
DEADLINE_HELP = "Hạn viết dạng dd/mm, dd/mm/yyyy, 'cuối tháng', 'thứ 6' hoặc 'thứ sáu tuần sau'."

Direction = Literal["past", "future"]
FUTURE_WINDOW_DAYS = 183
"""How far ahead a day-month without a year may point (about six months)."""

# The one supported year range (docs/security.md, "Input limits"): every typed date, month, week or period outside
# it is refused with YEAR_RANGE_REASON, in chat, on the CLI and in the API. Python's dates end at year 9999, and a
# period at either end overflows when the report computes the period before it; no team records outside this range.
MIN_YEAR = 2000
MAX_YEAR = 2100


class DateError(ValueError):
    """A typed date that cannot be read; the message is Vietnamese, quotes the words and shows the right form."""


class YearOutOfRange(DateError):
    """A typed year outside MIN_YEAR..MAX_YEAR; the message is year_refusal's."""


# Tasks read deadlines with the same grammar; the old name stays for their callers.
DeadlineError = DateError


@dataclass(frozen=True)
class DateHit:
    """A date read from `size` words starting at some index; `typed` is the folded words as written."""

    value: date
    size: int
    typed: str


def year_refusal(year: int, typed: str) -> str:
    """The one Vietnamese reason for a year outside MIN_YEAR..MAX_YEAR, quoting what was typed."""
    return f"Năm {year} trong '{typed}' nằm ngoài khoảng bot hỗ trợ: chỉ nhận năm từ {MIN_YEAR} đến {MAX_YEAR}."


def check_year(year: int, typed: str) -> None:
    """Refuse (DateError) a year outside the supported range MIN_YEAR..MAX_YEAR."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise YearOutOfRange(year_refusal(year, typed))


def fmt_date(day: date) -> str:
    """A date as dd/mm/yyyy."""
    # strftime's "%d/%m/%Y" by hand: a tenth of its cost, and a report's raw rows write two dates each (100,000s).
    return f"{day.day:02}/{day.month:02}/{day.year}"


def weekday_name(day: date) -> str:
    """The Vietnamese name of a date's weekday ("Thứ Sáu", "Chủ Nhật")."""
    return WEEKDAY_NAMES[day.weekday()]


def day_label(day: date) -> str:
    """A date with its weekday, as receipts show it: "22/11/2026 (Chủ Nhật)"."""
    return f"{fmt_date(day)} ({weekday_name(day)})"


def fmt_time(moment: datetime, tz: tzinfo) -> str:
    """A moment in local time as "HH:MM dd/mm/yyyy"."""
    return moment.astimezone(tz).strftime("%H:%M %d/%m/%Y")


def fmt_cell_time(local: datetime) -> str:
    """A local moment as a spreadsheet cell, date first so a column sorts by day: "dd/mm/yyyy HH:MM"."""
    return f"{fmt_date(local)} {local.hour:02}:{local.minute:02}"  # strftime's "%d/%m/%Y %H:%M", as fmt_date


def fmt_month(day: date) -> str:
    """The month of `day` as people write it: "mm/yyyy"."""
    return day.strftime("%m/%Y")


def month_key(day: date) -> str:
    """The month of `day` as a sortable key and file-name part: "yyyy-mm"."""
    return day.strftime("%Y-%m")


def fmt_duration(seconds: float) -> str:
    """A duration as people say it, rounded up: "45 giây", "12 phút", "1 giờ 5 phút"."""
    if seconds < 60:
        return f"{max(1, math.ceil(seconds))} giây"
    minutes = math.ceil(seconds / 60)
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{minutes} phút"
    return f"{hours} giờ" + (f" {rest} phút" if rest else "")


def end_of_month(day: date) -> date:
    """The last day of the month of `day`."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def make_date(year: int, month: int, day: int, typed: str) -> date:
    """A real calendar date within the supported years, or DateError quoting what was typed."""
    check_year(year, typed)
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise DateError(f"Ngày '{typed}' không có thật. {DATE_FORMS}") from exc


def read_absolute(text: str, today: date, direction: Direction | None = None) -> date | None:
    """Read dd/mm, dd/mm/yy(yy), dd-mm, dd.mm; None when `text` has another shape, DateError when no such day.

    Without a year: in the past direction a day more than 180 days ahead means last year ("31/12" typed in
    January); in the future direction it is the next such day within FUTURE_WINDOW_DAYS ("15/01" typed in
    December), and a day further away, or just past, is refused naming the date it would be; with no direction,
    this year.
    """
    match = ABSOLUTE_DATE.match(text.strip())
    if not match:
        return None
    day, month, year_text = int(match.group(1)), int(match.group(3)), match.group(4)
    if year_text:
        year = int(year_text) + (2000 if len(year_text) == 2 else 0)
        return make_date(year, month, day, text.strip())
    value = make_date(today.year, month, day, text.strip())
    if direction == "past" and (value - today).days > 180:
        value = make_date(today.year - 1, month, day, text.strip())
    elif direction == "future":
        typed = text.strip()
        if value < today:
            following = make_date(today.year + 1, month, day, typed)
            if (following - today).days > FUTURE_WINDOW_DAYS:
                # A day that has just passed is a slip, not next year's: say which date would be meant.
                raise DateError(f"{typed} đã qua; ý bạn là {fmt_date(following)}? Nếu đúng, hãy ghi cả năm.")
            value = following
        elif (value - today).days > FUTURE_WINDOW_DAYS:
            raise DateError(f"{typed} còn hơn 6 tháng nữa ({fmt_date(value)}); nếu đúng, hãy ghi cả năm.")
    return value


def _weekday_at(words: Sequence[str], i: int) -> tuple[int, int] | None:
    """(weekday, words used) for 'thứ 6', 'thứ sáu', 't6', 'cn', 'chủ nhật' at `i`; DateError for 'thứ 9'."""
    word = words[i]
    nxt = words[i + 1] if i + 1 < len(words) else ""
    if word == "cn":
        return 6, 1
    if word == "chu" and nxt == "nhat":
        return 6, 2
    if short := _SHORT_WEEKDAY.match(word):
        return int(short.group(1)) - 2, 1
    if word in ("t", "th") and len(nxt) == 1 and "2" <= nxt <= "7":
        return int(nxt) - 2, 2  # "t6" split by a tokenizer into "t" and "6"
    if word == "thu" and nxt in _WEEKDAYS:
        return _WEEKDAYS[nxt], 2
    if word == "thu" and nxt.isdigit():
        raise DateError(f"Không có 'thứ {nxt}'. {DATE_FORMS}")
    return None


def match_date(words: Sequence[str], i: int, today: date, direction: Direction) -> DateHit | None:
    """Read one date expression from folded words at index `i`, or None when the words there are not a date.

    `direction` says which way a weekday or a year-less day points: "past" for records (the latest such day
    not after today), "future" for deadlines (the next such day from today). The caller decides whether a
    future (or past) day is acceptable. A date-looking phrase that names no single day raises DateError.
    """
    if i >= len(words):
        return None
    # The readers in the grammar's order of precedence: the first that reads the words wins.
    for reader in (_spelled_day, _prefixed_day, _absolute_day, _relative_day, _weekday_day):
        hit = reader(words, i, today, direction)
        if hit is not None:
            return hit
    _refuse_not_a_day(words, i, today)
    return None


def _prefixed_day(words: Sequence[str], i: int, today: date, direction: Direction) -> DateHit | None:
    """A day after "ngày" ("ngày 20/11", "ngày hôm qua", "ngày thứ 6") or after "hôm"/"bữa" ("hôm thứ 5")."""
    word = words[i]
    if word == "ngay" and i + 1 < len(words):
        nxt = words[i + 1]
        if ABSOLUTE_DATE.match(nxt):
            value = read_absolute(nxt, today, direction)
            assert value is not None
            return DateHit(value, 2, f"ngay {nxt}")
        if nxt.isdigit():
            raise DateError(f"'ngày {nxt}' thiếu tháng. {DATE_FORMS}")
        if tuple(words[i + 1 : i + 3]) in RELATIVE_DAYS or _weekday_at(words, i + 1) is not None:
            # "ngày hôm qua", "ngày thứ 6": read what follows and count the "ngày".
            inner = match_date(words, i + 1, today, direction)
            if inner is not None:
                return DateHit(inner.value, inner.size + 1, f"ngay {inner.typed}")
    if word in _VAGUE_HEADS and i + 1 < len(words) and _weekday_at(words, i + 1) is not None:
        # "hôm thứ 5", "bữa chủ nhật": the weekday, the "hôm" counted with it.
        inner = match_date(words, i + 1, today, direction)
        if inner is not None:
            return DateHit(inner.value, inner.size + 1, f"{word} {inner.typed}")
    return None


def _absolute_day(words: Sequence[str], i: int, today: date, direction: Direction) -> DateHit | None:
    """A day written with digits in one word: "20/11", "20-11-2026", "20.11"."""
    value = read_absolute(words[i], today, direction)
    return DateHit(value, 1, words[i]) if value is not None else None


def _relative_day(words: Sequence[str], i: int, today: date, direction: Direction) -> DateHit | None:
    """A day counted from today ("hôm qua", "hqua", "2 ngày trước") or the end of this month ("cuối tháng")."""
    word = words[i]
    two = tuple(words[i : i + 2])
    if (
        _ONE_OR_TWO_DIGITS.fullmatch(word)
        and 1 <= int(word) <= 60
        and tuple(words[i + 1 : i + 3]) in (("ngay", "truoc"), ("hom", "truoc"))
    ):
        return DateHit(today - timedelta(days=int(word)), 3, " ".join(words[i : i + 3]))  # "2 ngày trước"
    if len(two) == 2 and two in RELATIVE_DAYS:
        return DateHit(today + timedelta(days=RELATIVE_DAYS[two]), 2, " ".join(two))
    if (word,) in RELATIVE_DAYS:
        return DateHit(today + timedelta(days=RELATIVE_DAYS[(word,)]), 1, word)  # "hqua", "hnay"
    if two == ("cuoi", "thang"):
        return DateHit(end_of_month(today), 2, "cuoi thang")
    return None


def _weekday_day(words: Sequence[str], i: int, today: date, direction: Direction) -> DateHit | None:
    """A weekday ("thứ 6", "t6", "chủ nhật"), in the week a qualifier names ("tuần trước") or the nearest one."""
    weekday = _weekday_at(words, i)
    if weekday is None:
        return None
    day, used = weekday
    after = i + used
    monday = today - timedelta(days=today.weekday())
    shift = _longest(words, after, _WEEK_SHIFT)
    if shift:
        value = monday + timedelta(days=7 * _WEEK_SHIFT[tuple(words[after : after + shift])] + day)
        used += shift
    elif direction == "past":
        value = today - timedelta(days=(today.weekday() - day) % 7)
    else:
        value = today + timedelta(days=(day - today.weekday()) % 7)
    return DateHit(value, used, " ".join(words[i : i + used]))


def _refuse_not_a_day(words: Sequence[str], i: int, today: date) -> None:
    """Refuse (DateError) a span that is not one day ("tuần trước") or a "hôm"/"bữa" we do not know ("hôm nọ")."""
    span = _longest(words, i, NOT_A_DAY)
    if span:
        raise DateError(
            f"'{NOT_A_DAY[tuple(words[i : i + span])]}' không phải một ngày. Hãy ghi ngày cụ thể, ví dụ "
            f"'thứ 6 tuần trước' hoặc '{fmt_date(today - timedelta(days=7))[:5]}'. {DATE_FORMS}"
        )
    two = tuple(words[i : i + 2])
    if words[i] in _VAGUE_HEADS and len(two) == 2 and two[1].isalpha():
        raise DateError(f"Chưa rõ '{' '.join(two)}' là ngày nào. {DATE_FORMS}")


def _longest(words: Sequence[str], i: int, table: Mapping[tuple[str, ...], object]) -> int:
    """How many words at `i` make the longest key of `table` (0 when none)."""
    for size in (3, 2, 1):
        if i + size <= len(words) and tuple(words[i : i + size]) in table:
            return size
    return 0


_ONE_OR_TWO_DIGITS = re.compile(r"[0-9]{1,2}")


def _small(word: str, low: int, high: int) -> int | None:
    return int(word) if _ONE_OR_TWO_DIGITS.fullmatch(word) and low <= int(word) <= high else None


def _spelled_day(words: Sequence[str], i: int, today: date, direction: Direction) -> DateHit | None:
    """A day spelled in words: "ngày 3 tháng 12 [năm 2026]", "3 tháng 12", "mùng 3 [tháng 12]", "mồng 3".

    "mùng D" without a month is day D of this month (of the next month for a deadline already past); a record
    refuses it when that day has not come yet. "ngày D" alone still lacks its month (refused by the caller).
    """
    parts = _spelled_parts(words, i)
    if parts is None:
        return None
    day, month, year, j = parts
    typed = " ".join(words[i:j])
    return DateHit(_spelled_value(day, month, year, typed, today, direction), j - i, typed)


def _spelled_head(words: Sequence[str], i: int) -> tuple[str, int]:
    """The word before a spelled day ("ngày", "mùng", "hôm mùng"...) and the index of the day after it."""
    head = words[i] if i < len(words) else ""
    j = i
    if head in ("ngay", "mung", "mong", "hom", "bua"):
        j += 1
        if head in ("hom", "bua") and j < len(words) and words[j] in ("mung", "mong"):
            head, j = words[j], j + 1
    return head, j


def _spelled_parts(words: Sequence[str], i: int) -> tuple[int, int | None, int | None, int] | None:
    """(day, month, year, index after them) of a spelled day at `i`, or None when the words there are not one."""
    head, j = _spelled_head(words, i)
    day = _small(words[j], 1, 31) if j < len(words) else None
    if day is None:
        return None
    j += 1
    month: int | None = None
    if j + 1 < len(words) and words[j] == "thang" and re.fullmatch(r"[0-9]+", words[j + 1]):
        month = _small(words[j + 1], 1, 12)
        if month is None:
            raise DateError(f"Không có 'tháng {words[j + 1]}'. {DATE_FORMS}")
        j += 2
    elif head not in ("mung", "mong"):
        return None  # "ngày 20" alone: refused below as lacking a month; "3 người": not a date
    year: int | None = None
    if month is not None and j + 1 < len(words) and words[j] == "nam" and re.fullmatch(r"[0-9]{4}", words[j + 1]):
        year = int(words[j + 1])
        j += 2
    return day, month, year, j


def _spelled_value(
    day: int, month: int | None, year: int | None, typed: str, today: date, direction: Direction
) -> date:
    """The date a spelled day names: without a month this month's (next month's for a deadline already past);
    without a year the nearest one the direction points to."""
    if month is None:
        value = make_date(today.year, today.month, day, typed)
        if direction == "future" and value < today:
            following = end_of_month(today) + timedelta(days=1)
            value = make_date(following.year, following.month, day, typed)
        return value
    if year is not None:
        return make_date(year, month, day, typed)
    value = make_date(today.year, month, day, typed)
    if direction == "past" and (value - today).days > 180:
        value = make_date(today.year - 1, month, day, typed)
    elif direction == "future" and value < today:
        value = make_date(today.year + 1, month, day, typed)
    return value


def parse_deadline(text: str, today: date) -> tuple[date, str]:
    """Read a deadline at the start of `text` with the shared date grammar; return it and the rest of the text.

    A dd/mm without a year that is already past means next year (typed in December for January).
    A weekday means its next occurrence from today; "tuần sau" means that weekday of next week.
    """
    words = text.split()
    if not words:
        raise DateError(f"Thiếu hạn. {DEADLINE_HELP}")
    folded = [fold(w).rstrip(",.;:") for w in words]
    try:
        hit = match_date(folded, 0, today, "future")
    except DateError as exc:
        raise DateError(f"{exc} {DEADLINE_HELP}") from exc
    if hit is None:
        raise DateError(f"Không đọc được hạn {words[0]!r}. {DEADLINE_HELP}")
    if hit.value < today:
        raise DateError(f"Hạn {fmt_date(hit.value)} đã qua. Hãy chọn một ngày từ hôm nay ({fmt_date(today)}).")
    return hit.value, " ".join(words[hit.size :])


def parse_month(text: str, today: date) -> date:
    """Read `mm/yyyy` (or `mm`) as the first day of that month."""
    match = re.fullmatch(r"(\d{1,2})(?:/(\d{4}))?", text.strip())
    if not match or not 1 <= int(match.group(1)) <= 12:
        raise DateError(f"Không đọc được tháng {text.strip()!r}. Viết dạng mm/yyyy, ví dụ 12/2026.")
    year = int(match.group(2)) if match.group(2) else today.year
    check_year(year, text.strip())
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


def warm_holidays(today: date) -> None:
    """Build this year's and next year's holiday tables now (0.3-1 s of CPU), not inside the first busy tick."""
    for year in (today.year, today.year + 1):
        _vn_holidays(year)
        _vn_holidays_vi(year)


def is_day_off(day: date) -> bool:
    """Whether nobody works on `day`: a Saturday, a Sunday or a public holiday."""
    return day.weekday() >= 5 or is_holiday(day)


def previous_working_day(day: date, is_off: Callable[[date], bool] = is_day_off) -> date:
    """`day` itself, or the last day before it that is not a day off."""
    while is_off(day):
        day -= timedelta(days=1)
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
