"""Roles in context: who may run which command, and who may manage whom."""

from __future__ import annotations

from tocns.core.roles import Level, Role
from tocns.core.text import fold

GUEST = "guest"
"""Anyone who talks to the bot, including people in no unit yet."""

ROLE_LABELS: dict[str, str] = {
    GUEST: "Mọi người",
    Role.MEMBER: "Thành viên tổ",
    Role.TEAM_LEADER: "Tổ trưởng",
    Role.COMMUNE_LEADER: "Lãnh đạo xã/phường",
    Role.STAFF: "Cán bộ Sở",
    Role.ADMIN: "Quản trị viên",
}

_ROLE_WORDS: dict[str, Role] = {
    "member": Role.MEMBER,
    "thanh vien": Role.MEMBER,
    "thanhvien": Role.MEMBER,
    "to vien": Role.MEMBER,
    "team_leader": Role.TEAM_LEADER,
    "team leader": Role.TEAM_LEADER,
    "to truong": Role.TEAM_LEADER,
    "totruong": Role.TEAM_LEADER,
    "truong to": Role.TEAM_LEADER,
    "commune_leader": Role.COMMUNE_LEADER,
    "commune leader": Role.COMMUNE_LEADER,
    "lanh dao xa": Role.COMMUNE_LEADER,
    "lanh dao": Role.COMMUNE_LEADER,
    "lanhdao": Role.COMMUNE_LEADER,
    "lanh dao phuong": Role.COMMUNE_LEADER,
    "staff": Role.STAFF,
    "can bo so": Role.STAFF,
    "can bo": Role.STAFF,
    "canbo": Role.STAFF,
    "admin": Role.ADMIN,
    "quan tri": Role.ADMIN,
}


def at_least(role: Role) -> frozenset[str]:
    """The set of roles at or above `role`."""
    return frozenset(r.value for r in Role if r.rank >= role.rank)


EVERYONE: frozenset[str] = frozenset({GUEST, *(r.value for r in Role)})
MEMBERS: frozenset[str] = at_least(Role.MEMBER)
LEADERS: frozenset[str] = at_least(Role.TEAM_LEADER)
COMMUNE_LEADERS: frozenset[str] = at_least(Role.COMMUNE_LEADER)
STAFF: frozenset[str] = at_least(Role.STAFF)


def parse_role(text: str) -> Role | None:
    """Read a role typed in Vietnamese or English, with or without diacritics."""
    key = fold(text).replace("-", " ").strip()
    return _ROLE_WORDS.get(key) or _ROLE_WORDS.get(key.replace(" ", "_"))


def role_label(role: str) -> str:
    """The Vietnamese name of a role."""
    return ROLE_LABELS.get(role, role)


def highest(roles: set[str] | frozenset[str]) -> Role | None:
    """The highest real role in a set, or None for a guest."""
    real = [Role(r) for r in roles if r != GUEST]
    return max(real, key=lambda r: r.rank) if real else None


def allowed(command_roles: frozenset[str], person_roles: set[str] | frozenset[str]) -> bool:
    """Whether a person holding `person_roles` may run a command open to `command_roles`."""
    return bool(command_roles & set(person_roles))


UNIT_AUTHORITY: dict[str, Role] = {
    Level.NATIONAL: Role.STAFF,
    Level.PROVINCE: Role.STAFF,
    Level.DISTRICT: Role.COMMUNE_LEADER,
    Level.COMMUNE: Role.COMMUNE_LEADER,
    Level.TEAM: Role.TEAM_LEADER,
}
"""The role a unit's own authority holds there: what an API token issued for the unit acts with (the highest role a
person may hold on it; staff only on a province, as `org.service.role_fits_unit` says)."""


def unit_authority(level: str) -> Role:
    """The role an API token of a unit at `level` acts with (an unknown level: the lowest, a member)."""
    return UNIT_AUTHORITY.get(level, Role.MEMBER)


def who_may(command_roles: frozenset[str]) -> str:
    """The roles that may run a command, in Vietnamese, lowest first: "Cán bộ Sở, Quản trị viên"."""
    real = sorted((Role(r) for r in command_roles if r != GUEST), key=lambda r: r.rank)
    return ", ".join(role_label(r) for r in real) if real else role_label(GUEST)
