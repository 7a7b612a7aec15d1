"""API tokens of the reports API: created for a unit, stored as SHA-256, checked on every request."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.db.audit import record_audit
from tocns.db.errors import NotFound
from tocns.features.apitokens.models import ApiToken
from tocns.features.org.models import OrgUnit

TOKEN_PREFIX = "tocns_"


def hash_token(token: str) -> str:
    """The stored form of a token (tokens are long and random, so a plain SHA-256 suffices)."""
    return hashlib.sha256(token.strip().encode()).hexdigest()


async def create_token(
    session: AsyncSession, unit: OrgUnit, now: datetime, label: str | None = None, actor_label: str | None = None
) -> str:
    """Create a token for `unit` and return it; only its hash is kept."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(token_hash=hash_token(token), org_unit_id=unit.id or 0, label=label, created_at=now)
    session.add(row)
    await session.flush()
    await record_audit(
        session,
        action="create",
        entity="api_token",
        entity_id=row.id,
        actor_label=actor_label,
        after={"org_unit_id": row.org_unit_id, "label": label},
    )
    return token


async def token_row(session: AsyncSession, token: str, now: datetime) -> ApiToken | None:
    """The row of a valid (not revoked) token, recording its use; None for an unknown or revoked token."""
    result = await session.exec(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at == None)  # noqa: E711
    )
    row = result.first()
    if row is None:
        return None
    row.last_used_at = now
    session.add(row)
    return row


async def list_tokens(session: AsyncSession) -> list[tuple[ApiToken, OrgUnit]]:
    """Every token (revoked ones too) with its unit, oldest first."""
    result = await session.exec(
        select(ApiToken, OrgUnit).join(OrgUnit, col(OrgUnit.id) == col(ApiToken.org_unit_id)).order_by(col(ApiToken.id))
    )
    return [(t, u) for t, u in result.all()]


async def revoke_token(
    session: AsyncSession, token_id: int, now: datetime, actor_label: str | None = None
) -> tuple[ApiToken, bool]:
    """Revoke a token by id; the flag is False when it was already revoked. NotFound for an unknown id."""
    row = await session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"Không có API token số {token_id}. Xem danh sách bằng: tocns apitoken list")
    if row.revoked_at is not None:
        return row, False
    row.revoked_at = now
    session.add(row)
    await record_audit(
        session, action="revoke", entity="api_token", entity_id=row.id, actor_label=actor_label, after={"revoked": True}
    )
    return row, True
