"""Enqueueing outgoing messages (the sender that drains the outbox lives in bot/)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, String, any_, bindparam, case, func, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.core.clock import utcnow
from tocns.core.messages import Button, buttons_to_json
from tocns.db import raw
from tocns.db.dialect import is_postgres
from tocns.db.upsert import per_dialect, table_of
from tocns.outbox.models import OutboxMessage, OutboxState

_OUTBOX = table_of(OutboxMessage)

IMMEDIATE_KINDS = ("reply", "directive_urgent", "directive_recall")
"""Kinds sent even in quiet hours: replies to a person's own command, urgent directives and recall notices.
Every other kind is a message the bot starts, and waits for the end of the quiet hours."""


def _outbox_param(column: str) -> Any:
    return bindparam(f"o_{column}", type_=_OUTBOX.c[column].type)


# Built once per dialect and run with new parameters: building the statement per call cost more CPU than
# running it. ON CONFLICT DO NOTHING rather than a savepoint: fewer round trips on the reply path.
def _build_keyed(insert: Any) -> Any:
    return (
        insert(_OUTBOX)
        .values({c.name: _outbox_param(c.name) for c in _OUTBOX.c if c.name != "id"})
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(*_OUTBOX.c)
    )


_keyed_insert = per_dialect(lambda insert: select(OutboxMessage).from_statement(_build_keyed(insert)))


def keyed_insert_pg() -> Any:
    """PostgreSQL's Core INSERT ... ON CONFLICT (dedupe_key) DO NOTHING of one message, run with `keyed_params`
    (the inbound store folds it into the update's done-mark)."""
    return _build_keyed(pg_insert)


def keyed_params(
    *,
    platform: str,
    chat_id: str,
    text: str,
    kind: str = "reply",
    dedupe_key: str,
    attachments: Sequence[dict[str, str]] | None = None,
    now: datetime | None = None,
    thread_id: str | None = None,
    buttons: Sequence[Button] = (),
) -> dict[str, Any]:
    """The parameters of `keyed_insert`: one waiting message, as `enqueue` stores it."""
    now = now or utcnow()
    return {
        "o_platform": platform,
        "o_chat_id": chat_id,
        "o_text": text,
        "o_attachments": json.dumps(list(attachments), ensure_ascii=False) if attachments else None,
        "o_kind": kind,
        "o_dedupe_key": dedupe_key,
        "o_state": OutboxState.PENDING,
        "o_attempts": 0,
        "o_next_attempt_at": now,
        "o_created_at": now,
        "o_sent_at": None,
        "o_last_error": None,
        "o_lease_owner": None,
        "o_lease_until": None,
        "o_merged_into_id": None,
        "o_parts_sent": 0,
        "o_thread_id": thread_id,
        "o_buttons": buttons_to_json(buttons),
    }


async def enqueue(
    session: AsyncSession,
    *,
    platform: str,
    chat_id: str,
    text: str,
    kind: str = "reply",
    dedupe_key: str | None = None,
    attachments: Sequence[dict[str, str]] | None = None,
    now: datetime | None = None,
    thread_id: str | None = None,
    buttons: Sequence[Button] = (),
) -> OutboxMessage | None:
    """Add a message to the outbox in the caller's transaction; None if `dedupe_key` was already used. `buttons`
    are commands the message offers as one tap where the platform has buttons."""
    now = now or utcnow()
    if dedupe_key is None:
        row = OutboxMessage(
            platform=platform,
            chat_id=chat_id,
            text=text,
            kind=kind,
            attachments=json.dumps(list(attachments), ensure_ascii=False) if attachments else None,
            next_attempt_at=now,
            created_at=now,
            thread_id=thread_id,
            buttons=buttons_to_json(buttons),
        )
        session.add(row)
        await session.flush()
        return row
    params = keyed_params(
        platform=platform,
        chat_id=chat_id,
        text=text,
        kind=kind,
        dedupe_key=dedupe_key,
        attachments=attachments,
        now=now,
        thread_id=thread_id,
        buttons=buttons,
    )
    stored: OutboxMessage | None = (await session.exec(_keyed_insert(session), params=params)).scalars().first()
    return stored


# Rows per multi-row INSERT: 200 messages of 18 columns stay far under SQLite's and asyncpg's parameter limits.
ENQUEUE_MANY_ROWS = 200


# The many-message form: the same INSERT returning only the key, compiled once and run with a list of parameter
# sets, which SQLAlchemy sends as multi-row VALUES ("insertmanyvalues") of ENQUEUE_MANY_ROWS rows each. A statement
# built with .values(rows) compiled thousands of bind parameters per batch: ~25 ms of CPU on the event loop each.
_keyed_many = per_dialect(
    lambda insert: (
        insert(_OUTBOX)
        .values({c.name: _outbox_param(c.name) for c in _OUTBOX.c if c.name != "id"})
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(_OUTBOX.c.dedupe_key)
    )
)


async def enqueue_many(session: AsyncSession, messages: Sequence[dict[str, Any]]) -> set[str]:
    """Add keyed messages (`enqueue`'s keyword arguments, each with a dedupe_key) in the caller's transaction with
    one multi-row INSERT per ENQUEUE_MANY_ROWS; return the dedupe keys stored (a key already used is skipped).

    A Monday's thousands of digests and reminders: one round trip per batch instead of one per message.
    """
    stored: set[str] = set()
    if not messages:
        return stored
    conn = await session.connection()
    # One page at a time, parameters included: the event loop runs other work between two pages, instead of
    # waiting while a directive's thousands of messages are turned into parameters at once.
    for start in range(0, len(messages), ENQUEUE_MANY_ROWS):
        page = [keyed_params(**message) for message in messages[start : start + ENQUEUE_MANY_ROWS]]
        result = await conn.execute(_keyed_many(session), page)
        stored.update(key for (key,) in result.all())
    return stored


def stored_lines(messages: Sequence[tuple[dict[str, Any], str]], stored: set[str]) -> list[str]:
    """The log lines of the (message, line) pairs whose key enqueue_many stored, in order and once per key (a key
    repeated in one batch is stored once, as successive `enqueue` calls would)."""
    seen: set[str] = set()
    lines = []
    for message, line in messages:
        key = message["dedupe_key"]
        if key in stored and key not in seen:
            seen.add(key)
            lines.append(line)
    return lines


async def cancel_pending(session: AsyncSession, ids: Sequence[int]) -> set[int]:
    """Cancel those of these messages still waiting (not claimed by a sender); returns the ids cancelled."""
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    # One conditional UPDATE: a row a sender claims meanwhile is no longer pending and is left alone.
    result = await session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.id).in_(wanted), col(OutboxMessage.state) == OutboxState.PENDING)
        .values(state=OutboxState.CANCELLED, last_error="đã thu hồi")
        .returning(col(OutboxMessage.id))
    )
    return {row_id for (row_id,) in result.all()}


async def last_id(session: AsyncSession) -> int:
    """The id of the newest outbox row (0 when empty)."""
    return int((await session.exec(select(func.max(OutboxMessage.id)))).one() or 0)


async def queued_after(session: AsyncSession, last: int) -> list[OutboxMessage]:
    """Rows queued after the row `last`, oldest first (what a tick just queued)."""
    result = await session.exec(
        select(OutboxMessage).where(col(OutboxMessage.id) > last).order_by(col(OutboxMessage.id))
    )
    return list(result.all())


async def used_keys(session: AsyncSession, keys: Sequence[str]) -> set[str]:
    """Which of these dedupe keys are already in the outbox, in one statement however many keys."""
    wanted = sorted(set(keys))
    if not wanted:
        return set()
    conn = await session.connection()
    if is_postgres(conn):
        # One array parameter instead of an IN list: a single statement, no bind-parameter limit.
        query = text("SELECT dedupe_key FROM outbox WHERE dedupe_key = ANY(:keys)").bindparams(
            bindparam("keys", type_=ARRAY(String))
        )
        result = await conn.execute(query, {"keys": wanted})
    else:
        query = text("SELECT dedupe_key FROM outbox WHERE dedupe_key IN (SELECT value FROM json_each(:keys))")
        result = await conn.execute(query, {"keys": json.dumps(wanted, ensure_ascii=False)})
    return {row[0] for row in result.all()}


async def pending(session: AsyncSession, limit: int = 100) -> list[OutboxMessage]:
    """Messages waiting to be sent, oldest first."""
    result = await session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.state == OutboxState.PENDING)
        .order_by(col(OutboxMessage.id))
        .limit(limit)
    )
    return list(result.all())


async def hold_until(session: AsyncSession, platforms: Sequence[str], until: datetime) -> int:
    """Give every waiting message the bot started a not-before time of `until` (the end of the quiet hours).

    One place keeps the quiet hours for every job, retry and catch-up: the sender calls this before claiming
    while the quiet hours last, so nothing but IMMEDIATE_KINDS is due until they end (and it sleeps till then).
    """
    result = await session.exec(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.platform).in_(list(platforms)),
            col(OutboxMessage.state) == OutboxState.PENDING,
            col(OutboxMessage.next_attempt_at) < until,
            col(OutboxMessage.kind).not_in(IMMEDIATE_KINDS),
        )
        .values(next_attempt_at=until)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def _with_waiting_replies(
    session: AsyncSession, rows: list[OutboxMessage], merge_limit: int
) -> list[OutboxMessage]:
    """The claimed rows and up to `merge_limit` more waiting replies to the chats of the replies among them, by id."""
    reply_chats = {(r.platform, r.chat_id) for r in rows if r.kind == "reply" and not r.attachments}
    if reply_chats:
        # Every reply already waiting for those chats comes along, so the sender can merge them into one message:
        # a busy group then gets one message per send slot instead of one receipt per slot. Those held for a later
        # slot too (not due yet): a newer reply must never leave before them.
        taken = [r.id for r in rows]
        more = (
            select(OutboxMessage)
            .where(
                col(OutboxMessage.chat_id).in_([chat for _, chat in reply_chats]),
                col(OutboxMessage.kind) == "reply",
                col(OutboxMessage.attachments).is_(None),
                col(OutboxMessage.state) == OutboxState.PENDING,
                col(OutboxMessage.id).not_in(taken),
            )
            .order_by(col(OutboxMessage.id))
            .limit(merge_limit)
        )
        if is_postgres(session):
            more = more.with_for_update(skip_locked=True)
        extra = [r for r in (await session.exec(more)).all() if (r.platform, r.chat_id) in reply_chats]
        rows = sorted(rows + extra, key=lambda r: r.id or 0)
    return rows


async def claim(
    session: AsyncSession,
    *,
    owner: str,
    platforms: Sequence[str],
    now: datetime,
    lease_seconds: float,
    limit: int,
    merge_limit: int = 0,
) -> list[OutboxMessage]:
    """Take due messages (and those whose sender's lease lapsed) for this sender, oldest first; with
    `merge_limit`, also up to that many more due replies to the chats of the replies taken."""
    # Two range scans of ix_outbox_due (state, next_attempt_at, id), each stopped by its LIMIT: a claim reads only
    # due rows, never the sent history (ordered by id, one claim walked every sent row: 0.8 s at 300,000 rows), and
    # not every row of a burst queued at one moment (without the id, PostgreSQL sorted all 5,000 to take 50).
    lapsed = select(OutboxMessage).where(
        col(OutboxMessage.platform).in_(list(platforms)),
        col(OutboxMessage.state) == OutboxState.SENDING,
        col(OutboxMessage.lease_until) < now,
    )
    due = (
        select(OutboxMessage)
        .where(
            col(OutboxMessage.platform).in_(list(platforms)),
            col(OutboxMessage.state) == OutboxState.PENDING,
            col(OutboxMessage.next_attempt_at) <= now,
        )
        # Oldest due first; messages queued together (one time) in the order they were queued.
        .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id))
    )
    rows: list[OutboxMessage] = []
    for query in (lapsed.order_by(col(OutboxMessage.id)), due):
        if len(rows) >= limit:
            break
        query = query.limit(limit - len(rows))
        if is_postgres(session):
            # Several senders: each skips the rows another is claiming right now.
            query = query.with_for_update(skip_locked=True)
        rows += list((await session.exec(query)).all())
    if merge_limit > 0:
        rows = await _with_waiting_replies(session, rows, merge_limit)
    if rows:
        until = now + timedelta(seconds=lease_seconds)
        params = {"ids": [row.id for row in rows], "owner": owner, "until": until}
        # One UPDATE for the batch: the ORM's flush sent one per row (2,096 statements for 1,551 receipts in a
        # served `/ghi` run), each a round trip of the sender's and a statement of PostgreSQL's.
        if is_postgres(session):
            await raw.fetch(session, _TAKE_PG, params)
        else:
            await session.exec(_TAKE_SQLITE, params=params)  # type: ignore[call-overload]
        for row in rows:
            set_committed_value(row, "state", OutboxState.SENDING)
            set_committed_value(row, "lease_owner", owner)
            set_committed_value(row, "lease_until", until)
    return rows


def _take(ids: Any) -> Any:
    """The rows `ids` (the test of the id per database), claimed by `owner` until `until`: one UPDATE, built once per
    database (the rows are already locked by the claim's SELECT ... FOR UPDATE on PostgreSQL)."""
    return (
        update(_OUTBOX)
        .where(ids(_OUTBOX.c.id))
        .values(
            state=OutboxState.SENDING.value,
            lease_owner=bindparam("owner", type_=_OUTBOX.c.lease_owner.type),
            lease_until=bindparam("until", type_=_OUTBOX.c.lease_until.type),
        )
    )


_TAKE_PG = raw.Prepared(_take(lambda c: c == any_(bindparam("ids", type_=ARRAY(Integer)))))
_TAKE_SQLITE = _take(lambda c: c.in_(bindparam("ids", expanding=True)))


async def _owned(session: AsyncSession, ids: Sequence[int], owner: str) -> list[OutboxMessage]:
    result = await session.exec(
        select(OutboxMessage).where(
            col(OutboxMessage.id).in_(list(ids)),
            OutboxMessage.lease_owner == owner,
            OutboxMessage.state == OutboxState.SENDING,
        )
    )
    return list(result.all())


def _still_claimed(ids: Any) -> list[Any]:
    """The rows `ids` (the test of the id per database) that the owner (a parameter) still holds, being sent."""
    return [
        ids(_OUTBOX.c.id),
        _OUTBOX.c.lease_owner == bindparam("owner", type_=_OUTBOX.c.lease_owner.type),
        _OUTBOX.c.state == OutboxState.SENDING.value,
    ]


def _mark_sent(ids: Any) -> Any:
    """The rows `ids` (the test of the id per database) still claimed by the owner, marked sent in one UPDATE: the
    first of the ids is the message that went out, the others point at it (merged). Built once per database."""
    head = bindparam("head", type_=_OUTBOX.c.id.type)
    return (
        update(_OUTBOX)
        .where(*_still_claimed(ids))
        .values(
            state=OutboxState.SENT.value,
            sent_at=bindparam("now", type_=_OUTBOX.c.sent_at.type),
            attempts=_OUTBOX.c.attempts + 1,
            lease_owner=None,
            lease_until=None,
            merged_into_id=case((_OUTBOX.c.id == head, None), else_=head),
        )
    )


# PostgreSQL: one array parameter, one prepared text for any number of merged replies (run on the driver).
_MARK_SENT_PG = raw.Prepared(_mark_sent(lambda c: c == any_(bindparam("ids", type_=ARRAY(Integer)))))
_MARK_SENT_SQLITE = _mark_sent(lambda c: c.in_(bindparam("ids", expanding=True)))


async def mark_sent(session: AsyncSession, ids: Sequence[int], owner: str, now: datetime) -> None:
    """Record that the message ids[0] was sent (the other ids were merged into it), in one statement: the
    sender's round trip after every message."""
    params = {"ids": list(ids), "owner": owner, "now": now, "head": ids[0]}
    if is_postgres(session):
        await raw.fetch(session, _MARK_SENT_PG, params)
    else:
        await session.exec(_MARK_SENT_SQLITE, params=params)  # type: ignore[call-overload]


def _hold_replies(ids: Any) -> Any:
    """The rows `ids` (the test of the id per database) still claimed by the owner, back to waiting until `when`,
    no attempt counted: one UPDATE, built once per database."""
    return (
        update(_OUTBOX)
        .where(*_still_claimed(ids))
        .values(
            state=OutboxState.PENDING.value,
            next_attempt_at=bindparam("when", type_=_OUTBOX.c.next_attempt_at.type),
            lease_owner=None,
            lease_until=None,
        )
    )


_HOLD_REPLIES_PG = raw.Prepared(_hold_replies(lambda c: c == any_(bindparam("ids", type_=ARRAY(Integer)))))
_HOLD_REPLIES_SQLITE = _hold_replies(lambda c: c.in_(bindparam("ids", expanding=True)))


async def hold_replies(session: AsyncSession, ids: Sequence[int], owner: str, when: datetime) -> None:
    """Put claimed plain replies back to waiting until `when` (their chat's next slot), no attempt counted, in one
    statement. Nothing behind them needs holding: the claim takes every waiting reply of a chat with the first one
    due, so a newer reply never leaves before them."""
    params = {"ids": list(ids), "owner": owner, "when": when}
    if is_postgres(session):
        await raw.fetch(session, _HOLD_REPLIES_PG, params)
    else:
        await session.exec(_HOLD_REPLIES_SQLITE, params=params)  # type: ignore[call-overload]


async def reschedule(
    session: AsyncSession,
    ids: Sequence[int],
    owner: str,
    when: datetime,
    error: str | None = None,
    count_attempt: bool = True,
    parts_sent: int | None = None,
) -> None:
    """Put messages back to pending until `when` (a retry, or a chat at its rate limit), remembering how many
    pieces were delivered when `parts_sent` is given."""
    streams: dict[tuple[str, str, str], int] = {}
    for row in await _owned(session, ids, owner):
        if parts_sent is not None:
            row.parts_sent = parts_sent
        row.state = OutboxState.PENDING
        row.next_attempt_at = when
        row.attempts += 1 if count_attempt else 0
        row.last_error = error[:500] if error else row.last_error
        row.lease_owner = row.lease_until = None
        session.add(row)
        key = (row.platform, row.chat_id, row.kind)
        streams[key] = min(streams.get(key, row.id or 0), row.id or 0)
    for (platform, chat_id, kind), first in streams.items():
        await session.flush()
        await hold_behind(session, platform, chat_id, kind, first, when)


async def hold_behind(
    session: AsyncSession, platform: str, chat_id: str, kind: str, after_id: int, when: datetime
) -> None:
    """Keep the messages of one kind queued to a chat after `after_id` from leaving before `when`, its retry time.

    A summary's text and its files (or a long directive's parts) are queued in order; a retried first message must
    not arrive after the ones behind it. The claim takes rows by (due time, id), so at the same due time the
    earlier message goes first.
    """
    await session.exec(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.platform) == platform,
            col(OutboxMessage.chat_id) == chat_id,
            col(OutboxMessage.kind) == kind,
            col(OutboxMessage.state) == OutboxState.PENDING,
            col(OutboxMessage.id) > after_id,
            col(OutboxMessage.next_attempt_at) < when,
        )
        .values(next_attempt_at=when)
    )


async def mark_failed(session: AsyncSession, ids: Sequence[int], owner: str, error: str, now: datetime) -> None:
    """Give up on messages for good (the chat is gone, or too many failed attempts)."""
    for row in await _owned(session, ids, owner):
        row.state = OutboxState.FAILED
        row.attempts += 1
        row.last_error = error[:500]
        row.next_attempt_at = now
        row.lease_owner = row.lease_until = None
        session.add(row)


async def unfinished_except(session: AsyncSession, platform: str) -> int:
    """How many messages of every platform but this one are still pending or being sent."""
    result = await session.exec(
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            col(OutboxMessage.platform) != platform,
            col(OutboxMessage.state).in_([OutboxState.PENDING, OutboxState.SENDING]),
        )
    )
    return int(result.one())


async def unfinished(session: AsyncSession, platforms: Sequence[str]) -> int:
    """How many messages of these platforms are still pending or being sent."""
    result = await session.exec(
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            col(OutboxMessage.platform).in_(list(platforms)),
            col(OutboxMessage.state).in_([OutboxState.PENDING, OutboxState.SENDING]),
        )
    )
    return int(result.one())


async def next_due(session: AsyncSession, platforms: Sequence[str]) -> datetime | None:
    """When the earliest pending message of these platforms becomes due."""
    result = await session.exec(
        select(func.min(OutboxMessage.next_attempt_at)).where(
            col(OutboxMessage.platform).in_(list(platforms)), OutboxMessage.state == OutboxState.PENDING
        )
    )
    return result.one()


async def retarget(session: AsyncSession, ids: Sequence[int], owner: str, new_chat_id: str, now: datetime) -> None:
    """Point messages at the chat's new id and make them due again at once."""
    for row in await _owned(session, ids, owner):
        row.chat_id = new_chat_id
        row.state = OutboxState.PENDING
        row.next_attempt_at = now
        row.lease_owner = row.lease_until = None
        session.add(row)


async def move_waiting(session: AsyncSession, platform: str, old_chat_id: str, new_chat_id: str) -> int:
    """Point the messages still waiting for a chat that moved at its new id; returns how many (those a sender holds
    follow when it hears the chat moved)."""
    result = await session.exec(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.platform) == platform,
            col(OutboxMessage.chat_id) == old_chat_id,
            col(OutboxMessage.state) == OutboxState.PENDING,
        )
        .values(chat_id=new_chat_id)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def recent_sends(
    session: AsyncSession, platforms: Sequence[str], since: datetime
) -> list[tuple[str, str, datetime]]:
    """(platform, chat id, sent at) of each message sent since `since` (merged replies count once).

    Read once when a sender starts, to rebuild its rate windows: a restart must not hand a busy chat a fresh
    minute's budget. (One scan of the sent rows at start; no index is needed for that.)
    """
    result = await session.exec(
        select(OutboxMessage.platform, OutboxMessage.chat_id, OutboxMessage.sent_at).where(
            col(OutboxMessage.platform).in_(list(platforms)),
            OutboxMessage.state == OutboxState.SENT,
            col(OutboxMessage.sent_at) >= since,
            col(OutboxMessage.merged_into_id).is_(None),
        )
    )
    return [(platform, chat_id, sent_at) for platform, chat_id, sent_at in result.all() if sent_at is not None]


async def release_claims(session: AsyncSession, platforms: Sequence[str], owner: str, now: datetime) -> int:
    """Hand back, due now, every message another sender had claimed; return how many.

    Called by the sender that has just won the sender election: the previous holder lost the election lock,
    so it is gone (killed, or its database connection died), and its claims need not wait for their lease.
    """
    result = await session.exec(
        select(OutboxMessage).where(
            col(OutboxMessage.platform).in_(list(platforms)),
            OutboxMessage.state == OutboxState.SENDING,
            col(OutboxMessage.lease_owner) != owner,
        )
    )
    rows = list(result.all())
    for row in rows:
        row.state = OutboxState.PENDING
        row.next_attempt_at = now
        row.lease_owner = row.lease_until = None
        session.add(row)
    return len(rows)


async def release_own_claims(session: AsyncSession, platforms: Sequence[str], owner: str, now: datetime) -> int:
    """Hand back, due now, every message this sender still holds; return how many.

    Called by a sender whose batch was cut short (the database went away mid-batch) once it has recorded the
    outcome of every send it made: what it still holds was never attempted, so it goes back without waiting for
    its lease.
    """
    result = await session.exec(
        select(OutboxMessage).where(
            col(OutboxMessage.platform).in_(list(platforms)),
            OutboxMessage.state == OutboxState.SENDING,
            col(OutboxMessage.lease_owner) == owner,
        )
    )
    rows = list(result.all())
    for row in rows:
        row.state = OutboxState.PENDING
        row.next_attempt_at = now
        row.lease_owner = row.lease_until = None
        session.add(row)
    return len(rows)
