"""The org feature's SQL: the tree, chats, people, memberships, join codes (rules and the team import: service.py)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, event, exists, func, literal, text, true, update
from sqlalchemy import select as sa_select
from sqlalchemy.orm import Session, aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.core.clock import utcnow
from tocns.core.messages import Mention
from tocns.core.roles import Level, Role
from tocns.core.text import fold, vi_sorted
from tocns.db import raw
from tocns.db.audit import append_audit_rows, record_audit
from tocns.db.dialect import dialect_of, is_postgres
from tocns.db.errors import Conflict, Expired, NotFound
from tocns.db.upsert import per_dialect, table_of
from tocns.features.org import texts
from tocns.features.org.models import ChatBinding, JoinCode, Membership, OrgUnit, Person
from tocns.features.org.names import name_words_match
from tocns.features.rollups.store import under_paths

JOIN_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
JOIN_CODE_LENGTH = 8
_CHUNK = 500

# ---------------------------------------------------------------- org units


async def get_unit(session: AsyncSession, unit_id: int) -> OrgUnit | None:
    """Load an org unit by id."""
    return await session.get(OrgUnit, unit_id)


async def get_unit_by_code(session: AsyncSession, code: str) -> OrgUnit | None:
    """Load an org unit by its code (case-insensitive)."""
    code = code.strip()
    result = await session.exec(select(OrgUnit).where(OrgUnit.code == code))
    unit = result.first()
    if unit is None and code != code.upper():
        result = await session.exec(select(OrgUnit).where(OrgUnit.code == code.upper()))
        unit = result.first()
    return unit


async def require_unit(session: AsyncSession, code: str) -> OrgUnit:
    """Load an org unit by code or raise NotFound with a clear message."""
    unit = await get_unit_by_code(session, code)
    if unit is None:
        raise NotFound(texts.no_unit(code))
    return unit


async def create_unit(
    session: AsyncSession,
    *,
    code: str,
    name: str,
    level: str,
    parent: OrgUnit | None = None,
    actor_label: str | None = None,
) -> OrgUnit:
    """Create an org unit under `parent` (any depth) and record it in the audit log."""
    if await get_unit_by_code(session, code) is not None:
        raise Conflict(texts.unit_code_taken(code))
    unit = OrgUnit(
        code=code,
        name=name,
        name_folded=fold(name),
        level=level,
        parent_id=parent.id if parent else None,
        depth=(parent.depth + 1) if parent else 0,
    )
    session.add(unit)
    await session.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    await record_audit(
        session, action="create", entity="org_unit", entity_id=unit.id, actor_label=actor_label, after=unit
    )
    return unit


async def children(session: AsyncSession, unit: OrgUnit) -> list[OrgUnit]:
    """Direct children of a unit, by name in Vietnamese order."""
    result = await session.exec(select(OrgUnit).where(OrgUnit.parent_id == unit.id).order_by(col(OrgUnit.code)))
    return vi_sorted(result.all(), key=lambda u: u.name)


async def descendants(
    session: AsyncSession, unit: OrgUnit, level: str | None = None, include_self: bool = False
) -> list[OrgUnit]:
    """Every unit below `unit` (optionally of one level), ordered by code."""
    query = select(OrgUnit).where(col(OrgUnit.path).startswith(unit.path), OrgUnit.active == True)  # noqa: E712
    if not include_self:
        query = query.where(OrgUnit.id != unit.id)
    if level is not None:
        query = query.where(OrgUnit.level == level)
    result = await session.exec(query.order_by(col(OrgUnit.code)))
    return list(result.all())


async def active_units(session: AsyncSession, level: str) -> list[OrgUnit]:
    """Every active unit of one level, ordered by code."""
    result = await session.exec(
        select(OrgUnit).where(OrgUnit.level == level, OrgUnit.active == True).order_by(col(OrgUnit.code))  # noqa: E712
    )
    return list(result.all())


async def ancestors(session: AsyncSession, unit: OrgUnit, include_self: bool = True) -> list[OrgUnit]:
    """The chain from the root down to `unit`."""
    ids = [int(part) for part in unit.path.strip("/").split("/") if part]
    if not include_self:
        ids = [i for i in ids if i != unit.id]
    if not ids:
        return []
    result = await session.exec(select(OrgUnit).where(col(OrgUnit.id).in_(ids)))
    by_id = {u.id: u for u in result.all()}
    return [by_id[i] for i in ids if i in by_id]


async def nearest_of_level(session: AsyncSession, unit: OrgUnit, level: str) -> OrgUnit | None:
    """The unit itself or its closest ancestor of the given level."""
    for candidate in reversed(await ancestors(session, unit)):
        if candidate.level == level:
            return candidate
    return None


async def list_units(
    session: AsyncSession, under: OrgUnit | None = None, max_depth: int | None = None
) -> list[OrgUnit]:
    """Units of the tree (or of a subtree), in tree order."""
    query = select(OrgUnit)
    if under is not None:
        query = query.where(col(OrgUnit.path).startswith(under.path))
        if max_depth is not None:
            query = query.where(OrgUnit.depth <= under.depth + max_depth)
    elif max_depth is not None:
        query = query.where(OrgUnit.depth <= max_depth)
    result = await session.exec(query.order_by(col(OrgUnit.path)))
    return list(result.all())


async def add_team(session: AsyncSession, parent_code: str, name: str, actor_label: str | None = None) -> OrgUnit:
    """Create a team under a commune (or any unit); its code is the parent's code plus a number."""
    parent = await require_unit(session, parent_code)
    name = " ".join(name.split())
    if not name:
        raise Conflict(texts.TEAM_NAME_EMPTY)
    siblings = await children(session, parent)
    for sibling in siblings:
        if sibling.level == Level.TEAM and sibling.name_folded == fold(name):
            raise Conflict(texts.team_exists(parent, sibling.name, sibling.code))
    count = await session.scalar(
        select(func.count()).select_from(OrgUnit).where(OrgUnit.parent_id == parent.id, OrgUnit.level == Level.TEAM)
    )
    number = int(count or 0) + 1
    code = f"{parent.code}-T{number:02d}"
    while await get_unit_by_code(session, code) is not None:
        number += 1
        code = f"{parent.code}-T{number:02d}"
    return await create_unit(session, code=code, name=name, level=Level.TEAM, parent=parent, actor_label=actor_label)


NATIONAL_CODE = "VN"
NATIONAL_NAME = "Cả nước"


async def ensure_national(session: AsyncSession, actor_label: str | None = None) -> OrgUnit:
    """The national unit above every province: created when missing, and every province still at the root moved
    under it (the paths and depths below follow, in one UPDATE per province)."""
    query = select(OrgUnit).where(OrgUnit.level == Level.NATIONAL).order_by(col(OrgUnit.id)).limit(1)
    national = (await session.exec(query)).first()
    if national is None:
        national = await create_unit(
            session, code=NATIONAL_CODE, name=NATIONAL_NAME, level=Level.NATIONAL, actor_label=actor_label
        )
    roots = await session.exec(select(OrgUnit).where(col(OrgUnit.parent_id).is_(None), OrgUnit.level == Level.PROVINCE))
    for province in roots.all():
        before = province.path
        await session.exec(
            update(OrgUnit)  # type: ignore[call-overload]
            .where(col(OrgUnit.path).startswith(province.path))
            .values(path=literal(national.path.rstrip("/")) + col(OrgUnit.path), depth=col(OrgUnit.depth) + 1)
            .execution_options(synchronize_session="evaluate")
        )
        province.parent_id = national.id
        session.add(province)
        await record_audit(
            session,
            action="move",
            entity="org_unit",
            entity_id=province.id,
            actor_label=actor_label,
            before={"path": before},
            after={"path": province.path, "parent": national.code},
        )
    await session.flush()
    return national


@dataclass
class ImportResult:
    """What an import of administrative units created."""

    provinces: int = 0
    communes: int = 0
    skipped: int = 0


async def import_divisions(
    session: AsyncSession, province_code: str | None = None, actor_label: str | None = None
) -> ImportResult:
    """Load provinces and communes (wards) with their official codes from `vietnam-provinces`; idempotent."""
    from vietnam_provinces import Province, Ward

    provinces = list(Province.iter_all())
    if province_code is not None:
        wanted = province_code.strip().lstrip("0") or "0"
        provinces = [p for p in provinces if str(p.code.value) == wanted]
        if not provinces:
            raise NotFound(texts.no_province(province_code))
    national = await ensure_national(session, actor_label)
    existing_codes = set((await session.exec(select(OrgUnit.code))).all())
    result = ImportResult()
    for province in provinces:
        code = f"{province.code.value:02d}"
        if code in existing_codes:
            unit = await require_unit(session, code)
            result.skipped += 1
        else:
            unit = await create_unit(
                session, code=code, name=province.name, level=Level.PROVINCE, parent=national, actor_label=actor_label
            )
            result.provinces += 1
        new_units: list[OrgUnit] = []
        for ward in Ward.iter_by_province(province.code):
            wcode = f"{ward.code.value:05d}"
            if wcode in existing_codes:
                result.skipped += 1
                continue
            new_units.append(
                OrgUnit(
                    code=wcode,
                    name=ward.name,
                    name_folded=fold(ward.name),
                    level=Level.COMMUNE,
                    parent_id=unit.id,
                    depth=unit.depth + 1,
                )
            )
        session.add_all(new_units)
        await session.flush()
        for ward_unit in new_units:
            ward_unit.path = f"{unit.path}{ward_unit.id}/"
        result.communes += len(new_units)
    await record_audit(
        session,
        action="import",
        entity="org_unit",
        entity_id=province_code or "*",
        actor_label=actor_label,
        after={"provinces": result.provinces, "communes": result.communes},
    )
    return result


# ---------------------------------------------------------------- people


_PERSON = table_of(Person)


def _person_param(name: str, column: str) -> Any:
    return bindparam(name, type_=_PERSON.c[column].type)


# Refresh a known person: an empty username or private chat never erases a known one. Tried first because a
# known person is the common case, and an UPDATE (unlike INSERT ... ON CONFLICT) draws no id from the sequence.
_PERSON_UPDATE = (
    update(_PERSON)
    .where(_PERSON.c.platform == _person_param("p_platform", "platform"))
    .where(_PERSON.c.user_id == _person_param("p_user_id", "user_id"))
    .values(
        display_name=_person_param("p_display_name", "display_name"),
        username=func.coalesce(_person_param("p_new_username", "username"), _PERSON.c.username),
        private_chat_id=func.coalesce(
            _person_param("p_new_private_chat_id", "private_chat_id"), _PERSON.c.private_chat_id
        ),
        last_seen_at=_person_param("p_seen", "last_seen_at"),
    )
    .returning(*_PERSON.c)
)
_PERSON_REFRESH = (
    select(Person)
    .from_statement(_PERSON_UPDATE)
    # A Person already in the session (a long CLI or demo session) takes the stored values.
    .execution_options(populate_existing=True)
)

_person_insert = per_dialect(
    lambda insert: select(Person).from_statement(
        insert(_PERSON)
        .values(
            platform=_person_param("p_platform", "platform"),
            user_id=_person_param("p_user_id", "user_id"),
            display_name=_person_param("p_display_name", "display_name"),
            username=_person_param("p_username", "username"),
            private_chat_id=_person_param("p_private_chat_id", "private_chat_id"),
            created_at=_person_param("p_stamp", "created_at"),
            last_seen_at=_person_param("p_stamp", "last_seen_at"),
        )
        .on_conflict_do_nothing(index_elements=["platform", "user_id"])
        .returning(*_PERSON.c)
    )
)


async def upsert_person(
    session: AsyncSession,
    *,
    platform: str,
    user_id: str,
    display_name: str,
    username: str | None = None,
    private_chat_id: str | None = None,
    now: datetime | None = None,
) -> Person:
    """Find or create a person, refreshing their name and private chat; safe when two updates race."""
    params = _person_params(platform, user_id, display_name, username, private_chat_id, now)
    # A known person: one UPDATE ... RETURNING. A new one: INSERT ... ON CONFLICT DO NOTHING, because the same
    # new person's first messages in two chats may be processed at once (chats run in parallel); the loser
    # refreshes the winner's row instead of failing.
    statements: tuple[Any, ...] = (_PERSON_REFRESH, _person_insert(session), _PERSON_REFRESH)
    for statement in statements:
        person: Person | None = (await session.exec(statement, params=params)).scalars().first()
        if person is not None:
            return person
    raise NotFound(texts.no_person(platform, user_id))


def _person_params(
    platform: str,
    user_id: str,
    display_name: str,
    username: str | None,
    private_chat_id: str | None,
    now: datetime | None,
) -> dict[str, Any]:
    """The parameters of the person statements: the refresh, the insert and the group sender's (shared)."""
    stamp = now or utcnow()
    return {
        "p_platform": platform,
        "p_user_id": user_id,
        "p_display_name": (display_name or "").strip()[:200] or f"Người dùng {user_id}",
        "p_username": username,
        "p_private_chat_id": private_chat_id,
        "p_stamp": stamp,
        "p_new_username": username or None,
        "p_new_private_chat_id": private_chat_id or None,
        "p_seen": stamp,
    }


async def get_person(session: AsyncSession, platform: str, user_id: str) -> Person | None:
    """Load a person by platform user id."""
    result = await session.exec(select(Person).where(Person.platform == platform, Person.user_id == user_id))
    return result.first()


async def is_private_chat(session: AsyncSession, platform: str, chat_id: str) -> bool:
    """Whether the chat is someone's private chat with the bot (every other chat is a group)."""
    query = select(Person.id).where(Person.platform == platform, Person.private_chat_id == chat_id).limit(1)
    return (await session.exec(query)).first() is not None


async def person_of_mention(session: AsyncSession, platform: str, mention: Mention) -> Person | None:
    """The person a platform mention names by user id (a tapped name), created if the bot has not met them yet;
    None when the mention carries no user id (a bare @username)."""
    if not mention.user_id:
        return None
    person = await get_person(session, platform, mention.user_id)
    if person is not None:
        return person
    return await upsert_person(
        session,
        platform=platform,
        user_id=mention.user_id,
        display_name=mention.display_name or mention.username or "",
        username=mention.username,
    )


async def find_people(session: AsyncSession, unit: OrgUnit | None, query: str, platform: str) -> list[Person]:
    """People matching `@username`, a whole display name, or whole words of it, in the unit's subtree."""
    q = query.strip().lstrip("@")
    if not q:
        return []
    by_username = await session.exec(
        select(Person).where(Person.platform == platform, func.lower(Person.username) == q.lower())
    )
    found = list(by_username.all())
    if found:
        return found
    people_query = select(Person).where(Person.platform == platform)
    if unit is not None:
        people_query = (
            people_query.join(Membership, col(Membership.person_id) == col(Person.id))
            .join(OrgUnit, col(OrgUnit.id) == col(Membership.org_unit_id))
            .where(col(OrgUnit.path).startswith(unit.path))
        )
    candidates = list((await session.exec(people_query.distinct())).all())
    folded = fold(q)
    exact = [p for p in candidates if folded in {fold(name) for name in _names_of(p)}]
    if exact:
        return exact
    # Whole words only: "@Hoa" is Bế Thị Hoa, never Hoàng Văn Tùng (docs/grammar.md, names).
    return [p for p in candidates if any(name_words_match(q, name) for name in _names_of(p))]


def _names_of(person: Person) -> list[str]:
    """The names a person is called by: their chat name, and the imported roster name their account claimed."""
    return [person.display_name, *([person.roster_name] if person.roster_name else [])]


ROSTER_PLATFORM = "phone"
"""The platform of a person imported from a sheet with only a phone number: a roster entry, not a chat account."""


@dataclass
class MergeOutcome:
    """What merging two records of one person moved: rows per table, and roles kept."""

    moved: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)


def _person_references() -> list[tuple[Any, Any]]:
    """(table, column) of every column that refers to person.id, in every table the process knows."""
    person_table = table_of(Person)
    refs = []
    for table in person_table.metadata.tables.values():
        for column in table.columns:
            if any(fk.column.table is person_table for fk in column.foreign_keys):
                refs.append((table, column))
    return refs


def _unique_sets(table: Any, column: Any) -> list[list[Any]]:
    """The other columns of each unique constraint or index of `table` that includes `column`."""
    from sqlalchemy import UniqueConstraint as _Unique

    sets = [list(c.columns) for c in table.constraints if isinstance(c, _Unique)]
    sets += [list(i.columns) for i in table.indexes if i.unique]
    return [[c for c in cols if c is not column] for cols in sets if column in cols]


async def merge_people(session: AsyncSession, *, keep: Person, gone: Person, actor_label: str) -> MergeOutcome:
    """Make `gone` (e.g. an imported roster entry) part of `keep` (the account the person uses), then delete it.

    Every row that refers to `gone` (records, tasks, acknowledgements, audit...) now refers to `keep`; where both
    hold a row that must be unique (a membership of the same unit), `keep`'s stays, with the higher of the two roles.
    """
    from sqlalchemy import delete as _delete
    from sqlalchemy import select as _select

    if keep.id == gone.id:
        raise Conflict(texts.SAME_PERSON)
    outcome = MergeOutcome()
    conn = await session.connection()
    await session.flush()
    # Roles: the higher of the two on a unit both hold.
    mine_rows = await session.exec(select(Membership).where(Membership.person_id == keep.id))
    kept = {m.org_unit_id: m for m in mine_rows.all()}
    for theirs in (await session.exec(select(Membership).where(Membership.person_id == gone.id))).all():
        mine = kept.get(theirs.org_unit_id)
        if mine is not None and Role(theirs.role).rank > Role(mine.role).rank:
            mine.role = theirs.role
    await session.flush()
    for table, column in _person_references():
        for others in _unique_sets(table, column):
            if not others:
                continue
            twin = table.alias("twin")
            clash = (
                _select(literal(1))
                .select_from(twin)
                .where(twin.c[column.name] == keep.id, *[twin.c[o.name] == table.c[o.name] for o in others])
            )
            result = await conn.execute(_delete(table).where(column == gone.id, clash.exists()))
            if result.rowcount:
                outcome.dropped[table.name] = outcome.dropped.get(table.name, 0) + result.rowcount
        result = await conn.execute(update(table).where(column == gone.id).values({column.name: keep.id}))
        if result.rowcount:
            outcome.moved[table.name] = outcome.moved.get(table.name, 0) + result.rowcount
    before = {"platform": gone.platform, "user_id": gone.user_id, "display_name": gone.display_name}
    if gone.platform == ROSTER_PLATFORM and not keep.roster_name:
        keep.roster_name = gone.roster_name or gone.display_name
    await conn.execute(_delete(table_of(Person)).where(table_of(Person).c.id == gone.id))
    await record_audit(
        session,
        action="merge",
        entity="person",
        entity_id=keep.id,
        actor_label=actor_label,
        before=before,
        after={"kept": keep.id, "moved": outcome.moved, "dropped": outcome.dropped},
    )
    session.expunge(gone)
    return outcome


async def unclaimed_roster(session: AsyncSession, team: OrgUnit) -> list[Person]:
    """A team's imported roster entries (found by phone, no chat account yet), in a stable order."""
    rows = await session.exec(
        select(Person)
        .join(Membership, col(Membership.person_id) == col(Person.id))
        .where(Membership.org_unit_id == team.id, Person.platform == ROSTER_PLATFORM)
        .order_by(col(Person.id))
    )
    return list(rows.all())


async def team_people(session: AsyncSession) -> list[tuple[OrgUnit, Person]]:
    """Every (team, person) membership pair, by team path then person id."""
    rows = await session.exec(
        select(OrgUnit, Person)
        .join(Membership, col(Membership.org_unit_id) == col(OrgUnit.id))
        .join(Person, col(Person.id) == col(Membership.person_id))
        .where(OrgUnit.level == Level.TEAM)
        .order_by(col(OrgUnit.path), col(Person.id))
    )
    return [(team, person) for team, person in rows.all()]


# ---------------------------------------------------------------- chat bindings


async def get_binding(
    session: AsyncSession, platform: str, chat_id: str, active_only: bool = True
) -> ChatBinding | None:
    """The binding of a chat, if any."""
    query = select(ChatBinding).where(ChatBinding.platform == platform, ChatBinding.chat_id == chat_id)
    if active_only:
        query = query.where(ChatBinding.active == True)  # noqa: E712
    return (await session.exec(query)).first()


async def bind_chat(
    session: AsyncSession,
    *,
    platform: str,
    chat_id: str,
    unit: OrgUnit,
    person: Person | None,
    chat_title: str | None = None,
) -> ChatBinding:
    """Bind a chat to an org unit; an inactive binding of the same chat is reused."""
    binding = await get_binding(session, platform, chat_id, active_only=False)
    if binding is not None and binding.active:
        raise Conflict(texts.CHAT_ALREADY_BOUND)
    before = binding.model_copy() if binding else None
    if binding is None:
        binding = ChatBinding(platform=platform, chat_id=chat_id, org_unit_id=unit.id or 0)
    binding.org_unit_id = unit.id or 0
    binding.active = True
    binding.chat_title = chat_title
    binding.created_by_person_id = person.id if person else None
    binding.deactivated_at = None
    binding.deactivated_reason = None
    session.add(binding)
    await session.flush()
    await record_audit(
        session,
        action="bind",
        entity="chat_binding",
        entity_id=binding.id,
        actor_person_id=person.id if person else None,
        before=before,
        after=binding,
    )
    return binding


async def deactivate_binding(
    session: AsyncSession, platform: str, chat_id: str, reason: str, actor_label: str | None = None
) -> ChatBinding | None:
    """Mark a chat's binding inactive (the bot was removed, or the chat no longer exists)."""
    binding = await get_binding(session, platform, chat_id)
    if binding is None:
        return None
    before = binding.model_copy()
    binding.active = False
    binding.deactivated_at = utcnow()
    binding.deactivated_reason = reason[:255]
    session.add(binding)
    await record_audit(
        session,
        action="deactivate",
        entity="chat_binding",
        entity_id=binding.id,
        actor_label=actor_label,
        before=before,
        after=binding,
    )
    return binding


async def move_binding(session: AsyncSession, platform: str, old_chat_id: str, new_chat_id: str) -> ChatBinding | None:
    """Follow a chat whose id changed (a Telegram group migrated to a supergroup)."""
    binding = await get_binding(session, platform, old_chat_id)
    if binding is None:
        return None
    before = binding.model_copy()
    binding.chat_id = new_chat_id
    session.add(binding)
    await record_audit(
        session, action="migrate", entity="chat_binding", entity_id=binding.id, before=before, after=binding
    )
    return binding


def _under(session: AsyncSession, paths: Sequence[str] | None) -> Any:
    """SQL true for the units at or under one of `paths` (each an index range scan); always true for None."""
    if paths is None:
        return true()
    return text(under_paths(dialect_of(session), "org_unit.path", paths))


async def active_bindings(
    session: AsyncSession, under: Sequence[str] | None = None
) -> list[tuple[ChatBinding, OrgUnit]]:
    """Every active chat binding with its unit (the groups that reach a unit and the units below it); with
    `under`, only those of the units at or below these paths."""
    result = await session.exec(
        select(ChatBinding, OrgUnit)
        .join(OrgUnit, col(OrgUnit.id) == col(ChatBinding.org_unit_id))
        .where(ChatBinding.active == True, OrgUnit.active == True, _under(session, under))  # noqa: E712
        .order_by(col(ChatBinding.id))
    )
    return [(b, u) for b, u in result.all()]


async def privately_reachable(
    session: AsyncSession,
    roles: Iterable[str] | None = None,
    under: Sequence[str] | None = None,
    on: Iterable[int] | None = None,
) -> list[tuple[Person, Membership, OrgUnit]]:
    """Every membership (of the given roles) of a person who has a private chat with the bot, with its unit; with
    `under`, only the memberships of the units at or below these paths; with `on`, only those of these units."""
    query = (
        select(Person, Membership, OrgUnit)
        .join(Membership, col(Membership.person_id) == col(Person.id))
        .join(OrgUnit, col(OrgUnit.id) == col(Membership.org_unit_id))
        .where(col(Person.private_chat_id).is_not(None), OrgUnit.active == True, _under(session, under))  # noqa: E712
        .order_by(col(OrgUnit.path), col(Person.id))
    )
    if roles is not None:
        query = query.where(col(Membership.role).in_(list(roles)))
    if on is not None:
        query = query.where(col(Membership.org_unit_id).in_(list(on)))
    return [(p, m, u) for p, m, u in (await session.exec(query)).all()]


async def people_of_private_chats(
    session: AsyncSession, chats: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], Person]:
    """The people whose private chats these (platform, chat id) pairs are; group chats are simply absent."""
    wanted = set(chats)
    if not wanted:
        return {}
    ids = sorted({chat_id for _platform, chat_id in wanted})
    people: list[Person] = await in_chunks(session, select(Person), Person.private_chat_id, ids)
    return {(p.platform, p.private_chat_id or ""): p for p in people if (p.platform, p.private_chat_id or "") in wanted}


async def bindings_under(session: AsyncSession, units: list[OrgUnit]) -> dict[int, list[ChatBinding]]:
    """Active chat bindings of each unit and of the active units below it, in one query (a province-wide
    directive asks for a thousand communes at once)."""
    found: dict[int, list[ChatBinding]] = {u.id or 0: [] for u in units}
    if not units:
        return found
    # The deepest path every unit lies under (the province, for a province-wide scope), whole segments only.
    shared: list[str] = []
    for column in zip(*(u.path.strip("/").split("/") for u in units), strict=False):
        if any(segment != column[0] for segment in column):
            break
        shared.append(column[0])
    common = "/" + "".join(f"{s}/" for s in shared)
    query = (
        select(ChatBinding, OrgUnit.path)
        .join(OrgUnit, col(OrgUnit.id) == col(ChatBinding.org_unit_id))
        .where(ChatBinding.active == True, OrgUnit.active == True, col(OrgUnit.path).startswith(common))  # noqa: E712
        .order_by(col(ChatBinding.id))
    )
    for binding, path in (await session.exec(query)).all():
        for part in path.strip("/").split("/"):
            if part.isdigit() and int(part) in found:
                found[int(part)].append(binding)
    return found


# ---------------------------------------------------------------- memberships and roles


_MEMBERSHIPS = "org.memberships_of"


def register_listeners() -> None:
    """Forget the per-session memberships when a session rolls back (called by `tocns.app`)."""
    if not event.contains(Session, "after_soft_rollback", _forget_after_rollback):
        event.listen(Session, "after_soft_rollback", _forget_after_rollback)


def _forget_after_rollback(session: Session, _previous: object) -> None:
    # A rolled-back membership change must not survive in the per-session cache.
    session.info.pop(_MEMBERSHIPS, None)


def _forget_memberships(session: AsyncSession) -> None:
    session.info.pop(_MEMBERSHIPS, None)


async def memberships_of(session: AsyncSession, person_id: int) -> list[tuple[Membership, OrgUnit]]:
    """A person's memberships with their units (read once per session: roles and team both need them)."""
    cache: dict[int, list[tuple[Membership, OrgUnit]]] = session.info.setdefault(_MEMBERSHIPS, {})
    if person_id in cache:
        return list(cache[person_id])
    result = await session.exec(
        select(Membership, OrgUnit)
        .join(OrgUnit, col(OrgUnit.id) == col(Membership.org_unit_id))
        .where(Membership.person_id == person_id)
        .order_by(col(OrgUnit.path))
    )
    rows = [(m, u) for m, u in result.all()]
    cache[person_id] = rows
    return list(rows)


_BINDING_UNIT = aliased(OrgUnit, name="binding_unit")
_MEMBER_UNIT = aliased(OrgUnit, name="member_unit")
_ANCHOR = select(literal(1).label("one")).subquery("anchor")


def _with_binding_and_memberships(query: Any, platform: str, chat_id: str, person_id: Any) -> Any:
    """`query` outer-joined to the chat's active binding and its unit, then to the person's memberships and their
    units (ordered by path): the one shape both the chat context and the group sender read."""
    return (
        query.outerjoin(
            ChatBinding,
            and_(
                col(ChatBinding.platform) == bindparam(platform),
                col(ChatBinding.chat_id) == bindparam(chat_id),
                col(ChatBinding.active) == True,  # noqa: E712
            ),
        )
        .outerjoin(_BINDING_UNIT, col(_BINDING_UNIT.id) == col(ChatBinding.org_unit_id))
        .outerjoin(Membership, col(Membership.person_id) == person_id)
        .outerjoin(_MEMBER_UNIT, col(_MEMBER_UNIT.id) == col(Membership.org_unit_id))
        .order_by(col(_MEMBER_UNIT.path))
    )


# One row per membership (or one row of NULLs), each carrying the chat's binding: both outer-joined to a
# one-row anchor, so a chat without a binding or a person without memberships still answers in one round trip.
_CHAT_CONTEXT = _with_binding_and_memberships(
    select(ChatBinding, _BINDING_UNIT, Membership, _MEMBER_UNIT).select_from(_ANCHOR),
    "platform",
    "chat_id",
    bindparam("person_id"),
)


async def chat_context(
    session: AsyncSession, platform: str, chat_id: str, person_id: int
) -> tuple[ChatBinding | None, OrgUnit | None]:
    """A chat's active binding and unit, reading the person's memberships in the same query (for roles, team)."""
    rows = (
        await session.exec(_CHAT_CONTEXT, params={"platform": platform, "chat_id": chat_id, "person_id": person_id})
    ).all()
    binding, unit = (rows[0][0], rows[0][1]) if rows and rows[0][1] is not None else (None, None)
    memberships = [(m, u) for _b, _bu, m, u in rows if m is not None and u is not None]
    session.info.setdefault(_MEMBERSHIPS, {})[person_id] = memberships
    return binding, unit


_SENDER_ROW = _PERSON_UPDATE.cte("sender")
_SENDER = aliased(Person, _SENDER_ROW, name="sender")
# PostgreSQL: a known sender's refresh, the chat's binding and the sender's memberships in one round trip (the
# UPDATE runs as a data-modifying CTE); no row when the sender is new (the caller then inserts them first).
_GROUP_SENDER = _with_binding_and_memberships(
    sa_select(_SENDER, ChatBinding, _BINDING_UNIT, Membership, _MEMBER_UNIT).select_from(_SENDER),
    "b_platform",
    "b_chat_id",
    _SENDER.id,
).execution_options(populate_existing=True)


async def group_sender(
    session: AsyncSession,
    *,
    platform: str,
    user_id: str,
    display_name: str,
    username: str | None,
    chat_id: str,
    now: datetime,
) -> tuple[Person, ChatBinding | None, OrgUnit | None] | None:
    """A known sender in a group, refreshed, with the chat's binding and unit and their memberships, in one round
    trip on PostgreSQL; None when the sender is new or on SQLite (no data-modifying CTE): `upsert_person` and
    `chat_context` then do it in two."""
    if not is_postgres(session):
        return None
    params = _person_params(platform, user_id, display_name, username, None, now)
    params.update(b_platform=platform, b_chat_id=chat_id)
    rows = (await session.exec(_GROUP_SENDER, params=params)).all()  # type: ignore[call-overload]
    if not rows:
        return None
    person, binding, unit = rows[0][0], rows[0][1], rows[0][2]
    if unit is None:
        binding = None
    memberships = [(m, u) for _p, _b, _bu, m, u in rows if m is not None and u is not None]
    session.info.setdefault(_MEMBERSHIPS, {})[person.id or 0] = memberships
    return person, binding, unit


def _marked_group_sender_statement(mark: Any) -> Any:
    """`_GROUP_SENDER` with a data-modifying statement (the caller's processed-mark) run first as a CTE: the sender
    is refreshed only when `mark` returned a row, and that row's first column comes back as `marked` (NULL: a
    retried delivery). Outer-joined to the one-row anchor, so every case answers in one round trip."""
    marked = mark.cte("mark")
    sender_row = _PERSON_UPDATE.where(exists(sa_select(marked.c[0]))).cte("sender")
    sender = aliased(Person, sender_row, name="sender")
    query = (
        sa_select(marked.c[0].label("marked"), sender, ChatBinding, _BINDING_UNIT, Membership, _MEMBER_UNIT)
        .select_from(_ANCHOR)
        .outerjoin(marked, true())
        .outerjoin(sender, true())
    )
    return _with_binding_and_memberships(query, "b_platform", "b_chat_id", sender.id)


# The entities of a marked group sender's row after `marked`, each as its table's columns in order (the order the
# ORM selects an entity's columns in): the sender, the chat's binding and its unit, one membership and its unit.
_SENDER_ROW_MODELS: tuple[tuple[Any, tuple[str, ...]], ...] = tuple(
    (model, tuple(column.key for column in table_of(model).columns))
    for model in (Person, ChatBinding, OrgUnit, Membership, OrgUnit)
)
_MARKED_GROUP_SENDER: dict[int, tuple[Any, raw.Prepared]] = {}


def _row_entities(session: AsyncSession, row: Any, models: Sequence[tuple[Any, tuple[str, ...]]], at: int) -> list[Any]:
    """The entities of one row from column `at` on, as persistent instances of the session (None where the outer
    join found nothing)."""
    found = []
    for model, names in models:
        values = dict(zip(names, row[at : at + len(names)], strict=True))
        at += len(names)
        found.append(None if values["id"] is None else raw.attach(session, model, values))
    return found


async def marked_group_sender(
    session: AsyncSession,
    mark: Any,
    mark_params: dict[str, Any],
    *,
    platform: str,
    user_id: str,
    display_name: str,
    username: str | None,
    chat_id: str,
    now: datetime,
) -> tuple[bool, tuple[Person, ChatBinding | None, OrgUnit | None] | None] | None:
    """PostgreSQL: the message's processed-mark (`mark`, a data-modifying statement with `mark_params`) and
    `group_sender` in one round trip: whether the mark is new (False: a retried delivery, nothing refreshed) and
    the known sender with the chat's binding and unit, None for a sender the bot has not met. None on SQLite.

    The hot path's first statement: run on the session's asyncpg connection (`tocns.db.raw`), its rows made the
    session's entities as the ORM would load them."""
    if not is_postgres(session):
        return None
    built = _MARKED_GROUP_SENDER.get(id(mark))
    if built is None or built[0] is not mark:
        built = _MARKED_GROUP_SENDER[id(mark)] = (mark, raw.Prepared(_marked_group_sender_statement(mark)))
    params = _person_params(platform, user_id, display_name, username, None, now)
    params.update(mark_params, b_platform=platform, b_chat_id=chat_id)
    rows = await raw.fetch(session, built[1], params)
    if rows[0][0] is None:
        return False, None
    if rows[0][1] is None:
        return True, None
    person, binding, unit = _row_entities(session, rows[0], _SENDER_ROW_MODELS[:3], 1)
    if unit is None:
        binding = None
    start = 1 + sum(len(names) for _model, names in _SENDER_ROW_MODELS[:3])
    memberships = []
    for row in rows:
        membership, member_unit = _row_entities(session, row, _SENDER_ROW_MODELS[3:], start)
        if membership is not None and member_unit is not None:
            memberships.append((membership, member_unit))
    session.info.setdefault(_MEMBERSHIPS, {})[person.id or 0] = memberships
    return True, (person, binding, unit)


def _related(member_unit: OrgUnit, context_unit: OrgUnit) -> bool:
    """Whether a membership on `member_unit` counts in a chat bound to `context_unit`."""
    return context_unit.path.startswith(member_unit.path) or member_unit.path.startswith(context_unit.path)


async def roles_in_context(session: AsyncSession, person_id: int, unit: OrgUnit | None) -> set[str]:
    """Roles a person holds where a chat is bound: on its unit, above it (leaders) or below it (teams).

    In an unbound or private chat every role the person holds counts.
    """
    roles: set[str] = set()
    for membership, member_unit in await memberships_of(session, person_id):
        if membership.role == Role.ADMIN or unit is None or _related(member_unit, unit):
            roles.add(membership.role)
    return roles


async def team_of(session: AsyncSession, person_id: int, within: OrgUnit | None = None) -> OrgUnit | None:
    """The team a person belongs to (inside `within` when given)."""
    for _membership, member_unit in await memberships_of(session, person_id):
        if member_unit.level == Level.TEAM and (within is None or member_unit.path.startswith(within.path)):
            return member_unit
    return None


async def set_membership(
    session: AsyncSession,
    *,
    person: Person,
    unit: OrgUnit,
    role: Role,
    actor: Person | None = None,
    actor_label: str | None = None,
) -> Membership:
    """Give a person a role on a unit (creating or updating the membership); service.set_membership checks the
    role fits the unit first."""
    _forget_memberships(session)
    result = await session.exec(
        select(Membership).where(Membership.person_id == person.id, Membership.org_unit_id == unit.id)
    )
    membership = result.first()
    before = membership.model_copy() if membership else None
    if membership is None:
        membership = Membership(person_id=person.id or 0, org_unit_id=unit.id or 0, role=role.value)
    else:
        membership.role = role.value
    session.add(membership)
    await session.flush()
    await record_audit(
        session,
        action="set_role" if before else "join",
        entity="membership",
        entity_id=membership.id,
        actor_person_id=actor.id if actor else None,
        actor_label=actor_label,
        before=before,
        after=membership,
    )
    return membership


async def remove_membership(session: AsyncSession, membership: Membership, actor: Person | None = None) -> None:
    """Delete a membership, keeping it in the audit log."""
    _forget_memberships(session)
    await record_audit(
        session,
        action="leave",
        entity="membership",
        entity_id=membership.id,
        actor_person_id=actor.id if actor else None,
        before=membership,
    )
    await session.delete(membership)
    await session.flush()


# ---------------------------------------------------------------- join codes


def new_code_value() -> str:
    """A random join code: 8 characters that cannot be misread (no 0/O, 1/I)."""
    return "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(JOIN_CODE_LENGTH))


def normalize_join_code(text: str) -> str:
    """Upper-case a typed join code and drop spaces and dashes."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


async def create_join_code(
    session: AsyncSession,
    *,
    unit: OrgUnit,
    role: Role,
    ttl: timedelta,
    now: datetime | None = None,
    actor_label: str | None = None,
    for_person: Person | None = None,
) -> JoinCode:
    """Store a one-time code for a unit and role, valid for `ttl`; `for_person` makes it one imported person's own
    code. service.create_join_code checks the role fits the unit first."""
    now = now or utcnow()
    code = new_code_value()
    while (await session.exec(select(JoinCode).where(JoinCode.code == code))).first() is not None:
        code = new_code_value()
    join_code = JoinCode(
        code=code,
        org_unit_id=unit.id or 0,
        role=role.value,
        person_id=for_person.id if for_person else None,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(join_code)
    await session.flush()
    await record_audit(
        session,
        action="create",
        entity="join_code",
        entity_id=join_code.id,
        actor_label=actor_label,
        after={"org_unit": unit.code, "role": role.value, "expires_at": join_code.expires_at},
    )
    return join_code


async def check_join_code(session: AsyncSession, code: str, now: datetime) -> tuple[JoinCode, OrgUnit]:
    """Find a usable join code or raise NotFound / Expired / Conflict with a clear message."""
    normalized = normalize_join_code(code)
    join_code = (await session.exec(select(JoinCode).where(JoinCode.code == normalized))).first()
    if join_code is None:
        raise NotFound(texts.code_unknown(code))
    if join_code.used_at is not None:
        raise Conflict(texts.code_used(normalized))
    if join_code.expires_at <= now:
        raise Expired(texts.code_expired(normalized))
    unit = await session.get(OrgUnit, join_code.org_unit_id)
    if unit is None:
        raise NotFound(texts.CODE_UNIT_GONE)
    return join_code, unit


async def claim_join_code(session: AsyncSession, code: str, person: Person, now: datetime) -> tuple[JoinCode, OrgUnit]:
    """Use a join code once, atomically; raise NotFound / Expired / Conflict with a clear message when it cannot be.

    One conditional UPDATE (`WHERE used_at IS NULL AND expires_at > now RETURNING`) is the whole decision: of
    several people redeeming the same code at once, the database lets exactly one row change and the others see
    the code used. Reading first and writing after (as before) let every concurrent reader win on PostgreSQL.
    """
    normalized = normalize_join_code(code)
    claim = (
        update(JoinCode)
        .where(
            col(JoinCode.code) == normalized,
            col(JoinCode.used_at).is_(None),
            col(JoinCode.expires_at) > now,
        )
        .values(used_at=now, used_by_person_id=person.id)
        .returning(
            col(JoinCode.id),
            col(JoinCode.org_unit_id),
            col(JoinCode.role),
            col(JoinCode.person_id),
            col(JoinCode.expires_at),
        )
        .execution_options(synchronize_session=False)
    )
    row = (await session.exec(claim)).first()  # type: ignore[call-overload]
    if row is None:
        await check_join_code(session, code, now)  # raises the precise reason (unknown, used, expired)
        raise Conflict(texts.code_used(normalized))
    join_code = JoinCode(
        id=row.id,
        code=normalized,
        org_unit_id=row.org_unit_id,
        role=row.role,
        person_id=row.person_id,
        expires_at=row.expires_at,
        used_at=now,
        used_by_person_id=person.id,
    )
    unit = await session.get(OrgUnit, join_code.org_unit_id)
    if unit is None:
        raise NotFound(texts.CODE_UNIT_GONE)
    await record_audit(
        session,
        action="redeem",
        entity="join_code",
        entity_id=join_code.id,
        actor_person_id=person.id,
        after={"code": join_code.code},
    )
    return join_code, unit


# ---------------------------------------------------------------- what the team import reads and writes in bulk


async def in_chunks(session: AsyncSession, query: object, column: object, values: Sequence[object]) -> list:
    """Rows of `query` whose `column` is in `values`, asked in chunks (a parameter list has a limit)."""
    out: list = []
    for start in range(0, len(values), _CHUNK):
        out += (await session.exec(query.where(col(column).in_(values[start : start + _CHUNK])))).all()  # type: ignore[attr-defined]
    return out


async def team_parents(session: AsyncSession, under: OrgUnit | None) -> list[OrgUnit]:
    """Every active unit a team may hang under (anything but a team), optionally within `under`."""
    query = select(OrgUnit).where(OrgUnit.level != Level.TEAM, OrgUnit.active == True)  # noqa: E712
    if under is not None:
        query = query.where(col(OrgUnit.path).startswith(under.path))
    return list((await session.exec(query)).all())


async def teams_of(session: AsyncSession, parent_ids: list[int]) -> list[OrgUnit]:
    """The teams directly under these units."""
    return await in_chunks(session, select(OrgUnit).where(OrgUnit.level == Level.TEAM), OrgUnit.parent_id, parent_ids)


async def team_codes_taken(session: AsyncSession, parents: list[OrgUnit]) -> dict[int, set[str]]:
    """The team codes ("<parent>-Tnn") already used under each parent."""
    taken: dict[int, set[str]] = {}
    for parent in parents:
        prefix = f"{parent.code}-T"
        codes = (await session.exec(select(OrgUnit.code).where(col(OrgUnit.code).startswith(prefix)))).all()
        taken[parent.id or 0] = set(codes)
    return taken


async def people_by_user_id(session: AsyncSession, platform: str, user_ids: list[str]) -> list[Person]:
    """The people of one platform with these user ids."""
    return await in_chunks(session, select(Person).where(Person.platform == platform), Person.user_id, user_ids)


async def memberships_of_people(session: AsyncSession, person_ids: list[int]) -> list[Membership]:
    """Every membership of these people."""
    return await in_chunks(session, select(Membership), Membership.person_id, person_ids)


async def valid_codes(session: AsyncSession, column: Any, ids: list[int], now: datetime) -> list[JoinCode]:
    """Unused, unexpired codes whose `column` (JoinCode.org_unit_id or JoinCode.person_id) is in `ids`."""
    query = select(JoinCode).where(col(JoinCode.used_at).is_(None), JoinCode.expires_at > now)
    return await in_chunks(session, query.order_by(col(JoinCode.id)), column, ids)


async def codes_in_use(session: AsyncSession, candidates: list[str]) -> set[str]:
    """Which of these code values the table already holds."""
    return set(await in_chunks(session, select(JoinCode.code), JoinCode.code, candidates))


async def insert_all(session: AsyncSession, rows: Sequence[Any]) -> None:
    """Insert new rows together and learn their ids."""
    session.add_all(rows)
    await session.flush()


async def insert_audit(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Write audit rows in bulk."""
    await append_audit_rows(session, rows)
