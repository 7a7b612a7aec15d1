"""Bulk import with limits (issue 22): size on disk, size inflated, compression ratio and rows are checked before
the sheet is parsed; a broken sheet and a name wider than its column are refused with one Vietnamese line naming the
row and field; nothing is ever cut."""

from __future__ import annotations

import tracemalloc
import zipfile
from pathlib import Path

import openpyxl
import pytest
from sqlmodel import select

from tests.cli.test_cli import run_cli
from tests.factories import build_tree
from tests.features.org.test_import_teams import HEAD, _counts, _import, _xlsx
from tocns.app import BotApp
from tocns.core.filelimits import ImportLimits
from tocns.features.org.models import OrgUnit, Person
from tocns.features.org.sheet import SheetError, read_sheet

SHEET = "xl/worksheets/sheet1.xml"


def _rewrite(source: Path, target: Path, sheet_xml: bytes | None = None, filler: int = 0) -> Path:
    """A copy of an .xlsx with its first sheet replaced (`sheet_xml`) or padded with `filler` bytes of spaces
    before </sheetData> (valid XML that compresses about 1,000 times: a zip bomb)."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename != SHEET:
                out.writestr(item, data)
                continue
            data = sheet_xml if sheet_xml is not None else data
            head, _, tail = data.partition(b"</sheetData>")
            with out.open(SHEET, "w") as member:
                member.write(head)
                chunk = b" " * 1_000_000
                for _ in range(filler // len(chunk)):
                    member.write(chunk)
                member.write(b"</sheetData>" + tail)
    return target


@pytest.fixture
def no_openpyxl(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the sheet reaches openpyxl: the limits must refuse it first."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("openpyxl opened a file the limits should have refused")

    monkeypatch.setattr(openpyxl, "load_workbook", refuse)


def test_a_zip_bomb_is_refused_before_openpyxl_opens_it(tmp_path: Path, no_openpyxl: None) -> None:
    good = _xlsx(tmp_path / "to.xlsx", [["X1", "Thôn 5"]])
    bomb = _rewrite(good, tmp_path / "bom.xlsx", filler=60_000_000)
    assert bomb.stat().st_size < 200_000  # small on disk
    with pytest.raises(SheetError) as refused:
        read_sheet(bomb)
    assert str(refused.value).startswith("Tệp bom.xlsx khi giải nén nặng 60,")
    assert "quá giới hạn 50,0 MB (IMPORT_MAX_UNCOMPRESSED_BYTES)" in str(refused.value)
    # Under the total, a part that inflates 1,000 times is refused by the ratio.
    dense = _rewrite(good, tmp_path / "nen.xlsx", filler=5_000_000)
    with pytest.raises(SheetError, match=r"nén bất thường \(xl/worksheets/sheet1.xml nén \d+ lần, tối đa 100 lần"):
        read_sheet(dense)


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path, no_openpyxl: None) -> None:
    path = tmp_path / "lon.csv"
    path.write_bytes(b"xa;to\n" + b"X1;Thon 5\n" * 200)
    with pytest.raises(SheetError) as refused:
        read_sheet(path, ImportLimits(max_file_bytes=1_000))
    assert str(refused.value) == (
        "Tệp lon.csv nặng 0,0 MB, quá giới hạn 0,0 MB (IMPORT_MAX_FILE_BYTES). Hãy chia thành nhiều tệp nhỏ hơn."
    )


def test_a_100000_row_csv_is_refused_by_the_row_limit_in_little_memory(tmp_path: Path) -> None:
    path = tmp_path / "tram-nghin.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("Xã/phường;Tổ;Thành viên;Điện thoại\n")
        for n in range(100_000):
            out.write(f"X1;Thôn {n % 50};Nguyễn Văn {n};09{n:08d}\n")
    tracemalloc.start()
    try:
        with pytest.raises(SheetError) as refused:
            read_sheet(path)
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(refused.value) == (
        "Tệp tram-nghin.csv có hơn 20.000 dòng (ngoài dòng tiêu đề), quá giới hạn IMPORT_MAX_ROWS: hãy chia thành "
        "nhiều tệp."
    )
    assert peak < 40_000_000, peak  # about 14 MB (the 20,000 rows kept); the audit measured 888 MB


def test_the_row_limit_counts_filled_rows_and_allows_exactly_the_limit(tmp_path: Path) -> None:
    rows = [["X1", f"Thôn {n}"] for n in range(3)]
    exact = _xlsx(tmp_path / "du.xlsx", [*rows[:2], [None, None], [None, None]])
    assert [r.team for r in read_sheet(exact, ImportLimits(max_rows=2))] == ["Thôn 0", "Thôn 1"]
    over = _xlsx(tmp_path / "thua.xlsx", rows)
    with pytest.raises(SheetError, match="có hơn 2 dòng"):
        read_sheet(over, ImportLimits(max_rows=2))


def test_a_broken_sheet_is_one_line_not_an_unexpected_error(tmp_path: Path) -> None:
    good = _xlsx(tmp_path / "to.xlsx", [["X1", "Thôn 5"]])
    with zipfile.ZipFile(good) as src:
        xml = src.read(SHEET)
    # A cell pointing at shared string 999 of a file that has none: openpyxl raises IndexError.
    dangling = xml.replace(b't="inlineStr"><is><t>Th\xc3\xb4n 5</t></is>', b't="s"><v>999</v>')
    assert dangling != xml
    broken = _rewrite(good, tmp_path / "hong.xlsx", sheet_xml=dangling)
    truncated = tmp_path / "cut.xlsx"
    truncated.write_bytes(good.read_bytes()[:600])
    not_xml = _rewrite(good, tmp_path / "xml.xlsx", sheet_xml=b"<worksheet><sheetData><row>")
    for path in (broken, truncated, not_xml):
        with pytest.raises(SheetError) as refused:
            read_sheet(path)
        assert str(refused.value) == (
            f"Tệp {path.name} không phải bảng tính .xlsx hợp lệ (có thể đã hỏng hoặc đổi đuôi)."
        ), path.name


async def test_names_wider_than_their_column_are_refused_never_cut(app: BotApp, tmp_path: Path) -> None:
    async with app.db.session() as session:
        await build_tree(session)
    before = await _counts(app)
    rows = [
        ["X1", "T" * 300, "", "", "", "", ""],  # row 2: a team name of 300 characters
        ["X1", "Thôn 5", "Ă" * 300, "0912345678", "", "", ""],  # row 3: a member name of 300 characters
    ]
    problems, outcome = await _import(app, _xlsx(tmp_path / "dai.xlsx", rows))
    assert outcome is None
    assert problems == [
        "Dòng 2: cột 'Tổ' dài 300 ký tự, tối đa 200 ký tự; hãy rút gọn (không nhập gì).",
        "Dòng 3: cột 'Thành viên' dài 300 ký tự, tối đa 200 ký tự; hãy rút gọn (không nhập gì).",
    ]
    assert await _counts(app) == before
    # At the width exactly, both are stored whole.
    fits = [["X1", "T" * 200, "Ă" * 200, "0912345678", "", "", ""]]
    problems, outcome = await _import(app, _xlsx(tmp_path / "vua.xlsx", fits))
    assert problems == [] and outcome is not None
    async with app.db.session() as session:
        assert (await session.exec(select(Person).where(Person.user_id == "0912345678"))).one().display_name == (
            "Ă" * 200
        )
        assert len((await session.exec(select(OrgUnit).where(OrgUnit.name == "T" * 200))).all()) == 1


async def test_cli_reads_the_limits_from_the_settings(app: BotApp, db_url: str, tmp_path: Path) -> None:
    async with app.db.session() as session:
        await build_tree(session)
    sheet = _xlsx(tmp_path / "ba.xlsx", [["X1", f"Thôn {n}", "", "", "", "", ""] for n in range(3)], head=HEAD)
    refused = run_cli(["org", "import-teams", str(sheet)], db_url, extra_env={"IMPORT_MAX_ROWS": "2"})
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "Lỗi: Tệp ba.xlsx có hơn 2 dòng (ngoài dòng tiêu đề), quá giới hạn IMPORT_MAX_ROWS: hãy chia thành nhiều "
        "tệp. Không nhập gì."
    ]
    catalogue = tmp_path / "chi-tieu.json"
    catalogue.write_text("[" + ", ".join(["{}"] * 100) + "]", encoding="utf-8")
    too_big = run_cli(["indicators", "import", str(catalogue)], db_url, extra_env={"IMPORT_MAX_FILE_BYTES": "100"})
    assert too_big.returncode == 1
    assert "Tệp chi-tieu.json nặng 0,0 MB, quá giới hạn 0,0 MB (IMPORT_MAX_FILE_BYTES)" in too_big.stderr
