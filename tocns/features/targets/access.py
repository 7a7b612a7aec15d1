"""Who may set which target or denominator, and which unit a typed name means (shared by chat and API)."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.core.context import UserError
from tocns.core.roles import Level, Role
from tocns.features.org import store as org_store
from tocns.features.org.models import Membership, OrgUnit
from tocns.features.org.names import COMMUNE_KIND_WORDS, TEAM_KIND_WORDS, pick_team


def may_set(memberships: list[tuple[Membership, OrgUnit]], unit: OrgUnit) -> bool:
    """Department staff set targets of the province and every unit below; commune leaders those of their teams."""
    for membership, held in memberships:
        if membership.role == Role.ADMIN:
            return True
        if not unit.path.startswith(held.path):
            continue
        if membership.role == Role.STAFF:
            return True
        if membership.role == Role.COMMUNE_LEADER and unit.level == Level.TEAM:
            return True
    return False


def refusal(unit: OrgUnit) -> str:
    """Why the sender may not set this unit's target, in Vietnamese."""
    if unit.level == Level.TEAM:
        return (
            f"Bạn không có quyền đặt mục tiêu cho {unit.name}: mục tiêu của tổ do lãnh đạo xã/phường của tổ "
            "hoặc cán bộ Sở đặt."
        )
    return f"Bạn không có quyền đặt mục tiêu cho {unit.name}: mục tiêu của tỉnh và xã/phường do cán bộ Sở đặt."


async def named_unit(session: AsyncSession, scopes: list[OrgUnit], level: str, name: str, usage: str) -> OrgUnit:
    """The team or commune named, searched under the scopes (the chat's unit, or the sender's units)."""
    units: dict[int, OrgUnit] = {}
    for scope in scopes:
        for unit in await org_store.descendants(session, scope, level=level, include_self=scope.level == level):
            units[unit.id or 0] = unit
    kind = "tổ" if level == Level.TEAM else "xã/phường"
    picked, options = pick_team(
        name, list(units.values()), TEAM_KIND_WORDS if level == Level.TEAM else COMMUNE_KIND_WORDS
    )
    if picked is not None:
        return picked
    if not options:
        raise UserError(
            f"Không tìm thấy {kind} '{name}' trong đơn vị của bạn. Chưa có gì được lưu.\nCách dùng: {usage}"
        )
    listing = "\n".join(f"- {u.name} (mã {u.code})" for u in options[:8])
    raise UserError(f"Chưa chắc '{name}' là {kind} nào. Có {len(options)} đơn vị gần giống:\n{listing}")
