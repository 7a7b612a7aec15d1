"""Reading report periods as people type them in chat and as operators type them on the CLI."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tocns.core.period import PeriodError, parse_cli_period, parse_period

TODAY = date(2026, 11, 25)  # a Wednesday


@pytest.mark.parametrize(
    ("typed", "start", "end", "label"),
    [
        ("", date(2026, 11, 23), date(2026, 11, 29), "tuần 23/11/2026 - 29/11/2026"),
        ("Tuần", date(2026, 11, 23), date(2026, 11, 29), "tuần 23/11/2026 - 29/11/2026"),
        ("tuan truoc", date(2026, 11, 16), date(2026, 11, 22), "tuần 16/11/2026 - 22/11/2026"),
        ("THÁNG", date(2026, 11, 1), date(2026, 11, 30), "tháng 11/2026"),
        ("tháng trước", date(2026, 10, 1), date(2026, 10, 31), "tháng 10/2026"),
        ("01/11-15/11", date(2026, 11, 1), date(2026, 11, 15), "từ 01/11/2026 đến 15/11/2026"),
        ("28/12-03/01", date(2025, 12, 28), date(2026, 1, 3), "từ 28/12/2025 đến 03/01/2026"),
        ("1/11/2026 - 2/11/2026", date(2026, 11, 1), date(2026, 11, 2), "từ 01/11/2026 đến 02/11/2026"),
    ],
)
def test_chat_periods(typed: str, start: date, end: date, label: str) -> None:
    period = parse_period(typed, TODAY)
    assert (period.start, period.end, period.label) == (start, end, label)


def test_previous_periods() -> None:
    assert parse_period("thang", date(2026, 3, 10)).previous().end == date(2026, 2, 28)
    rng = parse_period("10/11-14/11", TODAY).previous()
    assert (rng.start, rng.end) == (date(2026, 11, 5), date(2026, 11, 9))


def test_cli_periods() -> None:
    week = parse_cli_period("2026-W01", TODAY)
    assert (week.start, week.end) == (date(2025, 12, 29), date(2026, 1, 4))
    assert parse_cli_period("2026-02", TODAY).end == date(2026, 2, 28)
    rng = parse_cli_period("2026-11-01..2026-11-10", TODAY)
    assert (rng.start, rng.end, rng.kind) == (date(2026, 11, 1), date(2026, 11, 10), "range")
    assert parse_cli_period("thang", TODAY).start == date(2026, 11, 1)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("hom qua", "Không hiểu khoảng thời gian 'hom qua'"),
        ("30/02-01/03", "Ngày '30/02' không có thật"),
        ("20/11/2026-01/11/2026", "trước ngày bắt đầu"),
        ("01/01/2024-01/06/2026", "tối đa 366 ngày"),
    ],
)
def test_bad_periods_explain_why(typed: str, message: str) -> None:
    with pytest.raises(PeriodError, match=message):
        parse_period(typed, TODAY)
    with pytest.raises(PeriodError, match="không có thật"):
        parse_cli_period("2026-W54", TODAY)


YEARS = "chỉ nhận năm từ 2000 đến 2100"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        # Calendar edges: the ends of Python's dates, week 53 of a year without one, month 0/13, day 31/2.
        ("9999-W52", f"Năm 9999 trong '9999-W52' nằm ngoài khoảng bot hỗ trợ: {YEARS}."),
        ("9999-12", "Năm 9999 trong '9999-12'"),
        ("tháng 12/9999", "Năm 9999 trong 'tháng 12/9999'"),
        ("0001-W01", "Năm 1 trong '0001-W01'"),
        ("0000-05", "Năm 0 trong '0000-05'"),
        ("1999-12", "Năm 1999"),
        ("2101-01", "Năm 2101"),
        ("tuần 1/0001", "Năm 1 trong 'tuần 1/0001'"),
        ("tuan 52 nam 9999", "Năm 9999"),
        ("01/01/0001-02/01/0001", "Năm 1 trong '02/01/0001'"),
        ("30/12/9999-31/12/9999", "Năm 9999"),
        ("0001-01-01..0001-01-05", "Năm 1 trong '0001-01-01..0001-01-05'"),
        ("9999-12-30..9999-12-31", "Năm 9999"),
        ("2025-W53", "Tuần '2025-W53' không có thật"),
        ("2026-W00", "Tuần '2026-W00' không có thật"),
        ("2026-00", "Tháng '2026-00' không có thật"),
        ("tháng 13", "Tháng 'tháng 13' không có thật"),
        ("31/02/2026-01/03/2026", "Ngày '31/02/2026' không có thật"),
        ("2026-02-31..2026-03-01", "không có thật"),
    ],
)
def test_out_of_range_periods_are_refused_not_crashed(typed: str, message: str) -> None:
    with pytest.raises(PeriodError) as refused:
        parse_period(typed, TODAY)
    assert message in str(refused.value)


def test_the_supported_years_work_at_both_ends() -> None:
    first = parse_period("2000-W01", TODAY)
    assert (first.start, first.previous().start) == (date(2000, 1, 3), date(1999, 12, 27))
    assert parse_period("2000-01", TODAY).previous().start == date(1999, 12, 1)
    last = parse_period("2100-12", date(2100, 12, 31))
    assert (last.start, last.end) == (date(2100, 12, 1), date(2100, 12, 31))


# Every form of the grammar with any numbers in its slots (years 0..9999 reach both ends of Python's dates), plus
# free text: the property reaches deep into each form rather than stopping at "not understood".
_n = st.integers(min_value=0, max_value=9999)
_forms = st.one_of(
    st.builds("{:04d}-W{:02d}".format, _n, st.integers(0, 99)),
    st.builds("{:04d}-{:02d}".format, _n, st.integers(0, 99)),
    st.builds("tháng {}/{:04d}".format, st.integers(0, 99), _n),
    st.builds("tuần {} năm {:04d}".format, st.integers(0, 99), _n),
    st.builds("{:02d}/{:02d}/{:04d}-{:02d}/{:02d}/{:04d}".format, *[st.integers(0, 40), st.integers(0, 13), _n] * 2),
    st.builds("{:02d}/{:02d}-{:02d}/{:02d}".format, *[st.integers(0, 40), st.integers(0, 13)] * 2),
    st.builds("{:04d}-{:02d}-{:02d}..{:04d}-{:02d}-{:02d}".format, *[_n, st.integers(0, 13), st.integers(0, 40)] * 2),
)
_typed = _forms | st.text(max_size=30)


@hsettings(max_examples=400, deadline=None)
@given(typed=_typed, today=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)))
def test_any_text_is_a_period_or_a_refusal(typed: str, today: date) -> None:
    try:
        period = parse_period(typed, today)
    except PeriodError as exc:
        assert str(exc) and "Traceback" not in str(exc)
        return
    # A period the reports can use: its previous period and label compute, within the supported years.
    assert period.start <= period.end <= period.start + timedelta(days=366)
    assert period.previous().start.year >= 1999 and period.end.year <= 2101
    assert period.label and period.slug
