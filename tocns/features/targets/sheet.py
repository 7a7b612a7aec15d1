"""Reading a sheet of targets and denominators (.xlsx or .csv) for `tocns targets import`, checked row by row.

Columns found by heading, with or without diacritics: unit code (required), indicator, year, month, target,
households, adults. A row sets a target (indicator, year and target filled), denominators, or both. Every problem
is reported with its row number; the import applies all rows or none (the team import's rule).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tocns.core.filelimits import ImportLimits
from tocns.core.text import fold_compact, nfc
from tocns.features.org.sheet import SheetError as TeamSheetError
from tocns.features.org.sheet import read_table

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


def _table(path: Path, limits: ImportLimits | None) -> list[tuple[int, list[Any]]]:
    # The one sheet reader of imports, with its limits (file size, zip bombs, rows), as the team import.
    try:
        return [(number, cells) for number, cells, _formulas in read_table(path, limits)]
    except TeamSheetError as exc:
        raise SheetError(str(exc)) from None


def read_sheet(path: Path, limits: ImportLimits | None = None) -> list[TargetRow]:
    """The rows of a targets sheet; SheetError when it is not one or is beyond an import limit."""
    body = [(n, cells) for n, cells in _table(path, limits) if any(_text(c) for c in cells)]
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
