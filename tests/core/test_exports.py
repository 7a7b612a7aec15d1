"""The one export helper: CSV that Excel opens in Vietnamese, and text no spreadsheet can run as a formula."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocns.core.exports import BOM, CsvParts, CsvText, defuse, percent


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


_TEXT_NEAR_TRIGGERS = st.text(alphabet=st.sampled_from(list("=+-@\t\r,;\n \"ab'")), max_size=12)


@given(_TEXT_NEAR_TRIGGERS)
def test_a_text_is_defused_only_where_a_trigger_follows_the_start_or_a_separator(text: str) -> None:
    # The one-search fast path changes nothing: exactly the texts either substitution would change are changed.
    at_start = re.compile(r'^([ "]*)(?=[=+\-@\t\r])')
    after_separator = re.compile(r'([,;\t\r\n][ "]*)(?=[=+\-@\t\r])')
    assert defuse(text) == after_separator.sub(r"\1'", at_start.sub(r"\1'", text, count=1))


def test_csv_starts_with_a_bom_and_reads_back_defused() -> None:
    sheet = CsvText()
    sheet.row(["Tổ", "=1+1"])
    text = sheet.text()
    assert text.startswith(BOM)
    assert list(csv.reader(io.StringIO(text[len(BOM) :]))) == [["Tổ", "'=1+1"]]


def test_percent_of_nothing_is_none() -> None:
    assert percent(1, 4) == 25 and percent(0, 0) is None


def test_zipped_csv_parts_stay_under_the_file_limit_and_keep_every_row(tmp_path: Path) -> None:
    """A report's raw rows as CSV in zips: past `max_bytes` on disk (a platform's file limit; 1 byte here, looked at
    every 1,000 rows) the rows go on in the next zip, each with the BOM and the header, none lost."""
    files = CsvParts(tmp_path / "raw.csv", ("Mã", "Ghi chú"), zipped=True, max_bytes=1)
    for n in range(2_500):
        files.row((n, "=1+1" if n == 7 else "ok"))
    assert [p.name for p in files.close()] == ["raw.zip", "raw-2.zip", "raw-3.zip"]
    rows: list[list[str]] = []
    for name, member in (("raw.zip", "raw.csv"), ("raw-2.zip", "raw-2.csv"), ("raw-3.zip", "raw-3.csv")):
        with zipfile.ZipFile(tmp_path / name) as zipped:
            assert zipped.namelist() == [member]
            text = zipped.read(member).decode("utf-8")
        assert text.startswith("\ufeffMã,Ghi chú\r\n")
        rows += list(csv.reader(io.StringIO(text[1:])))[1:]
    assert [int(r[0]) for r in rows] == list(range(2_500)) and rows[7][1] == "'=1+1"
    assert not list(tmp_path.glob("*.part"))
