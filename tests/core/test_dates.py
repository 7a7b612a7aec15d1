"""The one date grammar refuses years outside the supported range (2000..2100) with one reason, never a crash; the
one set of date formatters writes Vietnamese local forms, and no module outside core/dates.py formats a date itself."""

from __future__ import annotations

import ast
import re
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tocns.core.dates import (
    MAX_YEAR,
    MIN_YEAR,
    DateError,
    day_label,
    fmt_cell_time,
    fmt_date,
    fmt_month,
    fmt_time,
    match_date,
    month_key,
    parse_deadline,
    parse_month,
    read_absolute,
)
from tocns.core.text import fold

TODAY = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("31/12/9999", "Năm 9999 trong '31/12/9999' nằm ngoài khoảng bot hỗ trợ: chỉ nhận năm từ 2000 đến 2100."),
        ("01/01/0001", "Năm 1 trong '01/01/0001'"),
        ("01/01/1999", "Năm 1999"),
        ("01/01/2101", "Năm 2101"),
        ("31/02/2026", "Ngày '31/02/2026' không có thật"),
        ("00/01/2026", "không có thật"),
        ("01/13", "Ngày '01/13' không có thật"),
    ],
)
def test_dates_out_of_range_are_refused(typed: str, reason: str) -> None:
    with pytest.raises(DateError) as refused:
        read_absolute(typed, TODAY)
    assert reason in str(refused.value)


def test_deadlines_and_months_share_the_range() -> None:
    with pytest.raises(DateError, match="Năm 9999 trong '31/12/9999'"):
        parse_deadline("31/12/9999 nộp báo cáo", TODAY)
    with pytest.raises(DateError, match="Năm 9999 trong '12/9999'"):
        parse_month("12/9999", TODAY)
    with pytest.raises(DateError, match="Năm 0 trong '1/0000'"):
        parse_month("1/0000", TODAY)
    assert parse_deadline("31/12/2100 nộp", TODAY)[0] == date(MAX_YEAR, 12, 31)
    assert read_absolute("01/01/2000", TODAY) == date(MIN_YEAR, 1, 1)


_dates = st.builds(
    "{}{}{}{}{}".format,
    st.integers(0, 99),
    st.sampled_from("/.-"),
    st.integers(0, 99),
    st.sampled_from("/.-"),
    st.integers(0, 99999),
)


@hsettings(max_examples=300, deadline=None)
@given(
    typed=_dates | st.text(max_size=20),
    today=st.dates(min_value=date(MIN_YEAR, 1, 1), max_value=date(MAX_YEAR, 12, 31)),
    direction=st.sampled_from(["past", "future"]),
)
def test_any_date_text_is_a_date_or_a_refusal(typed: str, today: date, direction: str) -> None:
    words = [fold(w) for w in typed.split()] or [""]
    try:
        hit = match_date(words, 0, today, direction)  # type: ignore[arg-type]
        deadline = parse_deadline(typed, today)
    except DateError as exc:
        assert str(exc)
        return
    if hit is not None:
        assert MIN_YEAR - 1 <= hit.value.year <= MAX_YEAR + 1
    assert deadline[0] >= today


VN = ZoneInfo("Asia/Ho_Chi_Minh")
TOCNS = Path(__file__).resolve().parents[2] / "tocns"
FORMATTERS = TOCNS / "core" / "dates.py"
# Parts of a date or time that, given a format spec of their own ({d.month:02d}), rebuild a date format inline.
_DATE_PARTS = {"year", "month", "day", "hour", "minute", "second"}
_CODE = re.compile(r"%[A-Za-z]")  # a strftime code; a percent format (.0%) is not one
_TEMPLATE_STRFTIME = re.compile(r"strftime\(|\|\s*(?:date|datetimeformat)\b")


def test_formatters_write_local_vietnamese_forms() -> None:
    """Dates read dd/mm/yyyy, times 24-hour in Việt Nam time whatever zone the moment was stored in."""
    stored = datetime(2026, 11, 22, 17, 5, tzinfo=UTC)  # 00:05 on 23/11 in Việt Nam
    assert fmt_date(date(2026, 3, 7)) == "07/03/2026"
    assert day_label(date(2026, 11, 22)) == "22/11/2026 (Chủ Nhật)"
    assert fmt_time(stored, VN) == "00:05 23/11/2026"
    assert fmt_cell_time(stored.astimezone(VN)) == "23/11/2026 00:05"
    assert fmt_month(date(2026, 3, 7)) == "03/2026"
    assert month_key(date(2026, 3, 7)) == "2026-03"


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
def test_cell_dates_are_strftimes_forms(moment: datetime) -> None:
    """fmt_date and fmt_cell_time format by hand (a tenth of strftime's cost): the same text as strftime's."""
    assert fmt_date(moment.date()) == moment.date().strftime("%d/%m/%Y")
    assert fmt_cell_time(moment) == moment.strftime("%d/%m/%Y %H:%M")


def _formats_with_codes(node: ast.AST) -> bool:
    """A call format(value, "...%d...")."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "format"):
        return False
    return any(isinstance(a, ast.Constant) and _CODE.search(str(a.value)) for a in node.args[1:])


def inline_date_formats(source: str, name: str) -> list[str]:
    """Where a Python source formats a date itself: strftime, an f-string/format() spec with %-codes, or a date part
    given its own width ({d.month:02d})."""
    found = []
    for node in ast.walk(ast.parse(source, name)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Attribute) and node.attr == "strftime":
            found.append(f"{name}:{line} strftime")
        elif isinstance(node, ast.FormattedValue) and node.format_spec is not None:
            spec = ast.unparse(node.format_spec)
            part = node.value.attr if isinstance(node.value, ast.Attribute) else ""
            if _CODE.search(spec) or part in _DATE_PARTS:
                found.append(f"{name}:{line} {{{ast.unparse(node.value)}:…}}")
        elif _formats_with_codes(node):
            found.append(f"{name}:{line} format()")
    return found


def test_the_checker_sees_each_inline_form() -> None:
    """The scan below would catch each way a module could format a date by itself."""
    for source in (
        "x = d.strftime('%d/%m')",
        "x = f'{d:%d/%m/%Y}'",
        "x = f'{d.month:02d}/{d.year}'",
        "x = format(d, '%H:%M')",
    ):
        assert inline_date_formats(source, "m.py"), source
    assert not inline_date_formats("x = f'{n:,}' + f'{share:.0%}' + fmt_date(d)", "m.py")


def test_dates_are_formatted_only_in_core_dates() -> None:
    """Every date a person reads goes through core/dates.py's formatters, so one change there changes them all."""
    found = []
    for path in sorted(TOCNS.rglob("*.py")):
        if path != FORMATTERS:
            found += inline_date_formats(path.read_text(encoding="utf-8"), str(path.relative_to(TOCNS)))
    for path in sorted(TOCNS.rglob("*.html")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _TEMPLATE_STRFTIME.search(line):
                found.append(f"{path.relative_to(TOCNS)}:{number} template date format")
    assert found == []
