"""Bearer API tokens for the /api/v1 routes: one check shared by every endpoint."""

from __future__ import annotations

from datetime import datetime

from fastapi import HTTPException
from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.core.permissions import allowed, role_label, unit_authority, who_may
from tocns.core.registry import Registry
from tocns.features.apitokens.models import ApiToken
from tocns.features.apitokens.store import token_row
from tocns.features.org import store as org_store
from tocns.features.org.models import OrgUnit, unit_label

UNAUTHORIZED = "Thiếu, sai hoặc đã thu hồi API token (Authorization: Bearer <token>)."


def token_roles(unit: OrgUnit) -> frozenset[str]:
    """The roles a token issued for `unit` acts with: those of the unit's own authority (permissions.unit_authority)."""
    return frozenset({unit_authority(unit.level).value})


def forbidden_detail(unit: OrgUnit, registry: Registry, command: str) -> str | None:
    """Why a token of `unit` may not do what the chat command `command` does, or None when it may: the same check
    (`permissions.allowed` on the registry's roles) the router makes for a person in a chat."""
    declared = registry.lookup(command)
    if declared is None:
        raise LookupError(f"the API names chat command {command!r}, which the registry does not have")
    if allowed(declared.roles, token_roles(unit)):
        return None
    return (
        f"Token của {unit_label(unit)} hành động với vai trò {role_label(unit_authority(unit.level))}; "
        f"việc này như lệnh /{declared.name} trong chat, chỉ dành cho: {who_may(declared.roles)}. Chưa làm gì."
    )


async def require_token(
    session: AsyncSession, authorization: str, now: datetime, registry: Registry, command: str
) -> tuple[ApiToken, OrgUnit]:
    """The token row and its unit from an `Authorization: Bearer ...` header, or HTTP 401; HTTP 403 (Vietnamese
    detail) when the unit's authority may not run `command`, the chat command the route does the work of."""
    token = authorization.removeprefix("Bearer ").strip() if authorization.startswith("Bearer ") else ""
    row = await token_row(session, token, now) if token else None
    unit = await org_store.get_unit(session, row.org_unit_id) if row else None
    if row is None or unit is None:
        raise HTTPException(401, UNAUTHORIZED)
    refusal = forbidden_detail(unit, registry, command)
    if refusal is not None:
        raise HTTPException(403, refusal)
    return row, unit
