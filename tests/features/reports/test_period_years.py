"""Year and quarter periods in the one period grammar (issue 26): /baocao, /cuatoi, the CLI and the API read them."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocns.core.period import PeriodError, parse_period, quarter_of, year_of

TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    ("text", "start", "end", "label", "slug"),
    [
        ("năm nay", date(2026, 1, 1), date(2026, 12, 31), "năm 2026", "2026"),
        ("nam nay", date(2026, 1, 1), date(2026, 12, 31), "năm 2026", "2026"),
        ("năm 2026", date(2026, 1, 1), date(2026, 12, 31), "năm 2026", "2026"),
        ("2026", date(2026, 1, 1), date(2026, 12, 31), "năm 2026", "2026"),
        ("năm ngoái", date(2025, 1, 1), date(2025, 12, 31), "năm 2025", "2025"),
        ("năm trước", date(2025, 1, 1), date(2025, 12, 31), "năm 2025", "2025"),
        ("quý 4", date(2026, 10, 1), date(2026, 12, 31), "quý 4/2026", "2026-Q4"),
        ("Q4/2026", date(2026, 10, 1), date(2026, 12, 31), "quý 4/2026", "2026-Q4"),
        ("q4 2026", date(2026, 10, 1), date(2026, 12, 31), "quý 4/2026", "2026-Q4"),
        ("quý 1 năm 2026", date(2026, 1, 1), date(2026, 3, 31), "quý 1/2026", "2026-Q1"),
        ("2026-Q2", date(2026, 4, 1), date(2026, 6, 30), "quý 2/2026", "2026-Q2"),
        ("quý này", date(2026, 10, 1), date(2026, 12, 31), "quý 4/2026", "2026-Q4"),
        ("quý trước", date(2026, 7, 1), date(2026, 9, 30), "quý 3/2026", "2026-Q3"),
    ],
)
def test_years_and_quarters(text: str, start: date, end: date, label: str, slug: str) -> None:
    period = parse_period(text, TODAY)
    assert (period.start, period.end, period.label, period.slug) == (start, end, label, slug)


def test_a_quarter_without_year_that_has_not_started_is_last_years() -> None:
    assert parse_period("quý 3", date(2027, 2, 1)).label == "quý 3/2026"


@pytest.mark.parametrize(
    ("text", "reason"), [("quý 5", "không có thật"), ("2027", "chưa bắt đầu"), ("Q1/2027", "chưa")]
)
def test_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(PeriodError) as exc:
        parse_period(text, TODAY)
    assert reason in str(exc.value)


@given(st.dates(date(2000, 1, 1), date(2099, 12, 31)))
def test_quarters_and_years_tile_the_calendar(day: date) -> None:
    quarter, year = quarter_of(day), year_of(day)
    assert quarter.start <= day <= quarter.end and year.start <= day <= year.end
    assert quarter.previous().end.toordinal() + 1 == quarter.start.toordinal()
    assert year.previous().end.toordinal() + 1 == year.start.toordinal()


@pytest.mark.parametrize(
    ("words", "name", "period"),
    [
        ("Thôn 1 năm nay", "Thôn 1", "năm nay"),
        ("Thôn 3 2026", "Thôn 3", "2026"),
        ("Lìa quý 4", "Lìa", "quý 4"),
        ("Lìa Q4/2026", "Lìa", "Q4/2026"),
    ],
)
def test_baocao_splits_a_unit_from_a_year_or_quarter(words: str, name: str, period: str) -> None:
    from tocns.features.reports.commands import split_unit_and_period

    name_words, rest = split_unit_and_period(words.split())
    assert (" ".join(name_words), rest) == (name, period)
