"""Bearer API tokens for the /api/v1 routes: one check shared by every endpoint."""

from __future__ import annotations

from datetime import datetime

from fastapi import HTTPException
from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.features.apitokens.models import ApiToken
from tocns.features.apitokens.store import token_row
from tocns.features.org import store as org_store
from tocns.features.org.models import OrgUnit

UNAUTHORIZED = "Thiếu, sai hoặc đã thu hồi API token (Authorization: Bearer <token>)."


async def require_token(session: AsyncSession, authorization: str, now: datetime) -> tuple[ApiToken, OrgUnit]:
    """The token row and its unit from an `Authorization: Bearer ...` header, or HTTP 401."""
    token = authorization.removeprefix("Bearer ").strip() if authorization.startswith("Bearer ") else ""
    row = await token_row(session, token, now) if token else None
    unit = await org_store.get_unit(session, row.org_unit_id) if row else None
    if row is None or unit is None:
        raise HTTPException(401, UNAUTHORIZED)
    return row, unit
