"""The dashboard's own SQL: sign-in links and sessions, the 8-week trend, the directives of an area."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.db.dialect import dialect_of
from tocns.features.dashboard.models import DashboardLink
from tocns.features.directives.models import Directive
from tocns.features.org.models import OrgUnit, Person
from tocns.features.rollups.store import under_path, under_paths

LINK_TTL = timedelta(minutes=15)


def hash_token(token: str) -> str:
    """The stored form of a sign-in token (long and random, so a plain SHA-256 suffices)."""
    return hashlib.sha256(token.strip().encode()).hexdigest()


def aware(moment: datetime) -> datetime:
    """A stored moment as aware UTC (SQLite gives naive UTC back)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def create_link(
    session: AsyncSession, person: Person | None, scope: list[tuple[int, str]], now: datetime
) -> tuple[str, DashboardLink]:
    """A new one-time link for `scope` ([unit id, role]); returns the token (kept only hashed) and the row."""
    token = secrets.token_urlsafe(24)
    row = DashboardLink(
        token_hash=hash_token(token),
        person_id=person.id if person else None,
        scope=json.dumps([[unit_id, role] for unit_id, role in scope]),
        created_at=now,
        expires_at=now + LINK_TTL,
    )
    session.add(row)
    await session.flush()
    return token, row


async def link_by_token(session: AsyncSession, token: str) -> DashboardLink | None:
    """The link a token belongs to, used or not."""
    result = await session.exec(select(DashboardLink).where(DashboardLink.token_hash == hash_token(token)))
    return result.first()


async def get_link(session: AsyncSession, link_id: int) -> DashboardLink | None:
    """A link (a session once used) by id."""
    return await session.get(DashboardLink, link_id)


async def units_of_scope(session: AsyncSession, link: DashboardLink) -> list[tuple[OrgUnit, str]]:
    """The active units of a link's scope with the role held there, topmost first."""
    pairs = [(int(u), str(r)) for u, r in json.loads(link.scope)]
    if not pairs:
        return []
    result = await session.exec(select(OrgUnit).where(col(OrgUnit.id).in_([u for u, _ in pairs])))
    units = {u.id: u for u in result.all() if u.active}
    out = [(units[u], r) for u, r in pairs if u in units]
    return sorted(out, key=lambda p: (p[0].depth, p[0].path))


async def root_units(session: AsyncSession) -> list[OrgUnit]:
    """Every active unit without a parent (an admin's dashboard covers them all)."""
    result = await session.exec(
        select(OrgUnit).where(col(OrgUnit.parent_id).is_(None), OrgUnit.active == True)  # noqa: E712
    )
    return list(result.all())


async def daily_totals(session: AsyncSession, unit: OrgUnit, start: date, end: date) -> dict[tuple[date, str], int]:
    """Quantity per (activity date, indicator code) of the active teams under `unit`, read from the rollups."""
    dialect = dialect_of(session)
    params: dict[str, Any] = {
        "start": start.isoformat() if dialect == "sqlite" else start,
        "end": end.isoformat() if dialect == "sqlite" else end,
        "true": True,
    }
    conn = await session.connection()
    rows = await conn.execute(
        text(
            "SELECT q.day, ind.code, SUM(q.quantity) FROM rollup_team_day q "
            "JOIN org_unit t ON t.id = q.org_unit_id JOIN indicator ind ON ind.id = q.indicator_id "
            "WHERE q.day BETWEEN :start AND :end "
            f"AND t.level = 'team' AND t.active = :true AND {under_path(dialect, 't.path', unit.path)} "
            "GROUP BY q.day, ind.code"
        ),
        params,
    )
    out: dict[tuple[date, str], int] = {}
    for day, code, qty in rows.all():
        when = day if isinstance(day, date) else date.fromisoformat(str(day))
        out[(when, code)] = int(qty or 0)
    return out


async def directives_within(
    session: AsyncSession, areas: list[OrgUnit], person_id: int | None, limit: int
) -> list[Directive]:
    """The latest directives that reached a commune inside `areas`, and those `person_id` wrote (newest first)."""
    params: dict[str, Any] = {"limit": limit, "person": person_id or -1}
    under = under_paths(dialect_of(session), "c.path", [a.path for a in areas])
    conn = await session.connection()
    ids = [
        row[0]
        for row in (
            await conn.execute(
                text(
                    "SELECT d.id FROM directive d WHERE d.created_by_person_id = :person OR EXISTS ("
                    "SELECT 1 FROM directive_target dt JOIN org_unit c ON c.id = dt.commune_id "
                    f"WHERE dt.directive_id = d.id AND {under}) ORDER BY d.id DESC LIMIT :limit"
                ),
                params,
            )
        ).all()
    ]
    if not ids:
        return []
    result = await session.exec(select(Directive).where(col(Directive.id).in_(ids)))
    return sorted(result.all(), key=lambda d: -(d.id or 0))


async def person_by_id(session: AsyncSession, person_id: int | None) -> Person | None:
    """A person by id (None for an operator's session)."""
    return await session.get(Person, person_id) if person_id else None
