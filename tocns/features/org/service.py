"""The org feature's rules (which role a unit may hold, what a join code grants) and the team import (plan, apply)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.core.roles import Level, Role
from tocns.core.text import closest, fold
from tocns.db.errors import Conflict
from tocns.features.org import store, texts
from tocns.features.org.models import JoinCode, Membership, OrgUnit, Person
from tocns.features.org.sheet import Member, Problem, SheetRow, member_of, too_long

# ---------------------------------------------------------------- roles


BELOW_PROVINCE = frozenset({Level.DISTRICT, Level.COMMUNE, Level.TEAM})


def role_fits_unit(role: Role, unit: OrgUnit) -> bool:
    """Whether `role` may be held on `unit`: staff only on a province or above, since staff reach every unit under
    theirs (a staff code issued on a commune once broadcast across two provinces, issue 14)."""
    return not (role == Role.STAFF and unit.level in BELOW_PROVINCE)


def check_role_on_unit(role: Role, unit: OrgUnit) -> None:
    """Refuse a role the unit cannot hold (see role_fits_unit), naming the unit."""
    if not role_fits_unit(role, unit):
        raise Conflict(texts.role_not_on_unit(role, unit))


async def set_membership(
    session: AsyncSession,
    *,
    person: Person,
    unit: OrgUnit,
    role: Role,
    actor: Person | None = None,
    actor_label: str | None = None,
) -> Membership:
    """Give a person a role on a unit, once the role fits the unit (a staff role only on a province or above)."""
    check_role_on_unit(role, unit)
    return await store.set_membership(
        session, person=person, unit=unit, role=role, actor=actor, actor_label=actor_label
    )


async def create_join_code(
    session: AsyncSession,
    *,
    unit: OrgUnit,
    role: Role,
    ttl: timedelta,
    now: datetime | None = None,
    actor_label: str | None = None,
) -> JoinCode:
    """Issue a one-time code for a unit and role, valid for `ttl` (a staff code only on a province or above)."""
    check_role_on_unit(role, unit)
    return await store.create_join_code(session, unit=unit, role=role, ttl=ttl, now=now, actor_label=actor_label)


@dataclass
class Redeemed:
    """What a redeemed join code gave: its unit and role, and the imported person the account now is, if any."""

    code: JoinCode
    unit: OrgUnit
    role: Role
    imported: Person | None = None


async def redeem_join_code(session: AsyncSession, code: str, person: Person, now: datetime) -> Redeemed:
    """Use a join code once and give `person` its role; a personal code makes `person` the imported person it was
    printed for (their roster entry merged in), never a second record. Refusals leave the code unused."""
    join_code, unit = await store.claim_join_code(session, code, person, now)
    role = Role(join_code.role)
    if not role_fits_unit(role, unit):
        # A code issued before staff were bound to a province: refused, and the refusal rolls the claim back.
        raise Conflict(texts.code_role_not_on_unit(join_code.code, role, unit))
    imported = await _personal_claim(session, join_code, person)
    await set_membership(session, person=person, unit=unit, role=role, actor=person)
    return Redeemed(join_code, unit, role, imported)


async def _personal_claim(session: AsyncSession, join_code: JoinCode, person: Person) -> Person | None:
    """Link the account to the person a personal code was printed for; None for a unit's code."""
    imported = await session.get(Person, join_code.person_id) if join_code.person_id else None
    if imported is None or imported.id == person.id:
        return imported
    if imported.platform == store.ROSTER_PLATFORM:
        await store.merge_people(session, keep=person, gone=imported, actor_label=f"{person.platform}:{person.user_id}")
    elif imported.platform == person.platform:
        # The sheet gave this person's account on this platform, and another account is using their code.
        raise Conflict(texts.code_of_someone_else(join_code.code, imported.display_name))
    # Otherwise the same person on another platform: a record per platform is the model, the role is granted.
    return imported


async def duplicate_people(session: AsyncSession) -> list[tuple[OrgUnit, Person, Person]]:
    """(team, roster entry, chat account) pairs of one person recorded twice: same team, same folded full name."""
    by_team: dict[int, tuple[OrgUnit, list[Person]]] = {}
    for team, person in await store.team_people(session):
        by_team.setdefault(team.id or 0, (team, []))[1].append(person)
    pairs = []
    for team, people in by_team.values():
        accounts = [p for p in people if p.platform != store.ROSTER_PLATFORM]
        for roster in (p for p in people if p.platform == store.ROSTER_PLATFORM):
            same = [a for a in accounts if fold(a.display_name) == fold(roster.display_name)]
            if len(same) == 1:  # two accounts with the name: a person must say which (/toila), never a guess
                pairs.append((team, roster, same[0]))
    return pairs


# ---------------------------------------------------------------- bulk import of teams (tocns org import-teams)
# Applying a sheet of teams and members: resolve communes, check everything, then insert in bulk, all or nothing.
# Idempotent: a team is found by its commune and folded name, a person by (platform, user id), a membership by
# (person, team); what exists is left as it is (a changed role is updated), so a second run changes nothing.

IMPORT_ACTOR = "operator-cli import-teams"
_PREFIX = re.compile(r"^(xa|phuong|thi tran|dac khu|thon|to dan pho|ap|ban)\s+")


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
class PersonCode:
    """One imported person's own join code: they send it (in the commune group or privately) to become themselves."""

    name: str
    team_code: str
    team_name: str
    role: Role
    join_code: str | None
    expires_at: datetime | None


@dataclass
class ImportOutcome:
    """What an import created and what it found already there."""

    teams_created: int = 0
    teams_existing: int = 0
    people_created: int = 0
    memberships_created: int = 0
    roles_changed: int = 0
    codes: list[TeamCode] = field(default_factory=list)
    personal: list[PersonCode] = field(default_factory=list)


def _bare(name: str) -> str:
    """A folded name without its "Xã"/"Phường"/"Thôn" prefix ("Xã Tân Lập" and "Tân Lập" meet)."""
    return _PREFIX.sub("", fold(name))


class _Communes:
    """Every unit a team may hang under (not teams), found by code or by name."""

    def __init__(self, units: Iterable[OrgUnit]) -> None:
        self.by_code: dict[str, OrgUnit] = {}
        self.by_name: dict[str, list[OrgUnit]] = {}
        self.by_bare: dict[str, list[OrgUnit]] = {}
        for unit in units:
            self.by_code[unit.code.upper()] = unit
            self.by_name.setdefault(fold(unit.name), []).append(unit)
            if unit.level == Level.COMMUNE:
                self.by_bare.setdefault(_bare(unit.name), []).append(unit)

    def find(self, text: str) -> OrgUnit | str:
        """The unit `text` names, or the reason why none."""
        unit = self.by_code.get(text.strip().upper())
        if unit is not None:
            return unit
        found = self.by_name.get(fold(text)) or self.by_bare.get(_bare(text)) or []
        if len(found) == 1:
            return found[0]
        if found:
            return texts.ambiguous_commune(text, found)
        communes = [u.name for units in self.by_name.values() for u in units if u.level == Level.COMMUNE]
        return texts.unknown_commune(text, closest(text, communes))


def _check_row(row: SheetRow, communes: _Communes) -> tuple[OrgUnit, Member | None] | Problem:
    """A row's commune and member, or the first problem it has."""
    if row.formulas:
        return Problem(row.number, texts.formulas(row.formulas))
    if not row.commune:
        return Problem(row.number, texts.NO_COMMUNE)
    if not row.team:
        return Problem(row.number, texts.NO_TEAM)
    if (long := too_long(row)) is not None:
        return long
    unit = communes.find(row.commune)
    if isinstance(unit, str):
        return Problem(row.number, unit)
    member = member_of(row)
    if isinstance(member, Problem):
        return member
    return unit, member


@dataclass
class _Planner:
    """The plans of a sheet as its rows are read, with the rows each team and person were first seen on."""

    communes: _Communes
    teams: dict[tuple[int, str], TeamPlan] = field(default_factory=dict)
    team_rows: dict[tuple[int, str], int] = field(default_factory=dict)
    people: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, row: SheetRow) -> Problem | None:
        """Add a row to its team's plan, or say why it cannot be imported."""
        checked = _check_row(row, self.communes)
        if isinstance(checked, Problem):
            return checked
        unit, member = checked
        key = (unit.id or 0, fold(row.team))
        plan = self.teams.setdefault(key, TeamPlan(row=row.number, commune=unit, name=row.team))
        if member is None:
            # A row naming only the team: a second one is a duplicate, not more information.
            if key in self.team_rows:
                return Problem(row.number, texts.duplicate_team(row.team, unit.name, self.team_rows[key]))
            self.team_rows[key] = row.number
            return None
        identity = (member.platform, member.user_id)
        if identity in self.people:
            return Problem(row.number, texts.duplicate_person(self.people[identity], *identity))
        self.people[identity] = row.number
        plan.members.append(member)
        return None


async def plan_team_import(
    session: AsyncSession, rows: list[SheetRow], under: OrgUnit | None = None
) -> tuple[list[TeamPlan], list[Problem]]:
    """Check every row against the database: the teams to create or reuse with their members, and the problems."""
    planner = _Planner(_Communes(await store.team_parents(session, under)))
    problems = [problem for row in rows if (problem := planner.add(row)) is not None]
    plans = list(planner.teams.values())
    if plans:
        existing = await store.teams_of(session, list({p.commune.id or 0 for p in plans}))
        by_key = {(t.parent_id or 0, t.name_folded): t for t in existing}
        for plan in plans:
            plan.existing = by_key.get((plan.commune.id or 0, fold(plan.name)))
    problems.sort(key=lambda p: p.row)
    return plans, problems


def _audit(action: str, entity: str, entity_id: Any, after: Any, before: Any = None) -> dict[str, Any]:
    row = {"action": action, "entity": entity, "entity_id": entity_id, "actor_label": IMPORT_ACTOR, "after": after}
    return row | ({"before": before} if before is not None else {})


async def _create_teams(session: AsyncSession, plans: list[TeamPlan], now: datetime, audit: list) -> None:
    """Create the plans' new teams, numbered after the codes their commune already uses."""
    new_plans = [p for p in plans if p.existing is None]
    taken = await store.team_codes_taken(session, list({p.commune.id: p.commune for p in new_plans}.values()))
    counts = {cid: len(codes) for cid, codes in taken.items()}
    for plan in new_plans:
        cid = plan.commune.id or 0
        number = counts[cid] + 1
        while f"{plan.commune.code}-T{number:02d}" in taken[cid]:
            number += 1
        code = f"{plan.commune.code}-T{number:02d}"
        taken[cid].add(code)
        counts[cid] = number
        name = " ".join(plan.name.split())
        plan.existing = OrgUnit(
            code=code,
            name=name,
            name_folded=fold(name),
            level=Level.TEAM,
            parent_id=plan.commune.id,
            depth=plan.commune.depth + 1,
            created_at=now,
        )
    await store.insert_all(session, [p.existing for p in new_plans])
    for plan in new_plans:
        team = plan.existing
        assert team is not None
        team.path = f"{plan.commune.path}{team.id}/"
        audit.append(_audit("create", "org_unit", team.id, team))


async def _people(
    session: AsyncSession, members: list[tuple[TeamPlan, Member]], now: datetime
) -> tuple[dict[tuple[str, str], Person], list[Person]]:
    """Every member's person, found by (platform, user id) or created; and the created ones."""
    found: dict[tuple[str, str], Person] = {}
    for platform in {m.platform for _, m in members}:
        ids = [m.user_id for _, m in members if m.platform == platform]
        for person in await store.people_by_user_id(session, platform, ids):
            found[(person.platform, person.user_id)] = person
    new_people = []
    for _, m in members:
        if (m.platform, m.user_id) not in found:
            person = Person(
                platform=m.platform, user_id=m.user_id, display_name=m.name, created_at=now, last_seen_at=now
            )
            found[(m.platform, m.user_id)] = person
            new_people.append(person)
    await store.insert_all(session, new_people)
    return found, new_people


async def _memberships(
    session: AsyncSession,
    members: list[tuple[TeamPlan, Member]],
    found: dict[tuple[str, str], Person],
    outcome: ImportOutcome,
    audit: list,
) -> None:
    """One membership per person and team; an existing one keeps its row, its role follows the sheet."""
    person_ids = [found[(m.platform, m.user_id)].id or 0 for _, m in members]
    held = {(ms.person_id, ms.org_unit_id): ms for ms in await store.memberships_of_people(session, person_ids)}
    new_memberships = []
    for plan, m in members:
        person, team = found[(m.platform, m.user_id)], plan.existing
        assert team is not None
        current = held.get((person.id or 0, team.id or 0))
        if current is None:
            new_memberships.append(Membership(person_id=person.id or 0, org_unit_id=team.id or 0, role=m.role.value))
        elif current.role != m.role.value and Role(current.role).rank <= Role.TEAM_LEADER.rank:
            # Only within a team's roles: a sheet never demotes a commune leader or staff.
            before = current.model_copy()
            current.role = m.role.value
            session.add(current)
            audit.append(_audit("set_role", "membership", current.id, current.model_copy(), before))
            outcome.roles_changed += 1
    await store.insert_all(session, new_memberships)
    audit += [_audit("join", "membership", ms.id, ms) for ms in new_memberships]
    outcome.memberships_created = len(new_memberships)


class _CodeValues:
    """Fresh join code values that collide with no code in the table nor with each other."""

    def __init__(self, in_use: set[str], pool: list[str]) -> None:
        self.in_use = in_use
        self.pool = pool

    @classmethod
    async def reserve(cls, session: AsyncSession, count: int) -> _CodeValues:
        """Draw `count` candidates and drop those the table already holds (so the insert cannot fail)."""
        candidates = [store.new_code_value() for _ in range(count)]
        in_use = await store.codes_in_use(session, candidates)
        return cls(in_use, [c for c in candidates if c not in in_use])

    def take(self) -> str:
        """One value never handed out before."""
        value = self.pool.pop() if self.pool else store.new_code_value()
        while value in self.in_use:
            value = store.new_code_value()
        self.in_use.add(value)
        return value


def _new_code(
    values: _CodeValues, unit: OrgUnit, role: Role, now: datetime, ttl: timedelta, person: Person | None = None
) -> JoinCode:
    return JoinCode(
        code=values.take(),
        org_unit_id=unit.id or 0,
        role=role.value,
        person_id=person.id if person else None,
        created_at=now,
        expires_at=now + ttl,
    )


async def _team_codes(
    session: AsyncSession, plans: list[TeamPlan], fresh: set[int], values: _CodeValues, now: datetime, ttl: timedelta
) -> tuple[list[TeamCode], list[JoinCode]]:
    """A team leader's code per new team; an existing team shows its still-valid code, if any."""
    existing_ids = [p.existing.id or 0 for p in plans if p.existing is not None and id(p) not in fresh]
    valid: dict[int, JoinCode] = {}
    for old in await store.valid_codes(session, JoinCode.org_unit_id, existing_ids, now):
        if old.role == Role.TEAM_LEADER.value and old.person_id is None:
            valid.setdefault(old.org_unit_id, old)
    shown, new_codes = [], []
    for plan in plans:
        team = plan.existing
        assert team is not None
        code = _new_code(values, team, Role.TEAM_LEADER, now, ttl) if id(plan) in fresh else valid.get(team.id or 0)
        if id(plan) in fresh and code is not None:
            new_codes.append(code)
        value, expires = (code.code, code.expires_at) if code else (None, None)
        shown.append(TeamCode(team.code, team.name, plan.commune.name, value, expires, id(plan) in fresh))
    return shown, new_codes


async def _personal_codes(
    session: AsyncSession,
    members: list[tuple[TeamPlan, Member]],
    found: dict[tuple[str, str], Person],
    created: list[Person],
    values: _CodeValues,
    now: datetime,
    ttl: timedelta,
) -> tuple[list[PersonCode], list[JoinCode]]:
    """A personal code per person this import created; people already there show their still-valid one, if any."""
    new_ids = {id(p) for p in created}
    ids = [p.id or 0 for p in found.values() if id(p) not in new_ids]
    valid = {c.person_id: c for c in await store.valid_codes(session, JoinCode.person_id, ids, now)}
    shown, new_codes = [], []
    for plan, m in members:
        person, team = found[(m.platform, m.user_id)], plan.existing
        assert team is not None
        code = _new_code(values, team, m.role, now, ttl, person) if id(person) in new_ids else valid.get(person.id)
        if id(person) in new_ids and code is not None:
            new_codes.append(code)
        value, expires = (code.code, code.expires_at) if code else (None, None)
        shown.append(PersonCode(m.name, team.code, team.name, m.role, value, expires))
    return shown, new_codes


async def apply_team_import(
    session: AsyncSession, plans: list[TeamPlan], now: datetime, code_ttl: timedelta
) -> ImportOutcome:
    """Create what the plans name and the database lacks, in bulk; a team leader's code per new team and a
    personal code per new person."""
    outcome = ImportOutcome()
    audit: list[dict[str, Any]] = []
    fresh = {id(p) for p in plans if p.existing is None}
    await store.ensure_national(session, IMPORT_ACTOR)  # a national unit above the provinces (issue 24)
    await _create_teams(session, plans, now, audit)
    outcome.teams_created, outcome.teams_existing = len(fresh), len(plans) - len(fresh)
    members = [(plan, m) for plan in plans for m in plan.members]
    found, created = await _people(session, members, now)
    outcome.people_created = len(created)
    await _memberships(session, members, found, outcome, audit)
    values = await _CodeValues.reserve(session, len(fresh) + len(created))
    outcome.codes, team_codes = await _team_codes(session, plans, fresh, values, now, code_ttl)
    outcome.personal, personal_codes = await _personal_codes(session, members, found, created, values, now, code_ttl)
    new_codes = team_codes + personal_codes
    await store.insert_all(session, new_codes)
    units = {p.existing.id: p.existing.code for p in plans if p.existing is not None}
    for jc in new_codes:
        after = {"org_unit": units.get(jc.org_unit_id), "role": jc.role, "expires_at": jc.expires_at}
        audit.append(_audit("create", "join_code", jc.id, after | {"person": jc.person_id} if jc.person_id else after))
    await store.insert_audit(session, audit)
    return outcome
