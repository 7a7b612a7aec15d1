"""The /caidat grammar: a table of what leaders type and properties over any input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocns.features.tasks.grammar import SettingsChange, SettingsParseError, parse_settings

ACCEPTED = [
    ("", None),
    ("   ", None),
    ("nhac 3,1,0", SettingsChange(lead_days=(3, 1, 0))),
    ("nhắc 0,1,3", SettingsChange(lead_days=(3, 1, 0))),
    ("Nhac 2, 0", SettingsChange(lead_days=(2, 0))),
    ("nhacviec 5,5,1", SettingsChange(lead_days=(5, 1))),
    ("NHẮC 30", SettingsChange(lead_days=(30,))),
    ("baolanhdao 2", SettingsChange(escalate_after_days=2)),
    ("báolãnhđạo 30", SettingsChange(escalate_after_days=30)),
    ("leothang 1", SettingsChange(escalate_after_days=1)),
    ("nhac 5,2,0 baolanhdao 1", SettingsChange(lead_days=(5, 2, 0), escalate_after_days=1)),
    ("baolanhdao 3 nhắc 1, 0", SettingsChange(lead_days=(1, 0), escalate_after_days=3)),
]
REFUSED = [
    ("nhac", "thiếu số ngày nhắc"),
    ("nhac hai", "'hai' không đọc được"),
    ("nhac 3;1", "'3;1' không đọc được"),
    ("nhac 31", "tối đa là 30"),
    ("nhac 1,,2", "không đọc được"),
    ("baolanhdao 0", "từ 1 đến 30"),
    ("baolanhdao 31", "từ 1 đến 30"),
    ("baolanhdao hai", "từ 1 đến 30"),
    ("baolanhdao", "thiếu số ngày quá hạn"),
    ("mau 3", "Không có mục cài đặt 'mau'"),
    ("nhac 3 nhac 2", "ghi hai lần"),
    ("nhac 5,2,0 baolanhdao 0", "từ 1 đến 30"),
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED)
def test_accepted(text: str, expected: SettingsChange | None) -> None:
    assert parse_settings(text) == expected


@pytest.mark.parametrize(("text", "reason"), REFUSED)
def test_refused_with_the_right_form(text: str, reason: str) -> None:
    with pytest.raises(SettingsParseError, match=reason) as refused:
        parse_settings(text)
    assert "Cách dùng" not in str(refused.value)  # the command adds the usage, once


@given(st.text(max_size=40))
def test_any_input_is_read_or_refused_and_never_out_of_range(text: str) -> None:
    try:
        change = parse_settings(text)
    except SettingsParseError as exc:
        assert str(exc)  # always a Vietnamese reason
        return
    if change is None:
        assert not text.strip()
    else:
        assert change.lead_days is not None or change.escalate_after_days is not None
        if change.lead_days is not None:
            assert list(change.lead_days) == sorted(set(change.lead_days), reverse=True)
            assert all(0 <= d <= 30 for d in change.lead_days)
        if change.escalate_after_days is not None:
            assert 1 <= change.escalate_after_days <= 30


@given(st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=6))
def test_lead_days_round_trip(days: list[int]) -> None:
    change = parse_settings("nhac " + ",".join(map(str, days)))
    assert change == SettingsChange(lead_days=tuple(sorted(set(days), reverse=True)))
