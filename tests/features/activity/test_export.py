"""The activity export's writers never drop a row: past the rows per sheet a workbook continues on more sheets and
a CSV file becomes several CSV files in a zip, and the notice says so (a tiny limit forces the split)."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from tocns.features.activity.export import HEADINGS, CsvOut, CsvParts, Sheets, values
from tocns.features.activity.store import ExportRow

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def _rows(count: int) -> list[dict[str, object]]:
    made = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    rows = [
        ExportRow(
            record_id=n,
            activity_date=date(2026, 11, 23),
            org_path="Tỉnh / Xã / Thôn 3",
            org_codes="01/00070/00070-T01",
            person="Lan",
            indicator_code="vneid",
            indicator_name="Định danh điện tử",
            quantity=n,
            unit="người",
            note="=1+1" if n == 1 else "",
            photo="files:evidence/a.jpg" if n == 2 else "",
            message_text=f"/ghi vneid {n}",
            created_at=made,
            updated_at=None,
        )
        for n in range(1, count + 1)
    ]
    return [values(r, VN, lambda v: f"https://bot.example/f/{v[6:]}?sig=x" if v else "") for r in rows]


def _csv_ids(text: str) -> list[int]:
    assert text.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert tuple(table[0]) == HEADINGS
    return [int(line[0]) for line in table[1:]]


def test_a_csv_past_the_limit_becomes_csv_files_in_a_zip_with_every_row(tmp_path: Path) -> None:
    target = tmp_path / "hoat-dong.csv"
    writer = CsvParts(target, max_rows=3)  # a header and two rows per file
    writer.add(_rows(3))
    writer.add(_rows(5)[3:])
    written = writer.close()
    zipped = tmp_path / "hoat-dong.zip"
    assert written.target == str(zipped) and written.rows == 5
    assert not target.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["hoat-dong.zip"]
    with zipfile.ZipFile(zipped) as archive:
        names = archive.namelist()
        ids = [_csv_ids(archive.read(name).decode("utf-8")) for name in names]
    assert names == ["hoat-dong-1.csv", "hoat-dong-2.csv", "hoat-dong-3.csv"]
    assert ids == [[1, 2], [3, 4], [5]]
    assert written.notice is not None
    assert "5 dòng, nhiều hơn 2 dòng" in written.notice and "chia thành 3 tệp CSV" in written.notice
    assert "không bỏ dòng nào" in written.notice


def test_a_csv_within_the_limit_stays_one_file_without_notice(tmp_path: Path) -> None:
    target = tmp_path / "hoat-dong.csv"
    writer = CsvParts(target, max_rows=3)
    writer.add(_rows(2))
    written = writer.close()
    assert written.notice is None and written.target == str(target)
    text = target.read_text("utf-8")
    assert _csv_ids(text) == [1, 2]
    # Defused like every export; the photo is the signed link, not the stored reference.
    assert "'=1+1" in text and "https://bot.example/f/evidence/a.jpg?sig=x" in text and "files:" not in text


def test_a_csv_to_stdout_past_the_limit_warns_that_excel_would_open_it_short(
    capsys: pytest.CaptureFixture[str],
) -> None:
    writer = CsvOut(max_rows=3)
    writer.add(_rows(5))
    written = writer.close()
    assert _csv_ids(capsys.readouterr().out) == [1, 2, 3, 4, 5]
    assert written.notice is not None and "mở bằng Excel sẽ thiếu dòng" in written.notice and "-o" in written.notice


def test_a_workbook_past_the_limit_continues_on_more_sheets_and_opens_on_the_notice(tmp_path: Path) -> None:
    target = tmp_path / "hoat-dong.xlsx"
    writer = Sheets(target, max_rows=3)
    writer.add(_rows(5))
    written = writer.close()
    book = load_workbook(target)
    assert book.sheetnames == ["Ghi chú", "Hoạt động", "Hoạt động (2)", "Hoạt động (3)"]
    assert book.active is not None and book.active.title == "Ghi chú"
    note = str(book["Ghi chú"]["A1"].value)
    assert note == written.notice and "chia sang 3 trang" in note and "không bỏ dòng nào" in note
    ids = []
    for name in book.sheetnames[1:]:
        sheet = book[name]
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0] == HEADINGS and sheet.auto_filter.ref == f"A1:N{len(rows)}"
        ids += [row[0] for row in rows[1:]]
    assert ids == [1, 2, 3, 4, 5]
    photo = book["Hoạt động"]["K3"]
    assert photo.value == "https://bot.example/f/evidence/a.jpg?sig=x" and photo.hyperlink is not None


def test_a_workbook_within_the_limit_is_one_sheet(tmp_path: Path) -> None:
    target = tmp_path / "hoat-dong.xlsx"
    writer = Sheets(target, max_rows=6)
    writer.add(_rows(5))
    assert writer.close().notice is None
    assert load_workbook(target).sheetnames == ["Hoạt động"]
