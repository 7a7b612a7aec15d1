"""Data access for activity logging: the indicator catalogue, records, items, edits and exports."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import ARRAY, Integer, String, bindparam, cast, event, func, insert, literal, true
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Session
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.core.roles import Level
from tocns.db import raw
from tocns.db.audit import AUDIT_TABLE, audit_values, record_audit
from tocns.db.dialect import is_postgres
from tocns.db.upsert import table_of
from tocns.features.activity.grammar import Catalogue, IndicatorSpec, default_specs, shipped_unit_synonyms
from tocns.features.activity.models import ActivityItem, ActivityRecord, Indicator
from tocns.features.org.models import OrgUnit, Person

# ---------------------------------------------------------------- catalogue


async def import_catalogue(
    session: AsyncSession, specs: list[IndicatorSpec], actor_label: str | None = None
) -> tuple[int, int]:
    """Add or update indicators by code (codes absent from `specs` are kept); return (added, updated)."""
    existing = {i.code: i for i in (await session.exec(select(Indicator))).all()}
    added = updated = 0
    for order, spec in enumerate(specs, start=1):
        values: dict[str, Any] = {
            "name": spec.name,
            "unit": spec.unit,
            "aliases": json.dumps(list(spec.aliases), ensure_ascii=False),
            "max_per_message": spec.max_per_message,
            "sort_order": order * 10,
            "active": True,
        }
        row = existing.get(spec.code)
        if row is None:
            row = Indicator(code=spec.code, **values)
            session.add(row)
            await session.flush()
            added += 1
            await record_audit(
                session, action="create", entity="indicator", entity_id=row.id, actor_label=actor_label, after=row
            )
        elif any(getattr(row, k) != v for k, v in values.items()):
            before = row.model_dump()
            for key, value in values.items():
                setattr(row, key, value)
            session.add(row)
            updated += 1
            await record_audit(
                session,
                action="update",
                entity="indicator",
                entity_id=row.id,
                actor_label=actor_label,
                before=before,
                after=row,
            )
    await session.flush()
    return added, updated


# Every /ghi needs the catalogue; it changes rarely, so it is kept in memory per engine. Any ORM write to an
# indicator in this process clears it (at flush and again at commit); writes from another process (the CLI
# import while the bot runs) are seen within CATALOGUE_TTL_SECONDS.
CATALOGUE_TTL_SECONDS = 30.0
_CHANGED = "activity.catalogue_changed"
_catalogues: WeakKeyDictionary[Any, tuple[float, list[Indicator]]] = WeakKeyDictionary()
_generation = [0]


def forget_catalogue() -> None:
    """Drop the in-memory indicator catalogue of every engine (the next read goes to the database)."""
    _catalogues.clear()
    _generation[0] += 1


def register_listeners() -> None:
    """Clear the catalogue on every ORM write to an indicator in this process (called by `tocns.app`)."""
    for name, listener in (("after_flush", _note_catalogue_change), ("after_commit", _forget_after_commit)):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


def _note_catalogue_change(session: Session, _context: object) -> None:
    if any(isinstance(o, Indicator) for o in (*session.new, *session.dirty, *session.deleted)):
        session.info[_CHANGED] = True
        forget_catalogue()


def _forget_after_commit(session: Session) -> None:
    # A reader between the flush and the commit may have cached the old rows again.
    if session.info.pop(_CHANGED, False):
        forget_catalogue()


async def indicators(session: AsyncSession) -> list[Indicator]:
    """The active indicators in catalogue order.

    Migration 0015 seeds the default catalogue, so a migrated database never has an empty table. Only one whose
    rows were deleted afterwards (the test suite empties every table between tests) is seeded here, on first use.
    """
    key = session.bind
    cached = _catalogues.get(key) if key is not None else None
    if cached is not None and time.monotonic() - cached[0] < CATALOGUE_TTL_SECONDS:
        return list(cached[1])
    generation = _generation[0]
    result = await session.exec(select(Indicator).order_by(col(Indicator.sort_order), col(Indicator.code)))
    rows = list(result.all())
    if not rows:
        await import_catalogue(session, default_specs(), actor_label="default-catalogue")
        return await indicators(session)
    # Detached copies: a session's instances expire when it rolls back, and the cache outlives every session.
    active = [Indicator(**r.model_dump()) for r in rows if r.active]
    if key is not None and generation == _generation[0] and not session.info.get(_CHANGED):
        _catalogues[key] = (time.monotonic(), active)
    return list(active)


def to_catalogue(rows: list[Indicator]) -> Catalogue:
    """The parser's view of the stored indicators."""
    return _catalogue(tuple((r.code, r.name, r.unit, r.aliases or "[]", r.max_per_message) for r in rows))


@lru_cache(maxsize=8)
def _catalogue(rows: tuple[tuple[str, str, str, str, int], ...]) -> Catalogue:
    # Keyed by content, so it can never be stale; building one folds every alias (~100 calls per /ghi).
    return Catalogue(
        [
            IndicatorSpec(
                code=code,
                name=name,
                unit=unit,
                aliases=tuple(json.loads(aliases)),
                max_per_message=limit,
                # The table has no column for them: the shipped catalogue's, while the unit is the same.
                unit_synonyms=shipped_unit_synonyms(code, unit),
            )
            for code, name, unit, aliases, limit in rows
        ]
    )


# ---------------------------------------------------------------- records


@dataclass
class RecordView:
    """A record with its items and indicators, for replies and exports."""

    record: ActivityRecord
    items: list[tuple[ActivityItem, Indicator]]

    def snapshot(self) -> dict[str, Any]:
        """The record and its items as a dict, for the audit log."""
        data = self.record.model_dump()
        data["items"] = [{"indicator": ind.code, "quantity": item.quantity} for item, ind in self.items]
        return data


_RECORD = table_of(ActivityRecord)
_ITEM = table_of(ActivityItem)
_RECORD_INSERT = insert(_RECORD).returning(_RECORD.c.id)
_ITEM_INSERT = insert(_ITEM)


async def create_record(
    session: AsyncSession,
    *,
    person: Person,
    team: OrgUnit,
    activity_date: date,
    items: list[tuple[Indicator, int]],
    note: str | None,
    message_text: str,
    photo: str | None,
    platform: str,
    chat_id: str,
    message_id: str | None,
    now: datetime,
) -> RecordView:
    """Store one record with its items (audited) in the caller's transaction."""
    values = _record_values(person, team, activity_date, note, message_text, photo, platform, chat_id, message_id, now)
    # Plain INSERTs rather than ORM objects and a flush: every /ghi runs this, and the unit of work cost more CPU
    # than the statements. Pending ORM rows go first, so foreign keys and ids keep their order.
    await session.flush()
    conn = await session.connection()
    if is_postgres(conn):
        return await _create_record_pg(conn, person, values, items)
    record_id = (await conn.execute(_RECORD_INSERT, values)).scalar_one()
    rows = [{"record_id": record_id, "indicator_id": ind.id or 0, "quantity": quantity} for ind, quantity in items]
    if rows:
        await conn.execute(_ITEM_INSERT, rows)
    # The returned record and items are not in the session: callers only read them (ids, quantities, receipt).
    view = _view(record_id, values, items)
    await record_audit(
        session,
        action="create",
        entity="activity_record",
        entity_id=record_id,
        actor_person_id=person.id,
        after=view.snapshot(),
    )
    return view


def _record_values(
    person: Person,
    team: OrgUnit,
    activity_date: date,
    note: str | None,
    message_text: str,
    photo: str | None,
    platform: str,
    chat_id: str,
    message_id: str | None,
    now: datetime,
) -> dict[str, Any]:
    """The columns of a new record."""
    return {
        "person_id": person.id or 0,
        "org_unit_id": team.id or 0,
        "activity_date": activity_date,
        "note": note,
        "message_text": message_text,
        "photo": photo,
        "platform": platform,
        "chat_id": chat_id,
        "message_id": message_id,
        "created_at": now,
        "updated_at": None,
        "deleted_at": None,
        "deleted_by_person_id": None,
    }


def _view(record_id: int | None, values: dict[str, Any], items: list[tuple[Indicator, int]]) -> RecordView:
    # Made as the ORM makes loaded rows (`raw.built`, every column given): the models' constructors validate, and
    # every /ghi builds one record and its items.
    return RecordView(
        raw.built(ActivityRecord, {"id": record_id, **values}),
        [
            (
                raw.built(
                    ActivityItem,
                    {"id": None, "record_id": record_id or 0, "indicator_id": ind.id or 0, "quantity": quantity},
                ),
                ind,
            )
            for ind, quantity in items
        ],
    )


def _record_with_items_and_audit(once: bool = False) -> Any:
    """PostgreSQL: the record, its items and its audit row in one statement (data-modifying CTEs), built once.

    The audit row's snapshot is serialised in Python with `"id": null` and the new id put in by `replace`: the
    text is byte for byte what `record_audit` writes (a quote inside a value is escaped, so the slot is unique).
    With `once`, the double-tap check (`recent_identical_record`'s question, `d_*` parameters) runs first in the
    same statement: nothing is written when it finds a record, and the statement returns (first, created).
    """
    columns = [c for c in _RECORD.c if c.name != "id"]
    values = {c.name: bindparam(f"r_{c.name}", type_=c.type) for c in columns}
    identical = _identical_record().cte("identical") if once else None
    if identical is None:
        record = insert(_RECORD).values(values).returning(_RECORD.c.id).cte("new_record")
    else:
        unless = sa_select(*values.values()).where(~sa_select(identical.c.id).exists())
        record = (
            insert(_RECORD).from_select([c.name for c in columns], unless).returning(_RECORD.c.id).cte("new_record")
        )
    listed = (
        func.unnest(bindparam("i_indicators", type_=ARRAY(Integer)), bindparam("i_quantities", type_=ARRAY(Integer)))
        .table_valued("indicator_id", "quantity", with_ordinality="n")
        .render_derived(name="listed")
    )
    item_rows = (
        insert(_ITEM)
        .from_select(
            ["record_id", "indicator_id", "quantity"],
            sa_select(record.c.id, listed.c.indicator_id, listed.c.quantity)
            .select_from(record.join(listed, true()))
            .order_by(listed.c.n),
        )
        .cte("new_items")
    )
    audit_columns = [c.name for c in AUDIT_TABLE.c if c.name != "id"]
    new_id = cast(record.c.id, String)
    filled = {
        "entity_id": new_id,
        "after": func.replace(bindparam("a_after"), _ID_SLOT, literal('"id": ') + new_id + literal(",")),
    }
    audit = (
        insert(AUDIT_TABLE)
        .from_select(
            audit_columns,
            sa_select(
                *(filled.get(c, bindparam(f"a_{c}", type_=AUDIT_TABLE.c[c].type)) for c in audit_columns)
            ).select_from(record),
        )
        .cte("new_audit")
    )
    if identical is None:
        return sa_select(record.c.id).add_cte(item_rows, audit)
    first = sa_select(identical.c.id).scalar_subquery().label("first")
    return sa_select(first, sa_select(record.c.id).scalar_subquery().label("created")).add_cte(item_rows, audit)


def _identical_record() -> Any:
    """PostgreSQL: the first of this person's live records for the team since `d_since` with the same day, note
    (empty and none alike) and items (the same (indicator, quantity) pairs, in any order): what
    `recent_identical_record` compares in Python, asked in SQL."""
    pairs = (_ITEM.c.indicator_id, _ITEM.c.quantity)
    return (
        sa_select(_RECORD.c.id)
        .select_from(_RECORD.join(_ITEM, _ITEM.c.record_id == _RECORD.c.id))
        .where(
            _RECORD.c.person_id == bindparam("d_person_id"),
            _RECORD.c.org_unit_id == bindparam("d_team_id"),
            _RECORD.c.activity_date == bindparam("d_activity_date", type_=_RECORD.c.activity_date.type),
            _RECORD.c.deleted_at.is_(None),
            _RECORD.c.created_at >= bindparam("d_since", type_=_RECORD.c.created_at.type),
            func.coalesce(_RECORD.c.note, "") == func.coalesce(bindparam("d_note", type_=String), ""),
        )
        .group_by(_RECORD.c.id)
        .having(
            (
                func.array_agg(aggregate_order_by(_ITEM.c.indicator_id, *pairs))
                == bindparam("d_indicators", type_=ARRAY(Integer))
            )
            & (
                func.array_agg(aggregate_order_by(_ITEM.c.quantity, *pairs))
                == bindparam("d_quantities", type_=ARRAY(Integer))
            )
        )
        .order_by(_RECORD.c.id)
        .limit(1)
    )


_ID_SLOT = '"id": null,'
_PG_CREATE_RECORD = _record_with_items_and_audit()
# The /ghi's statement: run on the session's asyncpg connection (`tocns.db.raw`), compiled once.
_PG_CREATE_RECORD_ONCE = raw.Prepared(_record_with_items_and_audit(once=True))


async def _create_record_pg(
    conn: AsyncConnection, person: Person, values: dict[str, Any], items: list[tuple[Indicator, int]]
) -> RecordView:
    view, params = _record_params(person, values, items)
    record_id = (await conn.execute(_PG_CREATE_RECORD, params)).scalar_one()
    return _with_id(view, record_id)


def _with_id(view: RecordView, record_id: int) -> RecordView:
    # The view built for the snapshot gets its id rather than being built again (ORM objects cost CPU to make).
    view.record.id = record_id
    for item, _ind in view.items:
        item.record_id = record_id
    return view


def _record_params(
    person: Person, values: dict[str, Any], items: list[tuple[Indicator, int]]
) -> tuple[RecordView, dict[str, Any]]:
    """The new record's view (its id still None) and the parameters of the PostgreSQL record statement."""
    view = _view(None, values, items)
    audit = audit_values(
        action="create", entity="activity_record", entity_id="", actor_person_id=person.id, after=view.snapshot()
    )
    params = {f"r_{k}": v for k, v in values.items()}
    params.update({f"a_{k}": v for k, v in audit.items() if k not in ("entity_id", "after")})
    params.update(
        a_after=audit["after"],
        i_indicators=[ind.id or 0 for ind, _quantity in items],
        i_quantities=[quantity for _ind, quantity in items],
    )
    return view, params


async def record_once(
    session: AsyncSession,
    *,
    person: Person,
    team: OrgUnit,
    activity_date: date,
    items: list[tuple[Indicator, int]],
    note: str | None,
    message_text: str,
    photo: str | None,
    platform: str,
    chat_id: str,
    message_id: str | None,
    now: datetime,
    since: datetime,
) -> tuple[int | None, RecordView | None]:
    """`create_record`, unless `recent_identical_record` finds this person's identical record since `since` (a
    double tap): (that record's id, None), else (None, the new record). On PostgreSQL the check and the record with
    its items and audit are one statement."""
    if not (is_postgres(session) and items):
        first = await recent_identical_record(
            session,
            person_id=person.id or 0,
            team_id=team.id or 0,
            activity_date=activity_date,
            items=items,
            note=note,
            since=since,
        )
        if first is not None:
            return first, None
        return None, await create_record(
            session,
            person=person,
            team=team,
            activity_date=activity_date,
            items=items,
            note=note,
            message_text=message_text,
            photo=photo,
            platform=platform,
            chat_id=chat_id,
            message_id=message_id,
            now=now,
        )
    values = _record_values(person, team, activity_date, note, message_text, photo, platform, chat_id, message_id, now)
    return await _record_once_pg(session, person, values, items, since)


async def _record_once_pg(
    session: AsyncSession, person: Person, values: dict[str, Any], items: list[tuple[Indicator, int]], since: datetime
) -> tuple[int | None, RecordView | None]:
    view, params = _record_params(person, values, items)
    wanted = sorted((ind.id or 0, quantity) for ind, quantity in items)
    params.update(
        d_person_id=values["person_id"],
        d_team_id=values["org_unit_id"],
        d_activity_date=values["activity_date"],
        d_since=since,
        d_note=values["note"],
        d_indicators=[indicator_id for indicator_id, _quantity in wanted],
        d_quantities=[quantity for _indicator_id, quantity in wanted],
    )
    ((first, created),) = await raw.fetch(session, _PG_CREATE_RECORD_ONCE, params)
    if first is not None:
        return first, None
    return None, _with_id(view, created)


async def _add_items(
    session: AsyncSession, record: ActivityRecord, items: list[tuple[Indicator, int]]
) -> list[tuple[ActivityItem, Indicator]]:
    rows: list[tuple[ActivityItem, Indicator]] = []
    for indicator, quantity in items:
        item = ActivityItem(record_id=record.id or 0, indicator_id=indicator.id or 0, quantity=quantity)
        session.add(item)
        rows.append((item, indicator))
    await session.flush()
    return rows


async def get_record(session: AsyncSession, record_id: int) -> RecordView | None:
    """A record (deleted or not) with its items."""
    record = await session.get(ActivityRecord, record_id)
    if record is None:
        return None
    return RecordView(record, await _items(session, record_id))


async def _items(session: AsyncSession, record_id: int) -> list[tuple[ActivityItem, Indicator]]:
    result = await session.exec(
        select(ActivityItem, Indicator)
        .join(Indicator, col(Indicator.id) == col(ActivityItem.indicator_id))
        .where(ActivityItem.record_id == record_id)
        .order_by(col(ActivityItem.id))
    )
    return [(item, ind) for item, ind in result.all()]


async def replace_items(
    session: AsyncSession,
    view: RecordView,
    *,
    items: list[tuple[Indicator, int]],
    activity_date: date,
    note: str | None,
    message_text: str,
    actor: Person,
    now: datetime,
) -> RecordView:
    """Replace a record's items (and date and note), keeping the previous version in the audit log."""
    before = view.snapshot()
    for item, _indicator in view.items:
        await session.delete(item)
    await session.flush()
    record = view.record
    record.activity_date = activity_date
    record.note = note
    record.message_text = message_text
    record.updated_at = now
    session.add(record)
    new_view = RecordView(record, await _add_items(session, record, items))
    await record_audit(
        session,
        action="edit",
        entity="activity_record",
        entity_id=record.id,
        actor_person_id=actor.id,
        before=before,
        after=new_view.snapshot(),
    )
    return new_view


async def soft_delete(session: AsyncSession, view: RecordView, *, actor: Person, now: datetime) -> None:
    """Mark a record deleted (its items stay for the audit trail; reports skip it)."""
    before = view.snapshot()
    view.record.deleted_at = now
    view.record.deleted_by_person_id = actor.id
    session.add(view.record)
    await session.flush()
    await record_audit(
        session,
        action="delete",
        entity="activity_record",
        entity_id=view.record.id,
        actor_person_id=actor.id,
        before=before,
        after=view.snapshot(),
    )


_RECENT_IDENTICAL = (
    sa_select(_RECORD.c.id, _RECORD.c.note, _ITEM.c.indicator_id, _ITEM.c.quantity)
    .select_from(_RECORD.outerjoin(_ITEM, _ITEM.c.record_id == _RECORD.c.id))
    .where(
        _RECORD.c.person_id == bindparam("person_id"),
        _RECORD.c.org_unit_id == bindparam("team_id"),
        _RECORD.c.activity_date == bindparam("activity_date"),
        _RECORD.c.deleted_at.is_(None),
        _RECORD.c.created_at >= bindparam("since"),
    )
    .order_by(_RECORD.c.id)
)


async def recent_identical_record(
    session: AsyncSession,
    *,
    person_id: int,
    team_id: int,
    activity_date: date,
    items: list[tuple[Indicator, int]],
    note: str | None,
    since: datetime,
) -> int | None:
    """The id of this person's live record for the team since `since` with the same day, items and note, if any."""
    # One round trip whatever the number of candidates: the records with their items, compared here. A Core
    # statement built once, on the session's connection: every /ghi runs it, and building the query and the ORM's
    # execution path cost more CPU than the round trip (pending ORM rows are flushed first, as autoflush would).
    if session.new or session.dirty or session.deleted:
        await session.flush()
    conn = await session.connection()
    params = {"person_id": person_id, "team_id": team_id, "activity_date": activity_date, "since": since}
    result = await conn.execute(_RECENT_IDENTICAL, params)
    candidates: dict[int, list[tuple[int, int]]] = {}
    for record_id, record_note, indicator_id, quantity in result.all():
        if (record_note or None) != (note or None) or record_id is None:
            continue
        have = candidates.setdefault(record_id, [])
        if indicator_id is not None:
            have.append((indicator_id, quantity or 0))
    wanted = sorted((ind.id or 0, quantity) for ind, quantity in items)
    return next((record_id for record_id, have in candidates.items() if sorted(have) == wanted), None)


async def records_of_person(session: AsyncSession, person_id: int, start: date, end: date) -> list[RecordView]:
    """A person's live records with activity dates in [start, end], oldest first."""
    result = await session.exec(
        select(ActivityRecord)
        .where(
            ActivityRecord.person_id == person_id,
            col(ActivityRecord.deleted_at).is_(None),
            col(ActivityRecord.activity_date) >= start,
            col(ActivityRecord.activity_date) <= end,
        )
        .order_by(col(ActivityRecord.activity_date), col(ActivityRecord.id))
    )
    return [RecordView(r, await _items(session, r.id or 0)) for r in result.all()]


@dataclass
class ExportRow:
    """One item of a live record, flattened for CSV, JSON lines or Excel."""

    record_id: int
    activity_date: date
    org_path: str
    org_codes: str
    person: str
    indicator_code: str
    indicator_name: str
    quantity: int
    unit: str
    note: str
    photo: str
    message_text: str
    created_at: datetime
    updated_at: datetime | None


EXPORT_BATCH = 5000
"""Rows an export reads from the database at a time (through a server-side cursor: memory stays flat)."""


async def _ancestor_names(session: AsyncSession) -> dict[int, tuple[str, str]]:
    """(name, code) of every unit that has units under it: the ancestors an export row names (teams are leaves, so
    this stays a few thousand units at national size); the national unit is left out (it would head every row)."""
    parents = select(col(OrgUnit.parent_id)).where(col(OrgUnit.parent_id).is_not(None)).distinct()
    query = select(OrgUnit.id, OrgUnit.name, OrgUnit.code).where(
        col(OrgUnit.id).in_(parents.scalar_subquery()), OrgUnit.level != Level.NATIONAL
    )
    return {int(i or 0): (name, code) for i, name, code in (await session.exec(query)).all()}


def _export_query(since: date | None, until: date | None, under: OrgUnit | None) -> Any:
    """The items of live records in the date range (and subtree), by date then record, with what a row shows."""
    query = (
        sa_select(
            col(ActivityRecord.id),
            col(ActivityRecord.activity_date),
            col(OrgUnit.path),
            col(OrgUnit.name),
            col(OrgUnit.code),
            col(Person.display_name),
            col(Indicator.code),
            col(Indicator.name),
            col(ActivityItem.quantity),
            col(Indicator.unit),
            col(ActivityRecord.note),
            col(ActivityRecord.photo),
            col(ActivityRecord.message_text),
            col(ActivityRecord.created_at),
            col(ActivityRecord.updated_at),
        )
        .join(ActivityItem, col(ActivityItem.record_id) == col(ActivityRecord.id))
        .join(Indicator, col(Indicator.id) == col(ActivityItem.indicator_id))
        .join(OrgUnit, col(OrgUnit.id) == col(ActivityRecord.org_unit_id))
        .join(Person, col(Person.id) == col(ActivityRecord.person_id))
        .where(col(ActivityRecord.deleted_at).is_(None))
    )
    if since is not None:
        query = query.where(col(ActivityRecord.activity_date) >= since)
    if until is not None:
        query = query.where(col(ActivityRecord.activity_date) <= until)
    if under is not None:
        query = query.where(col(OrgUnit.path).startswith(under.path))
    query = query.order_by(col(ActivityRecord.activity_date), col(ActivityRecord.id), col(ActivityItem.id))
    return query


async def stream_export_rows(
    session: AsyncSession,
    *,
    since: date | None = None,
    until: date | None = None,
    under: OrgUnit | None = None,
    batch: int = EXPORT_BATCH,
) -> AsyncIterator[list[ExportRow]]:
    """Every item of the live records in the date range (and subtree), by date then record, in batches read
    through a server-side cursor: no export holds all its rows in memory."""
    query = _export_query(since, until, under)
    ancestors = await _ancestor_names(session)
    # One chain per parent path (a few thousand at national size), not per row.
    chains: dict[str, tuple[str, str]] = {}
    result = await session.stream(query)
    async for partition in result.partitions(batch):
        out: list[ExportRow] = []
        for row in partition:
            rid, day, path, name, code, person, ind_code, ind_name, qty, unit, note, photo, text, made, edited = row
            head = path[: path.rstrip("/").rfind("/") + 1]  # "/1/5/77/" -> "/1/5/": the unit's ancestors
            chain = chains.get(head)
            if chain is None:
                found = [ancestors[int(i)] for i in head.strip("/").split("/") if i and int(i) in ancestors]
                chain = chains[head] = (" / ".join(n for n, _ in found), "/".join(c for _, c in found))
            names, codes = chain
            out.append(
                ExportRow(
                    record_id=rid or 0,
                    activity_date=day,
                    org_path=f"{names} / {name}" if names else name,
                    org_codes=f"{codes}/{code}" if codes else code,
                    person=person,
                    indicator_code=ind_code,
                    indicator_name=ind_name,
                    quantity=qty,
                    unit=unit,
                    note=note or "",
                    photo=photo or "",
                    message_text=text,
                    created_at=made,
                    updated_at=edited,
                )
            )
        yield out
