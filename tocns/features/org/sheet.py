"""Reading the sheet of teams and members a commune keeps (.xlsx or .csv) for `tocns org import-teams`.

One row per member (the team's columns repeated), or one row per team with the member columns empty. Columns are
found by their heading, with or without diacritics: commune (code or name), team, and optionally member name,
phone, Telegram ID, Zalo ID, role. Every problem is reported with its row number and a Vietnamese reason; the
store side (import_teams in store.py) checks the communes and applies all or nothing. Template: data/ here.
"""

from __future__ import annotations

import csv
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tocns.core.filelimits import FileTooLarge, ImportLimits, check_file_size, check_zip
from tocns.core.permissions import parse_role
from tocns.core.roles import Role
from tocns.core.text import fold, fold_compact, grouped, nfc
from tocns.features.org.models import OrgUnit, Person

TEMPLATE_NAMES = ("mau-nhap-to.xlsx", "mau-nhap-to.csv")
"""The template files shipped in data/ beside this module (the same headings and example rows)."""

COLUMNS: dict[str, tuple[str, ...]] = {
    # Field: folded, compacted headings accepted (the template's first).
    "commune": ("xaphuong", "xa", "phuong", "maxa", "maxaphuong", "madonvi", "donvi", "tenxa", "tenxaphuong"),
    "team": ("to", "tento", "team"),
    "member": ("thanhvien", "hoten", "hovaten", "tenthanhvien", "member"),
    "phone": ("dienthoai", "sodienthoai", "sdt", "phone"),
    "telegram": ("telegramid", "telegram", "idtelegram"),
    "zalo": ("zaloid", "zalo", "idzalo"),
    "role": ("vaitro", "chucvu", "role"),
}
HEADINGS = {
    "commune": "Xã/phường (mã hoặc tên)",
    "team": "Tổ",
    "member": "Thành viên",
    "phone": "Điện thoại",
    "telegram": "Telegram ID",
    "zalo": "Zalo ID",
    "role": "Vai trò",
}
IMPORT_ROLES = (Role.MEMBER, Role.TEAM_LEADER)
"""Roles a sheet may give on a team; commune leaders and staff get theirs with a join code."""

# The widths of the columns a sheet's names go to: a longer name is refused, never cut (issue 22).
TEAM_NAME_MAX = min(OrgUnit.__table__.c.name.type.length, OrgUnit.__table__.c.name_folded.type.length)  # type: ignore[attr-defined]
MEMBER_NAME_MAX = Person.__table__.c.display_name.type.length  # type: ignore[attr-defined]

_PHONE = re.compile(r"^0[1-9][0-9]{8}$")
_TELEGRAM = re.compile(r"^[0-9]{5,15}$")
_ZALO = re.compile(r"^[0-9A-Za-z_-]{5,64}$")


class SheetError(Exception):
    """The file as a whole cannot be read as a sheet of teams (wrong kind, no headings): nothing imported."""


@dataclass
class SheetRow:
    """One row of the sheet, its cells as text (numbered as the spreadsheet shows them)."""

    number: int
    commune: str = ""
    team: str = ""
    member: str = ""
    phone: str = ""
    telegram: str = ""
    zalo: str = ""
    role: str = ""
    formulas: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Member:
    """A member as the sheet gives them: the identity they are found by, their name and role."""

    row: int
    name: str
    platform: str
    user_id: str
    role: Role


@dataclass
class Problem:
    """Why a row cannot be imported."""

    row: int
    reason: str

    def __str__(self) -> str:
        return f"Dòng {self.row}: {self.reason}"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return nfc(" ".join(str(value).split()))


def _header_map(cells: list[Any]) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, cell in enumerate(cells):
        # "Xã/phường (mã hoặc tên)" -> "xaphuong": the words in brackets are a hint, not the name.
        key = fold_compact(re.sub(r"\(.*?\)", "", _text(cell)))
        for name, aliases in COLUMNS.items():
            if key in aliases and name not in found:
                found[name] = index
    if "commune" not in found or "team" not in found:
        wanted = f"'{HEADINGS['commune']}' và '{HEADINGS['team']}'"
        raise SheetError(
            f"Không thấy cột {wanted} ở dòng tiêu đề (dòng đầu tiên có chữ). Hãy dùng tệp mẫu: tocns org import-teams "
            "--template mau.xlsx"
        )
    return found


def _rows(table: list[tuple[int, list[Any], set[int]]]) -> list[SheetRow]:
    """Rows after the heading row; (row number, cells, indexes of formula cells)."""
    body = [(n, cells, f) for n, cells, f in table if any(_text(c) for c in cells)]
    if not body:
        raise SheetError("Tệp không có dòng nào.")
    _, header, _ = body[0]
    columns = _header_map(header)
    names = {index: HEADINGS[name] for name, index in columns.items()}
    out: list[SheetRow] = []
    for number, cells, formulas in body[1:]:
        row = SheetRow(number=number)
        for name, index in columns.items():
            setattr(row, name, _text(cells[index]) if index < len(cells) else "")
        row.formulas = [names.get(i, f"cột {i + 1}") for i in sorted(formulas)]
        out.append(row)
    return out


def read_sheet(path: Path, limits: ImportLimits | None = None) -> list[SheetRow]:
    """The rows of an .xlsx or .csv sheet of teams; SheetError when it is not such a sheet or is beyond a limit."""
    return _rows(read_table(path, limits))


def read_table(path: Path, limits: ImportLimits | None = None) -> list[tuple[int, list[Any], set[int]]]:
    """The filled rows of an .xlsx or .csv file: (row number, cells, indexes of formula cells); SheetError when it
    is not a sheet or is beyond a limit (size on disk, size inflated, compression ratio, rows: checked before the
    sheet is parsed). Every import of a sheet reads it here."""
    limits = limits or ImportLimits()
    if not path.is_file():
        raise SheetError(f"Không có tệp {path}.")
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise SheetError("Tệp .xls (Excel 97-2003) không đọc được: hãy mở và Lưu thành (Save As) .xlsx hoặc CSV UTF-8.")
    if suffix not in (".csv", ".xlsx", ".xlsm"):
        raise SheetError(f"Tệp {path.name} không phải bảng tính: hãy dùng tệp .xlsx hoặc .csv (xem tệp mẫu).")
    try:
        check_file_size(path, limits)
        if suffix == ".csv":
            return _csv_table(path, limits.max_rows)
        try:
            check_zip(path, limits)
        except (zipfile.BadZipFile, OSError):
            raise SheetError(_BROKEN.format(name=path.name)) from None
        return _xlsx_table(path, limits.max_rows)
    except FileTooLarge as exc:
        raise SheetError(str(exc)) from None


_BROKEN = "Tệp {name} không phải bảng tính .xlsx hợp lệ (có thể đã hỏng hoặc đổi đuôi)."


def _too_many_rows(name: str, max_rows: int) -> SheetError:
    count = grouped(max_rows)  # 20.000, the Vietnamese way
    return SheetError(
        f"Tệp {name} có hơn {count} dòng (ngoài dòng tiêu đề), quá giới hạn IMPORT_MAX_ROWS: hãy chia thành nhiều tệp."
    )


def _csv_table(path: Path, max_rows: int) -> list[tuple[int, list[Any], set[int]]]:
    # Read as a stream, row by row: memory holds the rows kept (at most max_rows), never the whole file.
    with path.open("rb") as probe:
        start = probe.read(4096)
    if b"\x00" in start:
        raise SheetError(f"Tệp {path.name} không phải tệp CSV (có dữ liệu nhị phân).")
    not_utf8 = f"Tệp {path.name} không phải UTF-8: trong Excel hãy chọn Lưu thành (Save As) > 'CSV UTF-8'."
    try:
        with path.open(encoding="utf-8-sig", newline="") as text:
            # Vietnamese Excel writes ';' between cells (the comma is its decimal mark).
            first = text.readline(65_536)
            delimiter = max((",", ";", "\t"), key=first.count)
            text.seek(0)
            table = []
            filled = 0
            number = 0
            try:
                for number, cells in enumerate(csv.reader(text, delimiter=delimiter), start=1):
                    if not any(c.strip() for c in cells):
                        continue
                    filled += 1
                    if filled > max_rows + 1:  # the heading and max_rows rows
                        raise _too_many_rows(path.name, max_rows)
                    formulas = {i for i, c in enumerate(cells) if c.strip().startswith("=")}
                    table.append((number, list(cells), formulas))
            except csv.Error as exc:
                raise SheetError(f"Dòng {number + 1}: tệp {path.name} không đọc được như CSV ({exc}).") from None
    except UnicodeDecodeError:
        raise SheetError(not_utf8) from None
    return table


def _xlsx_table(path: Path, max_rows: int) -> list[tuple[int, list[Any], set[int]]]:
    from openpyxl import load_workbook

    # openpyxl raises what its parser meets in a damaged file (IndexError for a shared string that is not there,
    # KeyError, ValueError, TypeError, XML errors...): every one of them means the same to the operator.
    try:
        book = load_workbook(path, read_only=True, data_only=False)
    except Exception:
        raise SheetError(_BROKEN.format(name=path.name)) from None
    try:
        if not book.worksheets:
            raise SheetError(f"Tệp {path.name} không có trang tính nào.")
        sheet = book.worksheets[0]
        table = []
        filled = 0
        for number, row in enumerate(sheet.iter_rows(), start=1):
            cells = [getattr(c, "value", None) for c in row]
            if not any(_text(c) for c in cells):
                continue
            filled += 1
            if filled > max_rows + 1:
                raise _too_many_rows(path.name, max_rows)
            formulas = {i for i, c in enumerate(row) if getattr(c, "data_type", None) == "f"}
            table.append((number, cells, formulas))
        return table
    except SheetError:
        raise
    except Exception:
        raise SheetError(_BROKEN.format(name=path.name)) from None
    finally:
        book.close()


def too_long(row: SheetRow) -> Problem | None:
    """The problem of a row whose team or member name is wider than its column (refused, never cut)."""
    for heading, value, limit in (
        (HEADINGS["team"], row.team, TEAM_NAME_MAX),
        (HEADINGS["member"], row.member, MEMBER_NAME_MAX),
    ):
        width = max(len(value), len(fold(value)))
        if width > limit:
            return Problem(
                row.number, f"cột '{heading}' dài {width} ký tự, tối đa {limit} ký tự; hãy rút gọn (không nhập gì)."
            )
    return None


def normalize_phone(text: str) -> str | None:
    """A Vietnamese phone number as 0XXXXXXXXX, or None (Excel may have dropped the leading 0)."""
    digits = re.sub(r"[\s.\-()]", "", text)
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) == 11:
        digits = "0" + digits[2:]
    elif len(digits) == 9 and digits.isdigit():
        digits = "0" + digits
    return digits if _PHONE.match(digits) else None


def member_of(row: SheetRow) -> Member | Problem | None:
    """The member a row names (None when it names only a team), or the problem with it."""
    if not (row.member or row.phone or row.telegram or row.zalo or row.role):
        return None
    if not row.member:
        return Problem(row.number, "thiếu họ tên thành viên.")
    role = Role.MEMBER
    if row.role:
        parsed = parse_role(row.role)
        if parsed is None or parsed not in IMPORT_ROLES:
            return Problem(row.number, f"vai trò {row.role!r} không có; dùng 'thành viên' hoặc 'tổ trưởng'.")
        role = parsed
    # The identity a person is found by later: a chat account first, else the phone (a roster entry).
    if row.telegram:
        if not _TELEGRAM.match(row.telegram):
            return Problem(row.number, f"Telegram ID {row.telegram!r} phải là dãy số (không phải @tên).")
        return Member(row.number, row.member, "telegram", row.telegram, role)
    if row.zalo:
        if not _ZALO.match(row.zalo):
            return Problem(row.number, f"Zalo ID {row.zalo!r} không hợp lệ.")
        return Member(row.number, row.member, "zalo", row.zalo, role)
    if row.phone:
        phone = normalize_phone(row.phone)
        if phone is None:
            return Problem(row.number, f"số điện thoại {row.phone!r} không hợp lệ (10 chữ số, bắt đầu bằng 0).")
        return Member(row.number, row.member, "phone", phone, role)
    return Problem(row.number, f"thành viên {row.member!r} cần số điện thoại, Telegram ID hoặc Zalo ID.")


def write_template(target: Path) -> None:
    """Write the import template (.xlsx or .csv by the target's suffix) from the shipped copy."""
    source = (
        Path(__file__).parent / "data" / ("mau-nhap-to.csv" if target.suffix.lower() == ".csv" else TEMPLATE_NAMES[0])
    )
    target.write_bytes(source.read_bytes())
