"""The org feature's Vietnamese messages that the store and the service raise: one place to read and reword them."""

from __future__ import annotations

from tocns.core.permissions import role_label
from tocns.features.org.models import OrgUnit, unit_label


def no_unit(code: str) -> str:
    """No unit has this code."""
    return f"Không có đơn vị nào mang mã {code!r}. Xem danh sách bằng: tocns org list"


def unit_code_taken(code: str) -> str:
    """A new unit's code is already used."""
    return f"Mã đơn vị {code!r} đã tồn tại."


TEAM_NAME_EMPTY = "Tên tổ không được để trống."


def team_exists(parent: OrgUnit, name: str, code: str) -> str:
    """The parent already has a team of this name."""
    return f"{parent.name} đã có tổ {name!r} (mã {code})."


def no_province(code: str) -> str:
    """The divisions list has no province of this code."""
    return f"Không có tỉnh/thành phố nào mang mã {code!r}."


def no_person(platform: str, user_id: str) -> str:
    """A person could be neither found nor created."""
    return f"Không tìm thấy người dùng {platform}:{user_id}."


SAME_PERSON = "Hai bản ghi là cùng một người."
CHAT_ALREADY_BOUND = "Nhóm này đã được kết nối."


def role_not_on_unit(role: str, unit: OrgUnit) -> str:
    """A staff role asked for below a province."""
    return (
        f"Vai trò {role_label(role)} chỉ giao ở cấp tỉnh (hoặc cao hơn), không giao ở {unit_label(unit)}. "
        "Chưa giao vai trò nào."
    )


def code_unknown(typed: str) -> str:
    """A join code nobody issued."""
    return f"Mã kết nối {typed.strip()!r} không đúng. Hãy kiểm tra lại mã do Sở hoặc xã cấp."


def code_used(code: str) -> str:
    """A join code already redeemed."""
    return f"Mã kết nối {code} đã được sử dụng. Mỗi mã chỉ dùng được một lần; hãy xin mã mới."


def code_expired(code: str) -> str:
    """A join code past its expiry."""
    return f"Mã kết nối {code} đã hết hạn. Hãy xin mã mới."


CODE_UNIT_GONE = "Đơn vị của mã này không còn tồn tại."


def code_role_not_on_unit(code: str, role: str, unit: OrgUnit) -> str:
    """A staff code issued on a commune before the rule existed (issue 14)."""
    return (
        f"Mã kết nối {code} không dùng được: nó cấp vai trò {role_label(role)} ở {unit_label(unit)}, mà vai trò "
        "này chỉ giao ở cấp tỉnh. Chưa kết nối, chưa giao vai trò nào; hãy xin mã mới."
    )


def code_of_someone_else(code: str, name: str) -> str:
    """A personal code redeemed by another account of the same platform than the one imported."""
    return (
        f"Mã kết nối {code} là mã riêng của {name}, đã có tài khoản khác trên nền tảng này. Chưa giao vai trò nào; "
        "nếu đây là bạn, hãy nhờ xã cấp mã mới."
    )


# ---------------------------------------------------------------- the team import's problems, per row


def formulas(cells: list[str]) -> str:
    """Cells holding formulas rather than values."""
    return f"ô {', '.join(cells)} là công thức; hãy dán giá trị (Paste Values)."


NO_COMMUNE = "thiếu xã/phường (mã hoặc tên)."
NO_TEAM = "thiếu tên tổ."


def duplicate_team(team: str, commune: str, row: int) -> str:
    """A second team-only row for the same team."""
    return f"trùng tổ {team!r} của {commune} với dòng {row}."


IDENTITY_LABELS = {"telegram": "Telegram ID", "zalo": "Zalo ID", "phone": "số điện thoại"}


def duplicate_person(row: int, platform: str, user_id: str) -> str:
    """The same person on two rows."""
    return f"trùng người với dòng {row} (cùng {IDENTITY_LABELS[platform]} {user_id})."


def ambiguous_commune(text: str, units: list[OrgUnit]) -> str:
    """Several units carry the name the sheet gives."""
    codes = ", ".join(f"{u.code} ({u.name})" for u in units[:5])
    return f"có {len(units)} đơn vị tên {text!r}: {codes}; hãy ghi mã xã/phường."


def unknown_commune(text: str, hints: list[str]) -> str:
    """No unit carries the name the sheet gives."""
    hint = f" Có phải: {', '.join(hints)}?" if hints else ""
    return f"không có xã/phường {text!r} (mã hoặc tên).{hint}"
