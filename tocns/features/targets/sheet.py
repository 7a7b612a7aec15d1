"""Reading a sheet of targets and denominators (.xlsx or .csv) for `tocns targets import`, checked row by row.

Columns found by heading, with or without diacritics: unit code (required), indicator, year, month, target,
households, adults. A row sets a target (indicator, year and target filled), denominators, or both. Every problem
is reported with its row number; the import applies all rows or none (the team import's rule).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tocns.core.text import fold_compact, nfc

COLUMNS: dict[str, tuple[str, ...]] = {
    "unit": ("madonvi", "donvi", "ma", "code"),
    "indicator": ("chitieu", "machitieu", "indicator"),
    "year": ("nam", "year"),
    "month": ("thang", "month"),
    "value": ("muctieu", "target", "giatri"),
    "households": ("soho", "ho", "households"),
    "adults": ("songuoitruongthanh", "nguoitruongthanh", "songuoilon", "nguoilon", "adults"),
}
HEADINGS = ("Mã đơn vị", "Chỉ tiêu", "Năm", "Tháng", "Mục tiêu", "Số hộ", "Số người trưởng thành")


class SheetError(Exception):
    """The file as a whole cannot be read as a sheet of targets: nothing imported."""


@dataclass
class TargetRow:
    """One row's cells as text, numbered as the spreadsheet shows them."""

    number: int
    unit: str = ""
    indicator: str = ""
    year: str = ""
    month: str = ""
    value: str = ""
    households: str = ""
    adults: str = ""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return nfc(" ".join(str(value).split()))


def _table(path: Path) -> list[tuple[int, list[Any]]]:
    if not path.is_file():
        raise SheetError(f"Không có tệp {path}.")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise SheetError(f"Tệp {path.name} không phải UTF-8: hãy lưu thành 'CSV UTF-8'.") from None
        first = text.splitlines()[0] if text else ""
        delimiter = max((",", ";", "\t"), key=first.count)
        return list(enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1))  # type: ignore[arg-type]
    if suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook
        from openpyxl.utils.exceptions import InvalidFileException

        try:
            book = load_workbook(path, read_only=True, data_only=True)
        except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError):
            raise SheetError(f"Tệp {path.name} không phải bảng tính .xlsx hợp lệ.") from None
        try:
            return [(n, list(row)) for n, row in enumerate(book.worksheets[0].iter_rows(values_only=True), start=1)]
        finally:
            book.close()
    raise SheetError(f"Tệp {path.name} không phải bảng tính: hãy dùng tệp .xlsx hoặc .csv.")


def read_sheet(path: Path) -> list[TargetRow]:
    """The rows of a targets sheet; SheetError when it is not one."""
    body = [(n, cells) for n, cells in _table(path) if any(_text(c) for c in cells)]
    if not body:
        raise SheetError("Tệp không có dòng nào.")
    found: dict[str, int] = {}
    for index, cell in enumerate(body[0][1]):
        key = fold_compact(re.sub(r"\(.*?\)", "", _text(cell)))
        for name, aliases in COLUMNS.items():
            if key in aliases and name not in found:
                found[name] = index
    if "unit" not in found or not ({"value", "households", "adults"} & set(found)):
        raise SheetError(f"Không thấy cột 'Mã đơn vị' và 'Mục tiêu' (hoặc 'Số hộ'). Các cột: {', '.join(HEADINGS)}.")
    rows = []
    for number, cells in body[1:]:
        row = TargetRow(number=number)
        for name, index in found.items():
            setattr(row, name, _text(cells[index]) if index < len(cells) else "")
        rows.append(row)
    return rows
