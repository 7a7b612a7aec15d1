"""Vietnamese alphabetical order for every list of names: Ấ among the A's, đ after d, numbers by value."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocns.core.text import fold, vi_sort_key, vi_sorted

ORDERED = [
    # (earlier, later): each pair as a Vietnamese dictionary orders it.
    ("An", "Ấp"),
    ("Ấp", "Bình"),
    ("Anh", "Ăn"),
    ("Ăn", "Ân"),
    ("Dương", "Đồng"),
    ("Đồng", "Em"),
    ("Em", "Ê"),
    ("Oanh", "Ô"),
    ("Ô", "Ơ"),
    ("Ơ", "Phú"),
    ("Uông", "Ư"),
    ("Ư", "Vân"),
    ("Thôn 2", "Thôn 10"),
    ("Thôn 9", "Thôn 10A"),
    ("Ba", "Bà"),  # tones: none, huyền, hỏi, ngã, sắc, nặng
    ("Bà", "Bả"),
    ("Bả", "Bã"),
    ("Bã", "Bá"),
    ("Bá", "Bạ"),
    ("Bạ", "Bác"),  # letters before tones
    ("Xã Ấp Bắc", "Xã Zin"),
]


def test_pairs_in_vietnamese_order() -> None:
    for earlier, later in ORDERED:
        assert vi_sort_key(earlier) < vi_sort_key(later), (earlier, later)


def test_case_and_spacing_do_not_reorder() -> None:
    assert vi_sorted(["xã zin", "Xã Ấp  Bắc", "XÃ AN"]) == ["XÃ AN", "Xã Ấp  Bắc", "xã zin"]


@given(st.lists(st.text(alphabet="aăâbdđeêoôơuưAĂÂĐ àáảãạ0123456789", max_size=8), max_size=12))
def test_nfc_and_nfd_sort_the_same(names: list[str]) -> None:
    """Phones send both forms: the order never depends on which."""
    nfc = [unicodedata.normalize("NFC", n) for n in names]
    nfd = [unicodedata.normalize("NFD", n) for n in names]
    as_nfc = [unicodedata.normalize("NFC", n) for n in vi_sorted(nfd)]
    assert [vi_sort_key(n)[:2] for n in vi_sorted(nfc)] == [vi_sort_key(n)[:2] for n in as_nfc]


@given(st.lists(st.text(max_size=10), max_size=20))
def test_total_order_on_any_text(names: list[str]) -> None:
    """Any text sorts without error, and sorting twice changes nothing."""
    once = vi_sorted(names)
    assert vi_sorted(once) == once and sorted(once) == sorted(names)


def _fold_whole_text(text: str) -> str:
    """`fold` as first written: the whole text decomposed at once (the reference its fast paths must equal)."""
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    stripped = stripped.replace("đ", "d").replace("Đ", "D")
    return re.sub(r"\s+", " ", stripped.lower()).strip()


FOLDED = [
    ("Thôn 3", "thon 3"),
    ("ĐỊNH DANH điện tử", "dinh danh dien tu"),
    ("  Hỗ   trợ\tDVC ", "ho tro dvc"),
    ("cài VNeID", "cai vneid"),
    ("Ơ ư ă â ê ô đ", "o u a a e o d"),
    ("ΟΔΟΣ", "οδος"),  # Greek: lower-cased as a whole, so the final sigma stays final
]


@pytest.mark.parametrize(("text", "folded"), FOLDED)
def test_fold_reads_vietnamese_without_marks_or_case(text: str, folded: str) -> None:
    assert fold(text) == folded


@given(st.text())
def test_fold_character_by_character_equals_folding_the_whole_text(text: str) -> None:
    # Remembering each character's bare form is exact: canonical reordering only moves the marks it drops.
    assert fold(text) == _fold_whole_text(text)
