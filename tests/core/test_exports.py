"""The one export helper: CSV that Excel opens in Vietnamese, and text no spreadsheet can run as a formula."""

from __future__ import annotations

import csv
import io
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocns.core.exports import BOM, CsvText, defuse, percent


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("Thôn 3", "Thôn 3"),
        ('=HYPERLINK("x")', '\'=HYPERLINK("x")'),
        ("+84912345678", "'+84912345678"),
        ("a;=1+1", "a;'=1+1"),
        ("", ""),
    ],
)
def test_defuse_table(typed: str, shown: str) -> None:
    assert defuse(typed) == shown


def _runs_as_formula(part: str) -> bool:
    stripped = part.lstrip(' "')
    return bool(stripped) and stripped[0] in "=+-@"


@given(st.text())
def test_no_defused_cell_starts_with_a_formula_trigger_whatever_the_separator(text: str) -> None:
    out = defuse(text)
    assert not any(_runs_as_formula(part) for part in re.split(r"[,;\t\r\n]", out)), out


def test_csv_starts_with_a_bom_and_reads_back_defused() -> None:
    sheet = CsvText()
    sheet.row(["Tổ", "=1+1"])
    text = sheet.text()
    assert text.startswith(BOM)
    assert list(csv.reader(io.StringIO(text[len(BOM) :]))) == [["Tổ", "'=1+1"]]


def test_percent_of_nothing_is_none() -> None:
    assert percent(1, 4) == 25 and percent(0, 0) is None
