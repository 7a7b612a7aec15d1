"""The Zalo OA token pair: read it, replace it only if nobody replaced it first, mark it dead."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.features.zalo_oa.models import ZaloOaToken


async def get_token(session: AsyncSession, app_id: str) -> ZaloOaToken | None:
    """The stored pair of this app, or None."""
    return (await session.exec(select(ZaloOaToken).where(ZaloOaToken.app_id == app_id))).first()


async def save_token(
    session: AsyncSession,
    app_id: str,
    access_token: str,
    refresh_token: str,
    expires_at: datetime,
    now: datetime,
    replaced_refresh: str | None,
) -> bool:
    """Store a new pair; with `replaced_refresh`, only over the row still holding that refresh token (False when
    another process replaced it first). Without it, the pair is stored whatever was there (bootstrap)."""
    values = {
        "access_token": access_token,
        "refresh_token": refresh_token,
        "expires_at": expires_at,
        "refreshed_at": now,
        "dead_reason": None,
    }
    if replaced_refresh is not None:
        result = await session.exec(  # type: ignore[call-overload]
            update(ZaloOaToken)
            .where(col(ZaloOaToken.app_id) == app_id, col(ZaloOaToken.refresh_token) == replaced_refresh)
            .values(**values)
        )
        return bool(result.rowcount)
    row = await get_token(session, app_id)
    if row is None:
        session.add(ZaloOaToken(app_id=app_id, **values))  # type: ignore[arg-type]
    else:
        for name, value in values.items():
            setattr(row, name, value)
        session.add(row)
    await session.flush()
    return True


async def mark_dead(session: AsyncSession, app_id: str, refresh_token: str, reason: str) -> None:
    """Record that this refresh token was refused (if it is still the stored one)."""
    await session.exec(  # type: ignore[call-overload]
        update(ZaloOaToken)
        .where(col(ZaloOaToken.app_id) == app_id, col(ZaloOaToken.refresh_token) == refresh_token)
        .values(dead_reason=reason[:500])
    )
