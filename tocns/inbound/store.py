"""Storing inbound updates before processing them, and marking them processed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    Boolean,
    Integer,
    String,
    all_,
    any_,
    bindparam,
    case,
    delete,
    exists,
    literal,
    literal_column,
    true,
    union_all,
    update,
)
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.core.clock import utcnow
from tocns.db import raw
from tocns.db.dialect import is_postgres
from tocns.db.engine import Database
from tocns.db.upsert import per_dialect, table_of
from tocns.inbound.models import InboundState, InboundUpdate, ProcessedMessage
from tocns.outbox import store as outbox_store
from tocns.outbox.models import OutboxMessage, OutboxState

Claim = tuple[str, datetime]
"""Who claims (the worker's owner id) and until when."""


# 'pending' written in the statement, not a parameter: a prepared statement's generic plan can then use the partial
# index of pending updates (`ix_inbound_update_pending`), and so can SQLite's planner, which matches an index's WHERE
# only against literal terms.
_PENDING: Any = literal_column(f"'{InboundState.PENDING.value}'")


_UPDATES = table_of(InboundUpdate)
# SQLite: built once and run with the rows as parameters (one multi-row statement: SQLAlchemy's
# "insertmanyvalues"): building a VALUES list per batch coerced every value and compiled once per batch size.
_UPDATES_INSERT_SQLITE = (
    sqlite_insert(_UPDATES)
    .on_conflict_do_nothing()
    .returning(_UPDATES.c.id, _UPDATES.c.platform, _UPDATES.c.update_key)
)


def _held_elsewhere(row: Any, owner: Any, also: Any) -> Any:
    """Whether `row`'s chat (its platform and chat_key columns) has a pending update, meeting `also(earlier)`, that
    `owner` does not hold: held by another worker or by nobody. The claim at store time is refused then."""
    earlier = _UPDATES.alias("earlier")
    return exists().where(
        earlier.c.platform == row.platform,
        earlier.c.chat_key == row.chat_key,
        earlier.c.state == _PENDING,
        earlier.c.claimed_by.is_(None) | (earlier.c.claimed_by != owner),
        also(earlier),
    )


_LISTED_COLUMNS = ("platforms", "keys", "bodies", "chats")


def _listed(*extra: Any) -> Any:
    """PostgreSQL: the batch's arrays as rows, one per element with its ordinal `n` (unnest, in their order)."""
    arrays = (bindparam(f"u_{name}", type_=ARRAY(String)) for name in _LISTED_COLUMNS)
    names = ("platform", "update_key", "body", "chat_key", *(name for name, _ in extra))
    return (
        func.unnest(*arrays, *(array for _, array in extra))
        .table_valued(*names, with_ordinality="n")
        .render_derived(name="listed")
    )


def _updates_insert_pg() -> Any:
    """PostgreSQL: a batch of updates as arrays, one row per element (unnest, in their order), in one statement of
    one text whatever the batch's size: prepared once on the session's asyncpg connection (`tocns.db.raw`)."""
    listed = _listed()
    received_at = bindparam("u_received_at", type_=_UPDATES.c.received_at.type)
    rows = sa_select(
        listed.c.platform,
        listed.c.update_key,
        listed.c.body,
        literal(InboundState.PENDING.value),
        received_at,
        listed.c.chat_key,
        literal(0),
    ).order_by(listed.c.n)
    columns = ["platform", "update_key", "body", "state", "received_at", "chat_key", "attempts"]
    return raw.Prepared(
        pg_insert(_UPDATES)
        .from_select(columns, rows)
        .on_conflict_do_nothing()
        .returning(_UPDATES.c.id, _UPDATES.c.platform, _UPDATES.c.update_key)
    )


_UPDATES_INSERT_PG = _updates_insert_pg()


def _updates_insert_claiming_pg() -> Any:
    """PostgreSQL: `_updates_insert_pg` that also claims, as it inserts, each update marked claimable whose chat has
    no pending update the owner does not hold: `claim_stored`'s rule, decided in the same statement (the rows of
    the batch itself are not visible to it, so they never block each other, as in `claim_stored`). A claimable
    update refused so is held for its turn instead (`hold_for_turn`); RETURNING says which were claimed."""
    listed = _listed(("claimable", bindparam("u_claimable", type_=ARRAY(Boolean))))
    owner = bindparam("owner", type_=_UPDATES.c.claimed_by.type)
    until = bindparam("until", type_=_UPDATES.c.claimed_until.type)
    hold = bindparam("hold_until", type_=_UPDATES.c.claimed_until.type)
    blocked = _held_elsewhere(listed.c, owner, lambda earlier: true())
    taken = sa_select(listed, (listed.c.claimable & ~blocked).label("taken")).select_from(listed).subquery("decided")
    rows = sa_select(
        taken.c.platform,
        taken.c.update_key,
        taken.c.body,
        literal(InboundState.PENDING.value),
        bindparam("u_received_at", type_=_UPDATES.c.received_at.type),
        taken.c.chat_key,
        literal(0),
        case((taken.c.claimable, owner)),
        case((taken.c.taken, until), (taken.c.claimable, hold)),
    ).order_by(taken.c.n)
    columns = ["platform", "update_key", "body", "state", "received_at", "chat_key", "attempts"]
    return raw.Prepared(
        pg_insert(_UPDATES)
        .from_select([*columns, "claimed_by", "claimed_until"], rows)
        .on_conflict_do_nothing()
        .returning(_UPDATES.c.id, _UPDATES.c.platform, _UPDATES.c.update_key, _UPDATES.c.claimed_until == until)
    )


_UPDATES_INSERT_CLAIMING_PG = _updates_insert_claiming_pg()


def _listed_params(rows: list[tuple[str, str, str, str | None]], received_at: datetime) -> dict[str, Any]:
    """The parameters of `_listed`'s arrays (one per column of the rows) and the time they were received."""
    platforms, keys, bodies, chats = (list(column) for column in zip(*rows, strict=True))
    return {
        "u_platforms": platforms,
        "u_keys": keys,
        "u_bodies": bodies,
        "u_chats": chats,
        "u_received_at": received_at,
    }


async def _insert(
    session: AsyncSession, rows: list[tuple[str, str, str, str | None]], received_at: datetime
) -> dict[tuple[str, str], int]:
    """One INSERT ... ON CONFLICT DO NOTHING of these (platform, key, body, chat) rows, pending, received at
    `received_at`; per (platform, key) stored, its id."""
    if not rows:
        return {}
    if is_postgres(session):
        result = await raw.fetch(session, _UPDATES_INSERT_PG, _listed_params(rows, received_at))
    else:
        await session.flush()  # pending ORM rows first, as the ORM execute path's autoflush did
        conn = await session.connection()
        values = [
            {
                "platform": platform,
                "update_key": key,
                "body": body,
                "state": InboundState.PENDING.value,
                "received_at": received_at,
                "chat_key": chat,
                "attempts": 0,
            }
            for platform, key, body, chat in rows
        ]
        result = list((await conn.execute(_UPDATES_INSERT_SQLITE, values)).all())
    return {(platform, key): row_id for row_id, platform, key in result}


def _row(platform: str, key: str, body: dict[str, Any], chat: str | None) -> tuple[str, str, str, str | None]:
    """An update as stored: (platform, key, body as JSON, chat), cut to their columns' widths."""
    return platform, key[:200], json.dumps(body, ensure_ascii=False), chat[:100] if chat is not None else None


def _claim_stored_statement(ids: Any, not_held: Any) -> Any:
    """Claim the stored `ids` whose chat has no earlier pending update not held by the owner (Core, built once):
    `ids` the ids' test and `not_held` the earlier row's, per database (SQLite expands a list, PostgreSQL takes
    one array, so that its text is the same for every batch)."""
    owner = bindparam("owner", type_=_UPDATES.c.claimed_by.type)
    blocked = _held_elsewhere(
        _UPDATES.c, owner, lambda earlier: (earlier.c.id < _UPDATES.c.id) & not_held(earlier.c.id)
    )
    return (
        update(_UPDATES)
        .where(ids(_UPDATES.c.id), ~blocked)
        .values(claimed_by=owner, claimed_until=bindparam("until", type_=_UPDATES.c.claimed_until.type))
        .returning(_UPDATES.c.id)
    )


_IDS: Any = bindparam("ids", expanding=True)
_CLAIM_STORED_SQLITE = _claim_stored_statement(lambda c: c.in_(_IDS), lambda c: c.not_in(_IDS))
_ID_ARRAY = bindparam("ids", type_=ARRAY(Integer))
_CLAIM_STORED_PG = raw.Prepared(_claim_stored_statement(lambda c: c == any_(_ID_ARRAY), lambda c: c != all_(_ID_ARRAY)))


async def claim_stored(session: AsyncSession, ids: Sequence[int], claim: Claim) -> set[int]:
    """Right after storing `ids`, in the same transaction: claim for the storing worker those whose chat has no
    earlier update pending, other than the ones this worker holds or stored with them (it processes those first,
    in order). One statement per batch: the webhook's fast path needs no claim transaction of its own."""
    if not ids:
        return set()
    owner, until = claim
    params = {"ids": list(ids), "owner": owner, "until": until}
    if is_postgres(session):
        return {row_id for (row_id,) in await raw.fetch(session, _CLAIM_STORED_PG, params)}
    # On the session's connection: the rows were just inserted by `_insert`, which flushed the session first.
    conn = await session.connection()
    result = await conn.execute(_CLAIM_STORED_SQLITE, params)
    return {row_id for (row_id,) in result.all()}


async def store_update(
    session: AsyncSession,
    platform: str,
    update_key: str,
    body: dict[str, Any],
    now: datetime | None = None,
    chat: str | None = None,
) -> InboundUpdate | None:
    """Store an update (of `chat`, kept for in-order claims); None when the same (platform, key) was already
    stored."""
    received_at = now or utcnow()
    row = _row(platform, update_key, body, chat)
    # One INSERT ... ON CONFLICT DO NOTHING: no savepoint round trips on the webhook's hot path.
    row_id = (await _insert(session, [row], received_at)).get((platform, row[1]))
    if row_id is None:
        return None
    return InboundUpdate(
        id=row_id,
        platform=platform,
        update_key=row[1],
        body=row[2],
        state=InboundState.PENDING.value,
        received_at=received_at,
        chat_key=row[3],
        attempts=0,
    )


async def store_updates(
    session: AsyncSession,
    updates: list[tuple[str, str, dict[str, Any]]],
    now: datetime | None = None,
    chats: Sequence[str | None] | None = None,
) -> list[int | None]:
    """Store several (platform, key, body) updates (of `chats`, one per update) in one statement; per update its
    row id, or None when the same (platform, key) was stored before or earlier in the same list (a redelivery)."""
    first, rows = _unique_rows(updates, chats)
    stored = await _insert(session, rows, now or utcnow())
    result: list[int | None] = [None] * len(updates)
    for ident, index in first.items():
        result[index] = stored.get(ident)
    return result


async def store_new_updates(
    db: Database,
    updates: list[tuple[str, str, dict[str, Any]]],
    chats: Sequence[str | None],
    claimable: Sequence[bool],
    claim: Claim,
    now: datetime,
    hold_until: datetime | None = None,
) -> list[tuple[int, bool] | None]:
    """The webhook's write: store (platform, key, body) updates of `chats` and claim for `claim`'s owner, in the
    same transaction, those `claimable` whose chat has nothing pending held elsewhere (`claim_stored`'s rule), and
    hold the other claimable ones for their turn until `hold_until` (`hold_for_turn`; default: now); per update
    (row id, claimed), or None for a redelivery. PostgreSQL: one statement on a pooled connection, outside any
    session (the session's own work per transaction cost more CPU than the write); SQLite: a session with
    `store_updates`, `claim_stored` and `hold_for_turn`."""
    hold = hold_until or now
    if db.is_sqlite:
        async with db.session() as session:
            row_ids = await store_updates(session, updates, now=now, chats=chats)
            mine = [row_id for row_id, able in zip(row_ids, claimable, strict=True) if row_id is not None and able]
            claimed = await claim_stored(session, mine, claim)
            await hold_for_turn(session, [row_id for row_id in mine if row_id not in claimed], claim[0], hold)
        return [None if row_id is None else (row_id, row_id in claimed) for row_id in row_ids]
    first, rows = _unique_rows(updates, chats)
    taken = [claimable[index] for index in first.values()]
    params = {
        **_listed_params(rows, now),
        "u_claimable": taken,
        "owner": claim[0],
        "until": claim[1],
        "hold_until": hold,
    }
    stored = {
        (platform, key): (row_id, bool(claimed))
        for row_id, platform, key, claimed in await raw.fetch_alone(db.engine, _UPDATES_INSERT_CLAIMING_PG, params)
    }
    result: list[tuple[int, bool] | None] = [None] * len(updates)
    for ident, index in first.items():
        result[index] = stored.get(ident)
    return result


async def hold_for_turn(session: AsyncSession, ids: Sequence[int], owner: str, until: datetime) -> None:
    """Hold the stored, unclaimed updates `ids` for `owner` until `until`: updates its worker keeps to claim by id in
    their turn (`claim_listed`), which no other worker's walk takes before then, nor counts as an attempt. Past
    `until` (its worker gone, or their turn slow to come) any worker's walk may take them."""
    if ids:
        await session.exec(  # type: ignore[call-overload]
            update(InboundUpdate)
            .where(col(InboundUpdate.id).in_(list(ids)), col(InboundUpdate.claimed_by).is_(None))
            .values(claimed_by=owner, claimed_until=until)
        )


def _unique_rows(
    updates: list[tuple[str, str, dict[str, Any]]], chats: Sequence[str | None] | None
) -> tuple[dict[tuple[str, str], int], list[tuple[str, str, str, str | None]]]:
    """Each (platform, key) once, with the index of its first update, and the rows to insert for them."""
    first: dict[tuple[str, str], int] = {}
    rows: list[tuple[str, str, str, str | None]] = []
    for index, (platform, key, body) in enumerate(updates):
        ident = (platform, key[:200])
        if ident in first:
            continue
        first[ident] = index
        rows.append(_row(platform, key, body, chats[index] if chats is not None else None))
    return first, rows


async def finish_update(
    session: AsyncSession,
    update_id: int,
    error: str | None = None,
    owner: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Mark a pending update done, or parked (failed) with the error, at `now` (the app's clock); with `owner`,
    only while that worker still holds its claim. False when the update was not (or no longer) this worker's to
    finish."""
    query = update(InboundUpdate).where(
        col(InboundUpdate.id) == update_id, col(InboundUpdate.state) == InboundState.PENDING.value
    )
    if owner is not None:
        query = query.where(col(InboundUpdate.claimed_by) == owner)
    result = await session.exec(  # type: ignore[call-overload]
        query.values(
            state=InboundState.FAILED.value if error else InboundState.DONE.value,
            error=error[:500] if error else None,
            processed_at=now or utcnow(),
            claimed_by=None,
            claimed_until=None,
            next_attempt_at=None,
        )
    )
    return bool(result.rowcount)


def _done_with_message() -> Any:
    """PostgreSQL: one waiting message (the outbox's keyed INSERT, as a data-modifying CTE) and the update's
    done-mark under this worker's claim, in one statement, built once; returns the update's id when marked."""
    message = outbox_store.keyed_insert_pg().cte("new_message")
    return (
        update(_UPDATES)
        .where(
            _UPDATES.c.id == bindparam("u_id"),
            _UPDATES.c.state == InboundState.PENDING.value,
            _UPDATES.c.claimed_by == bindparam("u_owner"),
        )
        .values(
            state=InboundState.DONE.value,
            error=None,
            processed_at=bindparam("u_now", type_=_UPDATES.c.processed_at.type),
            claimed_by=None,
            claimed_until=None,
            next_attempt_at=None,
        )
        .returning(_UPDATES.c.id)
        .add_cte(message)
    )


# The hot path's last statement: run on the session's asyncpg connection (`tocns.db.raw`), compiled once.
_DONE_WITH_MESSAGE = raw.Prepared(_done_with_message())


async def finish_with_messages(
    session: AsyncSession, update_id: int, messages: Sequence[dict[str, Any]], *, owner: str, now: datetime
) -> bool:
    """Enqueue an update's replies (each `outbox_store.enqueue`'s keywords, with a dedupe key) and mark it done
    while `owner` holds its claim, in the caller's transaction; False when the claim was lost (the caller rolls
    back). On PostgreSQL a single reply and the done-mark are one statement: the common command's last round trip."""
    if len(messages) == 1 and is_postgres(session):
        params = outbox_store.keyed_params(**messages[0])
        params.update(u_id=update_id, u_owner=owner, u_now=now)
        return bool(await raw.fetch(session, _DONE_WITH_MESSAGE, params))
    for message in messages:
        await outbox_store.enqueue(session, **message)
    return await finish_update(session, update_id, owner=owner, now=now)


def _takeable(row: Any, now: Any) -> Any:
    """Due, and not held by a live claim (of a pending row: `row` a table or the heads' CTE)."""
    due = row.c.next_attempt_at.is_(None) | (row.c.next_attempt_at <= now)
    return due & (row.c.claimed_by.is_(None) | (row.c.claimed_until < now))


# What the walk over the chats carries of each head: its place in the index, and what says whether it is takeable.
_HEAD_COLUMNS = ("platform", "chat_key", "id", "next_attempt_at", "claimed_by", "claimed_until")


def _claim_heads_statement(platforms: int, lateral: bool) -> Any:
    """Claim the due, unclaimed heads of their chats, oldest first, for `owner` (Core): of the platforms given as
    parameters `platform_0` … (`platforms` of them), `lateral` whether the database has LATERAL.

    A chat's head is its oldest pending update: the only one of the chat that may be claimed, and only while it is
    due and unclaimed (a head that is claimed, or waiting out a retry, holds its chat). Updates of no chat (chat_key
    NULL) are each their own head. On PostgreSQL the rows are taken with FOR UPDATE SKIP LOCKED, so that several
    workers claiming at once skip each other's; the walk (`_heads`) reads a snapshot, and a head another worker
    claimed or finished meanwhile fails the test again on its new version (it is repeated on the locked row), so it
    is never taken twice (docs/inbound.md, "Claiming each chat's head").
    """
    now = bindparam("now", type_=_UPDATES.c.claimed_until.type)
    names = [bindparam(f"platform_{n}", type_=_UPDATES.c.platform.type) for n in range(platforms)]
    alone = _UPDATES.alias("unchatted")
    unchatted = sa_select(alone.c.id).where(
        alone.c.state == _PENDING, alone.c.platform.in_(names), alone.c.chat_key.is_(None)
    )
    u = _UPDATES.alias("candidate")  # not the UPDATE's own table: never correlated with it
    taken = (
        sa_select(u.c.id)
        # The test again on the row itself: under FOR UPDATE it is made on the row's latest version.
        .where(u.c.id.in_(_heads(names, lateral, now).union_all(unchatted)), u.c.state == _PENDING, _takeable(u, now))
        .order_by(u.c.id)
        .limit(bindparam("limit", type_=Integer))
        .with_for_update(skip_locked=True, of=u)  # not rendered on SQLite (one writer: BEGIN IMMEDIATE)
    )
    claimed = _UPDATES
    return (
        update(claimed)
        .where(claimed.c.id.in_(taken.scalar_subquery()))
        .values(
            claimed_by=bindparam("owner", type_=claimed.c.claimed_by.type),
            claimed_until=bindparam("until", type_=claimed.c.claimed_until.type),
            attempts=claimed.c.attempts + 1,
        )
        .returning(*(claimed.c[name] for name in _CLAIMED_COLUMNS))
    )


def _heads(names: list[Any], lateral: bool, now: Any) -> Any:
    """The ids of the chats' heads (of the platforms `names`) that are due and unclaimed at `now`.

    A loose index scan of `ix_inbound_update_pending` (a recursive CTE: from each chat, one descent to the first
    pending row of the platform's next chat), carrying what says whether each head is takeable: the cost is one
    probe per chat with something pending, not one per pending row.
    """
    one: Any = literal_column("1")  # written in: a generic plan then knows each step reads one row
    firsts = []
    for n, name in enumerate(names):
        first = _UPDATES.alias(f"first_pending_{n}")
        # Each platform's first chat in a subquery of its own: SQLite refuses a parenthesised SELECT in a UNION.
        start = (
            sa_select(*(first.c[column] for column in _HEAD_COLUMNS))
            .where(first.c.state == _PENDING, first.c.platform == name, first.c.chat_key.is_not(None))
            .order_by(first.c.chat_key, first.c.id)
            .limit(one)
            .subquery(f"first_head_{n}")
        )
        firsts.append(sa_select(*(start.c[column] for column in _HEAD_COLUMNS)))
    if len(firsts) > 1:
        together = union_all(*firsts).subquery("first_heads")
        firsts = [sa_select(*(together.c[column] for column in _HEAD_COLUMNS))]
    chats = firsts[0].cte("chats", recursive=True)
    following = _UPDATES.alias("following")
    # Within the platform (an equality and a range: both databases seek the index with them).
    next_head = (
        sa_select(*(following.c[column] for column in _HEAD_COLUMNS))
        .where(
            following.c.state == _PENDING,
            following.c.platform == chats.c.platform,
            following.c.chat_key > chats.c.chat_key,
        )
        .order_by(following.c.chat_key, following.c.id)
        .limit(one)
    )
    if lateral:
        # PostgreSQL: the next chat's head read in one descent of the index and one visit of its row.
        step: Any = next_head.lateral("next_head")
        joined = chats.join(step, true())
    else:
        # SQLite has no LATERAL: the next head's id, then its row by primary key.
        step = _UPDATES.alias("next_head")
        joined = chats.join(step, step.c.id == next_head.with_only_columns(following.c.id).scalar_subquery())
    chats = chats.union_all(sa_select(*(step.c[column] for column in _HEAD_COLUMNS)).select_from(joined))
    return sa_select(chats.c.id).where(_takeable(chats, now))


_CLAIMED_COLUMNS = tuple(column.key for column in _UPDATES.c)


@cache
def _claim_heads(platforms: int, postgres: bool) -> Any:
    """The claim of heads for this many platforms, built once per database (a process has one set of channels)."""
    if postgres:
        return raw.Prepared(_claim_heads_statement(platforms, lateral=True))
    return _claim_heads_statement(platforms, lateral=False)


async def claim_updates(
    session: AsyncSession,
    *,
    owner: str,
    platforms: Sequence[str],
    now: datetime,
    lease_seconds: float,
    limit: int,
) -> list[InboundUpdate]:
    """Claim due pending updates of `platforms`, the oldest first, for `owner` until now + `lease_seconds`; one
    attempt more is counted on each. Only a chat's oldest pending update is ever claimed (an update waits while an
    earlier update of its chat is pending, claimed or waiting out a retry): one chat's updates are processed one at
    a time, in arrival order. One statement; its cost grows with the chats that have something pending, not with
    the backlog behind them."""
    wanted = sorted(set(platforms))
    if not wanted:
        return []
    params: dict[str, Any] = {
        "owner": owner,
        "until": now + timedelta(seconds=lease_seconds),
        "now": now,
        "limit": limit,
        **{f"platform_{n}": platform for n, platform in enumerate(wanted)},
    }
    postgres = is_postgres(session)
    return await _claimed(session, _claim_heads(len(wanted), postgres), params)


async def _claimed(session: AsyncSession, statement: Any, params: dict[str, Any]) -> list[InboundUpdate]:
    """Run a claim that returns `_CLAIMED_COLUMNS` (`raw.Prepared` on PostgreSQL, Core on SQLite); the updates it
    claimed, by id, as unattached rows."""
    if isinstance(statement, raw.Prepared):
        rows: list[Any] = await raw.fetch(session, statement, params)
    else:
        conn = await session.connection()
        rows = list((await conn.execute(statement, params)).all())
    claimed = [raw.built(InboundUpdate, dict(zip(_CLAIMED_COLUMNS, row, strict=True))) for row in rows]
    return sorted(claimed, key=lambda row: row.id)


def _behind_pending(row: Any) -> Any:
    """Whether `row` (the table being updated) has an earlier pending update of its chat: then it is not its chat's
    head, and may not be claimed."""
    earlier = _UPDATES.alias("earlier")  # another row of the table: never mistaken for the row being updated
    return exists().where(
        earlier.c.platform == row.c.platform,
        earlier.c.chat_key == row.c.chat_key,
        earlier.c.state == _PENDING,
        earlier.c.id < row.c.id,
    )


def _claim_one_statement() -> Any:
    """Claim the update `u_id` if it is pending, due, unclaimed and the head of its chat (Core, built once)."""
    now = bindparam("u_now", type_=_UPDATES.c.claimed_until.type)
    return (
        update(_UPDATES)
        .where(
            _UPDATES.c.id == bindparam("u_id"),
            _UPDATES.c.state == _PENDING,
            _takeable(_UPDATES, now),
            ~_behind_pending(_UPDATES),
        )
        .values(
            claimed_by=bindparam("u_owner", type_=_UPDATES.c.claimed_by.type),
            claimed_until=bindparam("u_until", type_=_UPDATES.c.claimed_until.type),
            attempts=_UPDATES.c.attempts + 1,
        )
        .returning(_UPDATES.c.attempts)
    )


def _claim_listed_statement(ids: Any) -> Any:
    """Claim those of the updates `ids` (the ids' test, per database) that are pending, due, unclaimed (or held for
    their turn by the owner: `hold_for_turn`) and the head of their chat; `claim_updates`' columns of each (Core,
    built once per database)."""
    now = bindparam("now", type_=_UPDATES.c.claimed_until.type)
    owner = bindparam("owner", type_=_UPDATES.c.claimed_by.type)
    held_here = (_UPDATES.c.claimed_by == owner) & (_UPDATES.c.attempts == 0)  # held for its turn by this worker
    due = _UPDATES.c.next_attempt_at.is_(None) | (_UPDATES.c.next_attempt_at <= now)
    return (
        update(_UPDATES)
        .where(
            ids(_UPDATES.c.id),
            _UPDATES.c.state == _PENDING,
            _takeable(_UPDATES, now) | (due & held_here),
            ~_behind_pending(_UPDATES),
        )
        .values(
            claimed_by=owner,
            claimed_until=bindparam("until", type_=_UPDATES.c.claimed_until.type),
            attempts=_UPDATES.c.attempts + 1,
        )
        .returning(*(_UPDATES.c[name] for name in _CLAIMED_COLUMNS))
    )


_CLAIM_LISTED_SQLITE = _claim_listed_statement(lambda c: c.in_(bindparam("ids", expanding=True)))
_CLAIM_LISTED_PG = raw.Prepared(_claim_listed_statement(lambda c: c == any_(bindparam("ids", type_=ARRAY(Integer)))))


async def claim_listed(
    session: AsyncSession, ids: Sequence[int], *, owner: str, now: datetime, lease_seconds: float
) -> list[InboundUpdate]:
    """Claim, of the stored updates `ids`, those whose chat's turn has come (each pending, due, unclaimed or held
    for its turn by `owner`, and its chat's oldest pending update), for `owner` until now + `lease_seconds`, one
    attempt more counted; by id. One statement that reads only those rows: the follow-up of updates this worker
    stored behind another worker's."""
    if not ids:
        return []
    params = {"ids": list(ids), "owner": owner, "now": now, "until": now + timedelta(seconds=lease_seconds)}
    return await _claimed(session, _CLAIM_LISTED_PG if is_postgres(session) else _CLAIM_LISTED_SQLITE, params)


_CLAIM_ONE_SQLITE = _claim_one_statement()
# Run for every update stored behind another of its chat: on the driver on PostgreSQL (`tocns.db.raw`).
_CLAIM_ONE_PG = raw.Prepared(_claim_one_statement())


async def claim_update(
    session: AsyncSession, update_id: int, *, owner: str, now: datetime, lease_seconds: float
) -> int | None:
    """Claim one stored update if it is claimable and its chat's turn (one conditional UPDATE: the fast path of
    an update stored behind another of its chat); its attempt number, or None."""
    params = {"u_id": update_id, "u_owner": owner, "u_now": now, "u_until": now + timedelta(seconds=lease_seconds)}
    if is_postgres(session):
        rows: list[Any] = await raw.fetch(session, _CLAIM_ONE_PG, params)
    else:
        conn = await session.connection()
        rows = list((await conn.execute(_CLAIM_ONE_SQLITE, params)).all())
    return int(rows[0][0]) if rows else None


async def hand_back(session: AsyncSession, update_id: int, owner: str) -> bool:
    """Give up a claim taken when the update was stored, without counting the attempt (it is not its chat's
    turn after all: an earlier update of the chat failed meanwhile); the loop takes it in its turn."""
    result = await session.exec(  # type: ignore[call-overload]
        update(InboundUpdate)
        .where(
            col(InboundUpdate.id) == update_id,
            col(InboundUpdate.state) == InboundState.PENDING.value,
            col(InboundUpdate.claimed_by) == owner,
        )
        .values(claimed_by=None, claimed_until=None)
    )
    return bool(result.rowcount)


async def release_update(
    session: AsyncSession, update_id: int, owner: str, error: str, retry_at: datetime, attempts: int
) -> bool:
    """Hand a claimed update back after its failed attempt number `attempts`, due again at `retry_at`, its error
    kept for the operator; False when `owner` no longer held the claim."""
    result = await session.exec(  # type: ignore[call-overload]
        update(InboundUpdate)
        .where(
            col(InboundUpdate.id) == update_id,
            col(InboundUpdate.state) == InboundState.PENDING.value,
            col(InboundUpdate.claimed_by) == owner,
        )
        .values(claimed_by=None, claimed_until=None, next_attempt_at=retry_at, error=error[:500], attempts=attempts)
    )
    return bool(result.rowcount)


async def parked_updates(session: AsyncSession, limit: int = 100) -> list[InboundUpdate]:
    """Updates parked after their last attempt failed, oldest first."""
    result = await session.exec(
        select(InboundUpdate)
        .where(col(InboundUpdate.state) == InboundState.FAILED.value)
        .order_by(col(InboundUpdate.id))
        .limit(limit)
    )
    return list(result.all())


async def retry_parked(session: AsyncSession, ids: Sequence[int] | None = None) -> list[int]:
    """Put parked updates (these, or all) back in the queue with a fresh count of attempts; the ids put back."""
    query = update(InboundUpdate).where(col(InboundUpdate.state) == InboundState.FAILED.value)
    if ids is not None:
        query = query.where(col(InboundUpdate.id).in_(list(ids)))
    result = await session.exec(  # type: ignore[call-overload]
        query.values(
            state=InboundState.PENDING.value,
            attempts=0,
            next_attempt_at=None,
            claimed_by=None,
            claimed_until=None,
            processed_at=None,
        ).returning(col(InboundUpdate.id))
    )
    return sorted(row_id for (row_id,) in result.all())


async def queue_counts(session: AsyncSession) -> dict[str, int]:
    """How many updates are pending (the backlog) and how many are parked."""
    wanted = (InboundState.PENDING.value, InboundState.FAILED.value)
    result = await session.exec(
        select(InboundUpdate.state, func.count())
        .where(col(InboundUpdate.state).in_(wanted))
        .group_by(col(InboundUpdate.state))
    )
    counts = dict.fromkeys(wanted, 0)
    counts.update({state: int(n) for state, n in result.all()})
    return counts


async def outbox_depth(session: AsyncSession) -> int:
    """How many outbox messages are not delivered yet (waiting, or being sent right now)."""
    waiting = (OutboxState.PENDING, OutboxState.SENDING)
    result = await session.exec(
        select(func.count()).select_from(OutboxMessage).where(col(OutboxMessage.state).in_(waiting))
    )
    return int(result.one())


_PROCESSED = table_of(ProcessedMessage)
_processed_insert = per_dialect(
    lambda insert: (
        insert(_PROCESSED)
        .on_conflict_do_nothing(index_elements=["platform", "chat_id", "message_id"])
        .returning(_PROCESSED.c.id)
    )
)


async def mark_processed(
    session: AsyncSession, platform: str, chat_id: str, message_id: str, now: datetime | None = None
) -> bool:
    """Remember a platform message (at `now`, the app's clock); False if it was already processed (a retried
    delivery)."""
    conn = await session.connection()
    values = {"platform": platform, "chat_id": chat_id, "message_id": message_id, "processed_at": now or utcnow()}
    result = await conn.execute(_processed_insert(session), values)
    return result.first() is not None


def _processed_mark_pg() -> Any:
    """PostgreSQL: the processed-mark with named parameters (`m_*`), for another statement to run first as a
    data-modifying CTE (the group sender's: docs/inbound.md); returns the mark's id, none for a retried delivery."""
    return (
        pg_insert(_PROCESSED)
        .values({c: bindparam(f"m_{c}", type_=_PROCESSED.c[c].type) for c in _MARK_COLUMNS})
        .on_conflict_do_nothing(index_elements=["platform", "chat_id", "message_id"])
        .returning(_PROCESSED.c.id)
    )


_MARK_COLUMNS = ("platform", "chat_id", "message_id", "processed_at")
PROCESSED_MARK_PG = _processed_mark_pg()
"""The processed-mark as one statement to run as a CTE (PostgreSQL), built once; `mark_params` fills it."""


def mark_params(platform: str, chat_id: str, message_id: str, now: datetime) -> dict[str, Any]:
    """The parameters of `PROCESSED_MARK_PG` for one message."""
    return {"m_platform": platform, "m_chat_id": chat_id, "m_message_id": message_id, "m_processed_at": now}


# Rows deleted per statement: the first run after an upgrade may find months of updates, and one huge
# DELETE would hold its locks (and SQLite's single writer) for too long. The job runs every minute.
PURGE_BATCH = 5000


async def purge_processed_updates(session: AsyncSession, before: datetime, batch: int = PURGE_BATCH) -> int:
    """Delete up to `batch` updates processed successfully and received before `before`; return how many.

    Only `done` updates go: a pending one is still to be processed and a failed one waits for the operator.
    What they produced (records, tasks, acknowledgements, the audit log) lives in its own tables and stays.
    """
    expired = (
        select(InboundUpdate.id)
        .where(
            col(InboundUpdate.state) == InboundState.DONE.value,
            # received_at first: the (state, received_at) index narrows the scan; processed_at makes it exact.
            col(InboundUpdate.received_at) < before,
            col(InboundUpdate.processed_at) < before,
        )
        .limit(batch)
    )
    result = await session.exec(  # type: ignore[call-overload]
        delete(InboundUpdate).where(col(InboundUpdate.id).in_(expired.scalar_subquery()))
    )
    return int(result.rowcount or 0)
