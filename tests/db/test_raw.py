"""The hot path's driver statements (PostgreSQL): inside the session's transaction, errors as SQLAlchemy raises them,
and rows made the session's own entities."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, insert, make_url, select
from sqlalchemy import exc as sa_exc
from sqlmodel import col

from tests.factories import build_tree
from tests.fakes.tcp_proxy import TcpProxy
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


@pytest.mark.parametrize("alone", [True, False], ids=["outside a session", "in a session"])
async def test_driver_statements_work_again_once_the_database_is_back(
    db: Database, db_url: str, is_postgres: bool, alone: bool
) -> None:
    """The database goes away and comes back (a restart): the pool's connections are dead. The first driver
    statement fails on one of them, as SQLAlchemy's own path would; the next ones run on fresh connections, not on
    the other dead ones for ever (the webhook would answer 503 until the process restarted)."""
    if not is_postgres:
        pytest.skip("the driver path is PostgreSQL's")
    direct = make_url(db_url)
    proxy = TcpProxy(direct.host or "127.0.0.1", direct.port or 5432)
    await proxy.start()
    through = Database(direct.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False), pool_size=3)

    async def mark(message_id: str) -> None:
        if alone:
            await raw.fetch_alone(through.engine, _MARK, _mark(message_id))
            return
        async with through.session() as session:
            await raw.fetch(session, _MARK, _mark(message_id))

    try:
        await asyncio.gather(*(mark(f"before-{n}") for n in range(3)))  # three pooled connections
        await proxy.cut()
        await proxy.restore()
        outcomes = []
        for n in range(4):
            try:
                await mark(f"after-{n}")
                outcomes.append("ok")
            except sa_exc.DBAPIError as error:
                assert error.connection_invalidated
                outcomes.append("lost")
    finally:
        await through.dispose()
        await proxy.close()
    assert outcomes in (["ok"] * 4, ["lost", "ok", "ok", "ok"])
    stored = set(await _marks(db))
    assert {f"after-{n}" for n, outcome in enumerate(outcomes) if outcome == "ok"} <= stored
