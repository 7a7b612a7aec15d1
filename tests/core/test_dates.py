"""The one date grammar refuses years outside the supported range (2000..2100) with one reason, never a crash."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tocns.core.dates import MAX_YEAR, MIN_YEAR, DateError, match_date, parse_deadline, parse_month, read_absolute
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
