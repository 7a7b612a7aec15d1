"""Reading report periods as people type them in chat and as operators type them on the CLI."""

from __future__ import annotations

from datetime import date

import pytest

from tocns.features.reports.period import PeriodError, parse_cli_period, parse_period

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
