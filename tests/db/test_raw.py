"""The hot path's driver statements (PostgreSQL): inside the session's transaction, errors as SQLAlchemy raises them,
and rows made the session's own entities."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, insert, select
from sqlalchemy import exc as sa_exc
from sqlmodel import col

from tests.factories import build_tree
from tocns.db import raw
from tocns.db.engine import Database
from tocns.db.upsert import table_of
from tocns.features.org.models import OrgUnit
from tocns.inbound.models import ProcessedMessage

_MARKS = table_of(ProcessedMessage)
_COLUMNS = ("platform", "chat_id", "message_id", "processed_at")
_MARK = raw.Prepared(
    insert(_MARKS)
    .values({name: bindparam(name, type_=_MARKS.c[name].type) for name in _COLUMNS})
    .returning(_MARKS.c.id)
)
NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def _mark(message_id: str) -> dict[str, object]:
    return {"platform": "telegram", "chat_id": "-1001", "message_id": message_id, "processed_at": NOW}


async def _marks(db: Database) -> list[str]:
    async with db.session() as session:
        return list((await session.exec(select(_MARKS.c.message_id))).scalars())  # type: ignore[call-overload]


async def test_a_driver_statement_first_in_a_session_is_rolled_back_with_it(db: Database, is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("the driver path is PostgreSQL's")
    with pytest.raises(RuntimeError):
        async with db.session() as session:
            await raw.fetch(session, _MARK, _mark("1"))
            raise RuntimeError("the update failed after its first statement")
    async with db.session() as session:
        ((row_id,),) = await raw.fetch(session, _MARK, _mark("2"))
        # The ORM's statements after it share its transaction and see its row.
        stored = await session.get(ProcessedMessage, row_id)
        assert stored is not None and stored.processed_at == NOW
    assert await _marks(db) == ["2"]


async def test_a_refused_driver_statement_raises_as_sqlalchemy_would(db: Database, is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("the driver path is PostgreSQL's")
    async with db.session() as session:
        await raw.fetch(session, _MARK, _mark("1"))
    with pytest.raises(sa_exc.IntegrityError):
        async with db.session() as session:
            await raw.fetch(session, _MARK, _mark("3"))
            await raw.fetch(session, _MARK, _mark("1"))  # the same message again: the unique key refuses it
    # Nothing of the refused transaction stays, and the pooled connection serves the next session.
    assert await _marks(db) == ["1"]


async def test_attached_rows_are_the_sessions_own_entities(db: Database) -> None:
    async with db.session() as session:
        tree = await build_tree(session)
    commune = tree.commune
    values = {c.key: getattr(commune, c.key) for c in table_of(OrgUnit).columns}
    async with db.session() as session:
        unit = raw.attach(session, OrgUnit, {**values, "name": "Xã Tân Lập Mới"})
        # In the identity map: the ORM finds it without a query, and a change to it is flushed as an UPDATE.
        assert await session.get(OrgUnit, commune.id) is unit
        unit.name = "Xã Tân Lập Sửa"
    async with db.session() as session:
        stored = (await session.exec(select(OrgUnit).where(col(OrgUnit.id) == commune.id))).scalar_one()  # type: ignore[call-overload]
        assert stored.name == "Xã Tân Lập Sửa"
        # Attached again in a session that already holds it: the stored values win, as with populate_existing.
        again = raw.attach(session, OrgUnit, {**values, "name": "Xã Khác"})
        assert again is stored and stored.name == "Xã Khác" and not session.dirty
