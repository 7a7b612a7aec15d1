"""The /muctieu and denominator grammar: a table of examples, refusals with the reason, and splitting properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocns.features.activity.grammar import Catalogue, default_specs
from tocns.features.targets.grammar import (
    PopulationSpec,
    TargetParseError,
    TargetSpec,
    parse_population,
    parse_target,
    split_even,
    split_weighted,
)

CATALOGUE = Catalogue(default_specs())
YEAR = 2026


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2027 vneid 1200", TargetSpec(2027, 0, None, "", "vneid", 1200)),
        ("2027 tổ Thôn 3 vneid 150", TargetSpec(2027, 0, "team", "Thôn 3", "vneid", 150)),
        ("năm 2027 to thon 3 VNeID 150", TargetSpec(2027, 0, "team", "thon 3", "vneid", 150)),
        (
            "2027 xã Tân Lập vneid 1.200 chia đều",
            TargetSpec(2027, 0, "commune", "Tân Lập", "vneid", 1200, split="even"),
        ),
        ("2027 vneid chia theo hộ", TargetSpec(2027, 0, None, "", "vneid", None, split="households")),
        ("2027 vneid 900 chia theo so ho", TargetSpec(2027, 0, None, "", "vneid", 900, split="households")),
        ("2027 tháng 3 vneid 100", TargetSpec(2027, 3, None, "", "vneid", 100)),
        ("2027 thanhtoan 50% hộ", TargetSpec(2027, 0, None, "", "thanhtoan", None, "households", 50)),
        ("thanhtoan 35% người lớn", TargetSpec(YEAR, 0, None, "", "thanhtoan", None, "adults", 35)),
        ("vneid 0", TargetSpec(YEAR, 0, None, "", "vneid", 0)),
        ("2027 tổ Bản Nà Hin dịch vụ công 30", TargetSpec(2027, 0, "team", "Bản Nà Hin", "dvc", 30)),
    ],
)
def test_examples(text: str, expected: TargetSpec) -> None:
    assert parse_target(text, CATALOGUE, YEAR) == expected


def test_no_arguments_means_show() -> None:
    assert parse_target("  ", CATALOGUE, YEAR) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2025 vneid 10", "Năm 2025 đã qua"),
        ("2040 vneid 10", "quá xa"),
        ("2027 vneid -5", "số âm"),
        ("2027 vneid 99999999", "quá lớn"),
        ("2027 xyz 10", "Không có chỉ tiêu 'xyz'"),
        ("2027 tổ vneid 10", "Thiếu tên tổ"),
        ("2027 vneid", "Thiếu con số"),
        ("2027 vneid 50%", "ghi rõ tỷ lệ của gì"),
        ("2027 vneid 150% hộ", "từ 1% đến 100%"),
        ("2027 tháng 13 vneid 5", "Tháng '13' không có thật"),
        ("2027 Thôn 3 vneid 5", "bắt đầu bằng 'tổ' hoặc 'xã'"),
        ("2027 vneid 0 chia đều", "Không chia được"),
    ],
)
def test_refusals_say_why_and_that_nothing_was_saved(text: str, reason: str) -> None:
    with pytest.raises(TargetParseError) as exc:
        parse_target(text, CATALOGUE, YEAR)
    assert reason in str(exc.value) and "Chưa có gì được lưu" in str(exc.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hộ 350", PopulationSpec(None, "", 350, None)),
        ("tổ Thôn 3 hộ 120 người lớn 400", PopulationSpec("team", "Thôn 3", 120, 400)),
        ("số hộ 1.200", PopulationSpec(None, "", 1200, None)),
        ("nhac 3,1,0", None),
        ("baolanhdao 2", None),
    ],
)
def test_population(text: str, expected: PopulationSpec | None) -> None:
    assert parse_population(text) == expected


@given(st.integers(0, 5_000_000), st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=40, unique=True))
def test_even_split_sums_and_differs_by_at_most_one(total: int, keys: list[str]) -> None:
    shares = split_even(total, keys)
    assert sum(shares.values()) == total and max(shares.values()) - min(shares.values()) <= 1


@given(st.integers(0, 5_000_000), st.dictionaries(st.text(min_size=1, max_size=5), st.integers(1, 10_000), min_size=1))
def test_weighted_split_sums_and_follows_weights(total: int, weights: dict[str, int]) -> None:
    shares = split_weighted(total, weights)
    assert sum(shares.values()) == total
    whole = sum(weights.values())
    for key, weight in weights.items():
        assert abs(shares[key] - total * weight / whole) < 1


@given(st.integers(YEAR, YEAR + 5), st.integers(0, 5_000_000))
def test_any_year_and_value_in_range_reads_back(year: int, value: int) -> None:
    spec = parse_target(f"{year} vneid {value}", CATALOGUE, YEAR)
    assert spec is not None and (spec.year, spec.value, spec.indicator) == (year, value, "vneid")
