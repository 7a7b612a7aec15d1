"""Applying a sheet of teams and members: resolve communes, check everything, then insert in bulk, all or nothing.

Idempotent: a team is found by its commune and folded name, a person by (platform, user id), a membership by
(person, team); what exists is left as it is (a changed role is updated), so a second run changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.team_import import Member, Problem, SheetRow, member_of
from bot.text import closest, fold
from storage.audit import append_audit_rows
from storage.models import JoinCode, Level, Membership, OrgUnit, Person, Role
from storage.org import _new_code

ACTOR = "operator-cli import-teams"
_PREFIX = re.compile(r"^(xa|phuong|thi tran|dac khu|thon|to dan pho|ap|ban)\s+")
_CHUNK = 500


@dataclass
class TeamPlan:
    """A team of the sheet: its commune, its name, the team already in the database if any, its members."""

    row: int
    commune: OrgUnit
    name: str
    existing: OrgUnit | None = None
    members: list[Member] = field(default_factory=list)


@dataclass
class TeamCode:
    """What the operator hands out for one team."""

    team_code: str
    team_name: str
    commune_name: str
    join_code: str | None
    expires_at: datetime | None
    created: bool


@dataclass
class ImportOutcome:
    """What an import created and what it found already there."""

    teams_created: int = 0
    teams_existing: int = 0
    people_created: int = 0
    memberships_created: int = 0
    roles_changed: int = 0
    codes: list[TeamCode] = field(default_factory=list)


def _key(name: str) -> str:
    return fold(name)


def _bare(name: str) -> str:
    """A folded name without its "Xã"/"Phường"/"Thôn" prefix ("Xã Tân Lập" and "Tân Lập" meet)."""
    return _PREFIX.sub("", fold(name))


async def _in_chunks(session: AsyncSession, query: object, column: object, values: Sequence[object]) -> list:
    out: list = []
    for start in range(0, len(values), _CHUNK):
        out += (await session.exec(query.where(col(column).in_(values[start : start + _CHUNK])))).all()  # type: ignore[attr-defined]
    return out


class _Communes:
    """Every unit a team may hang under (not teams), found by code or by name."""

    def __init__(self, units: Iterable[OrgUnit]) -> None:
        self.by_code: dict[str, OrgUnit] = {}
        self.by_name: dict[str, list[OrgUnit]] = {}
        self.by_bare: dict[str, list[OrgUnit]] = {}
        for unit in units:
            self.by_code[unit.code.upper()] = unit
            self.by_name.setdefault(_key(unit.name), []).append(unit)
            if unit.level == Level.COMMUNE:
                self.by_bare.setdefault(_bare(unit.name), []).append(unit)

    def find(self, text: str) -> OrgUnit | str:
        """The unit `text` names, or the reason why none."""
        unit = self.by_code.get(text.strip().upper())
        if unit is not None:
            return unit
        found = self.by_name.get(_key(text)) or self.by_bare.get(_bare(text)) or []
        if len(found) == 1:
            return found[0]
        if found:
            codes = ", ".join(f"{u.code} ({u.name})" for u in found[:5])
            return f"có {len(found)} đơn vị tên {text!r}: {codes}; hãy ghi mã xã/phường."
        hints = closest(text, [u.name for units in self.by_name.values() for u in units if u.level == Level.COMMUNE])
        hint = f" Có phải: {', '.join(hints)}?" if hints else ""
        return f"không có xã/phường {text!r} (mã hoặc tên).{hint}"


async def plan_import(
    session: AsyncSession, rows: list[SheetRow], under: OrgUnit | None = None
) -> tuple[list[TeamPlan], list[Problem]]:
    """Check every row against the database: the teams to create or reuse with their members, and the problems."""
    query = select(OrgUnit).where(OrgUnit.level != Level.TEAM, OrgUnit.active == True)  # noqa: E712
    if under is not None:
        query = query.where(col(OrgUnit.path).startswith(under.path))
    communes = _Communes((await session.exec(query)).all())
    problems: list[Problem] = []
    teams: dict[tuple[int, str], TeamPlan] = {}
    team_rows: dict[tuple[int, str], int] = {}
    people: dict[tuple[str, str], int] = {}
    for row in rows:
        if row.formulas:
            problems.append(
                Problem(row.number, f"ô {', '.join(row.formulas)} là công thức; hãy dán giá trị (Paste Values).")
            )
            continue
        if not row.commune:
            problems.append(Problem(row.number, "thiếu xã/phường (mã hoặc tên)."))
            continue
        if not row.team:
            problems.append(Problem(row.number, "thiếu tên tổ."))
            continue
        unit = communes.find(row.commune)
        if isinstance(unit, str):
            problems.append(Problem(row.number, unit))
            continue
        member = member_of(row)
        if isinstance(member, Problem):
            problems.append(member)
            continue
        key = (unit.id or 0, _key(row.team))
        plan = teams.setdefault(key, TeamPlan(row=row.number, commune=unit, name=row.team))
        if member is None:
            # A row naming only the team: a second one is a duplicate, not more information.
            if key in team_rows:
                problems.append(
                    Problem(row.number, f"trùng tổ {row.team!r} của {unit.name} với dòng {team_rows[key]}.")
                )
                continue
            team_rows[key] = row.number
            continue
        identity = (member.platform, member.user_id)
        if identity in people:
            label = {"telegram": "Telegram ID", "zalo": "Zalo ID", "phone": "số điện thoại"}[member.platform]
            problems.append(
                Problem(row.number, f"trùng người với dòng {people[identity]} (cùng {label} {member.user_id}).")
            )
            continue
        people[identity] = row.number
        plan.members.append(member)
    plans = list(teams.values())
    if plans:
        commune_ids = list({p.commune.id or 0 for p in plans})
        existing = await _in_chunks(
            session, select(OrgUnit).where(OrgUnit.level == Level.TEAM), OrgUnit.parent_id, commune_ids
        )
        by_key = {(t.parent_id or 0, t.name_folded): t for t in existing}
        for plan in plans:
            plan.existing = by_key.get((plan.commune.id or 0, _key(plan.name)))
    problems.sort(key=lambda p: p.row)
    return plans, problems


async def _team_codes(session: AsyncSession, communes: list[OrgUnit]) -> dict[int, set[str]]:
    taken: dict[int, set[str]] = {}
    for commune in communes:
        prefix = f"{commune.code}-T"
        codes = (await session.exec(select(OrgUnit.code).where(col(OrgUnit.code).startswith(prefix)))).all()
        taken[commune.id or 0] = set(codes)
    return taken


async def apply_import(
    session: AsyncSession, plans: list[TeamPlan], now: datetime, code_ttl: timedelta
) -> ImportOutcome:
    """Create what the plans name and the database lacks, in bulk; a join code (team leader) per new team."""
    outcome = ImportOutcome()
    new_plans = [p for p in plans if p.existing is None]
    communes = list({p.commune.id: p.commune for p in new_plans}.values())
    taken = await _team_codes(session, communes)
    counts: dict[int, int] = {cid: len(codes) for cid, codes in taken.items()}
    created: list[OrgUnit] = []
    for plan in new_plans:
        cid = plan.commune.id or 0
        number = counts[cid] + 1
        while f"{plan.commune.code}-T{number:02d}" in taken[cid]:
            number += 1
        code = f"{plan.commune.code}-T{number:02d}"
        taken[cid].add(code)
        counts[cid] = number
        name = " ".join(plan.name.split())
        unit = OrgUnit(
            code=code,
            name=name,
            name_folded=fold(name),
            level=Level.TEAM,
            parent_id=plan.commune.id,
            depth=plan.commune.depth + 1,
            created_at=now,
        )
        plan.existing = unit
        created.append(unit)
    session.add_all(created)
    await session.flush()
    audit: list[dict[str, Any]] = []
    for plan in new_plans:
        team = plan.existing
        assert team is not None
        team.path = f"{plan.commune.path}{team.id}/"
        audit.append(
            {"action": "create", "entity": "org_unit", "entity_id": team.id, "actor_label": ACTOR, "after": team}
        )
    outcome.teams_created = len(created)
    outcome.teams_existing = len(plans) - len(created)

    # People: found by (platform, user id); the new ones inserted together.
    members = [(plan, m) for plan in plans for m in plan.members]
    found: dict[tuple[str, str], Person] = {}
    for platform in {m.platform for _, m in members}:
        ids = [m.user_id for _, m in members if m.platform == platform]
        for person in await _in_chunks(session, select(Person).where(Person.platform == platform), Person.user_id, ids):
            found[(person.platform, person.user_id)] = person
    new_people = []
    for _, m in members:
        if (m.platform, m.user_id) not in found:
            person = Person(
                platform=m.platform, user_id=m.user_id, display_name=m.name[:200], created_at=now, last_seen_at=now
            )
            found[(m.platform, m.user_id)] = person
            new_people.append(person)
    session.add_all(new_people)
    await session.flush()
    outcome.people_created = len(new_people)

    # Memberships: one per person and team; an existing one keeps its row, its role follows the sheet.
    person_ids = [found[(m.platform, m.user_id)].id or 0 for _, m in members]
    held = {
        (ms.person_id, ms.org_unit_id): ms
        for ms in await _in_chunks(session, select(Membership), Membership.person_id, person_ids)
    }
    new_memberships = []
    for plan, m in members:
        person = found[(m.platform, m.user_id)]
        team = plan.existing
        assert team is not None
        current = held.get((person.id or 0, team.id or 0))
        if current is None:
            new_memberships.append(Membership(person_id=person.id or 0, org_unit_id=team.id or 0, role=m.role.value))
        elif current.role != m.role.value and Role(current.role).rank <= Role.TEAM_LEADER.rank:
            # Only within a team's roles: a sheet never demotes a commune leader or staff.
            before = current.model_copy()
            current.role = m.role.value
            session.add(current)
            audit.append(
                {
                    "action": "set_role",
                    "entity": "membership",
                    "entity_id": current.id,
                    "actor_label": ACTOR,
                    "before": before,
                    "after": current.model_copy(),
                }
            )
            outcome.roles_changed += 1
    session.add_all(new_memberships)
    await session.flush()
    audit += [
        {"action": "join", "entity": "membership", "entity_id": ms.id, "actor_label": ACTOR, "after": ms}
        for ms in new_memberships
    ]
    outcome.memberships_created = len(new_memberships)

    # A join code per new team, for its leader's group; an existing team shows its still-valid code, if any.
    fresh = {id(p) for p in new_plans}
    existing_ids = [p.existing.id or 0 for p in plans if p.existing is not None and id(p) not in fresh]
    valid: dict[int, JoinCode] = {}
    if existing_ids:
        query = select(JoinCode).where(
            JoinCode.role == Role.TEAM_LEADER.value, col(JoinCode.used_at).is_(None), JoinCode.expires_at > now
        )
        for code in await _in_chunks(session, query, JoinCode.org_unit_id, existing_ids):
            valid.setdefault(code.org_unit_id, code)
    new_codes: list[JoinCode] = []
    issued: set[str] = set()
    # Codes already in the table (any unit): a new one never collides with them, so the insert cannot fail.
    candidates = [_new_code() for _ in new_plans]
    in_use = set(await _in_chunks(session, select(JoinCode.code), JoinCode.code, candidates))
    pool = [c for c in candidates if c not in in_use]
    for plan in plans:
        team = plan.existing
        assert team is not None
        if id(plan) in fresh:
            value = pool.pop() if pool else _new_code()
            while value in issued or value in in_use:
                value = _new_code()
            issued.add(value)
            join = JoinCode(
                code=value,
                org_unit_id=team.id or 0,
                role=Role.TEAM_LEADER.value,
                created_at=now,
                expires_at=now + code_ttl,
            )
            new_codes.append(join)
            outcome.codes.append(TeamCode(team.code, team.name, plan.commune.name, value, join.expires_at, True))
        else:
            old = valid.get(team.id or 0)
            outcome.codes.append(
                TeamCode(
                    team.code,
                    team.name,
                    plan.commune.name,
                    old.code if old else None,
                    old.expires_at if old else None,
                    False,
                )
            )
    session.add_all(new_codes)
    await session.flush()
    units = {p.existing.id: p.existing.code for p in new_plans if p.existing is not None}
    audit += [
        {
            "action": "create",
            "entity": "join_code",
            "entity_id": jc.id,
            "actor_label": ACTOR,
            "after": {"org_unit": units.get(jc.org_unit_id), "role": jc.role, "expires_at": jc.expires_at},
        }
        for jc in new_codes
    ]
    await append_audit_rows(session, audit)
    return outcome
