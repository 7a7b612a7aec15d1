"""The hot path's statements on PostgreSQL, run on the session's own asyncpg connection inside its transaction.

A statement stays a SQLAlchemy construct in its feature's store.py (one source for both databases); `Prepared`
compiles it once for asyncpg (`$n` text, parameter names in order) and `fetch` runs it with asyncpg's prepared
statement cache, skipping SQLAlchemy's per-execute path (execution context, result processing, greenlet hops),
which cost more CPU than the statements themselves (bench/RESULTS.md, "Where one `/ghi` spends the server's CPU").
The session still owns the unit of work: the statement runs in its transaction (started here if it has not sent
anything yet), its commit or rollback covers it, and SQLAlchemy's `before_cursor_execute` listeners still see it
(statement counts in tests and benches). Rows come back as asyncpg records, in the construct's column order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlalchemy.util import greenlet_spawn
from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.db.dialect import is_postgres

__all__ = ["Prepared", "attach", "built", "fetch", "fetch_alone", "is_postgres"]


_REQUIRED = object()
_Parameter = tuple[str, Callable[[Any], Any] | None, Any]


class Prepared:
    """A Core statement compiled once for PostgreSQL (asyncpg's `$n` text) with its parameter names in order."""

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._text: str | None = None
        self._names: Sequence[_Parameter] = ()

    def compiled(self, dialect: Any) -> tuple[str, Sequence[_Parameter]]:
        """The statement's text and its parameters in order: each name, SQLAlchemy's conversion of its value where
        its type has one (an aware datetime to UTC) and its fixed value for a literal; compiled on first use, with
        the engine's dialect."""
        if self._text is None:
            compiled: Any = self.statement.compile(dialect=dialect)
            processors = compiled._bind_processors
            names = []
            for name in compiled.positiontup or ():
                bind = compiled.binds[name]
                fixed = _REQUIRED if bind.required or bind.callable is not None else bind.value
                names.append((name, processors.get(name), fixed))
            self._names = tuple(names)
            self._text = compiled.string
        return self._text, self._names

    def args(self, dialect: Any, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """The text and the positional values of one run (rows come back as asyncpg gives them: the models'
        datetimes, `timestamptz`, already arrive aware in UTC, which is all SQLAlchemy's result conversion does)."""
        text, names = self.compiled(dialect)
        values = []
        for name, convert, fixed in names:
            value = params[name] if fixed is _REQUIRED else params.get(name, fixed)
            values.append(convert(value) if convert is not None and value is not None else value)
        return text, values


async def fetch(session: AsyncSession, prepared: Prepared, params: Mapping[str, Any]) -> list[Any]:
    """Run `prepared` with `params` on the session's asyncpg connection, in the session's transaction; its rows.

    PostgreSQL only. Pending ORM rows are flushed first, as SQLAlchemy's own execute path would.
    """
    sync = session.sync_session
    if sync.new or sync.dirty or sync.deleted:
        await session.flush()
    conn, fairy = await _connection(session)
    adapted: Any = fairy.dbapi_connection
    driver = fairy.driver_connection
    text, args = prepared.args(conn.dialect, params)
    sync_conn = conn.sync_connection
    if sync_conn is not None and sync_conn.dispatch.before_cursor_execute:
        sync_conn.dispatch.before_cursor_execute(sync_conn, None, text, args, None, False)
    try:
        if adapted._transaction is None:
            # SQLAlchemy's asyncpg adapter sends BEGIN with the first statement it runs; this one comes first.
            await adapted._start_transaction()
        return list(await driver.fetch(text, *args))
    except Exception as error:
        wrapped = _wrapped(conn.dialect, adapted, text, args, error)
        await _forget_if_lost(conn, fairy, wrapped)
        raise wrapped from error


async def fetch_alone(engine: AsyncEngine, prepared: Prepared, params: Mapping[str, Any]) -> list[Any]:
    """Run `prepared` with `params` as a transaction of its own (one statement commits itself) on a connection of
    the engine's pool, outside any session; its rows. PostgreSQL only: for a write that needs no unit of work."""
    # The pool's connection itself, without a SQLAlchemy Connection around it: 97 against 182 µs of CPU for a
    # checkout, one statement and the return (bench/RESULTS.md, "The webhook's write on the pool's connection").
    fairy: Any = await engine.raw_connection()
    try:
        adapted: Any = fairy.dbapi_connection
        text, args = prepared.args(engine.dialect, params)
        dispatch = engine.sync_engine.dispatch
        if dispatch.before_cursor_execute:
            # The engine's listeners (statement counts in tests and benches) see it; there is no Connection to name.
            dispatch.before_cursor_execute(None, None, text, args, None, False)
        try:
            return list(await fairy.driver_connection.fetch(text, *args))
        except Exception as error:
            wrapped = _wrapped(engine.dialect, adapted, text, args, error)
            if isinstance(wrapped, sa_exc.DBAPIError) and wrapped.connection_invalidated:
                # What SQLAlchemy's execute path does after a lost connection: every older connection of the pool
                # is replaced at its next checkout, and this one is closed, not put back.
                await greenlet_spawn(engine.sync_engine.pool._invalidate, fairy, wrapped)
            raise wrapped from error
    finally:
        await greenlet_spawn(fairy.close)  # back to the pool (or closed, if invalidated)


_CONNECTION = "tocns.db.raw.connection"


async def _connection(session: AsyncSession) -> tuple[Any, Any]:
    """The session's connection in its current transaction (begun if need be) and its pooled driver connection;
    kept for the transaction's next statements (each lookup is two greenlet hops), asked again after a commit or
    a rollback, which may hand the session another connection."""
    sync = session.sync_session
    transaction = sync.get_transaction()
    known = sync.info.get(_CONNECTION)
    if known is not None and transaction is known[0] and transaction is not None and transaction.is_active:
        return known[1], known[2]
    conn = await session.connection()
    fairy = await conn.get_raw_connection()
    sync.info[_CONNECTION] = (sync.get_transaction(), conn, fairy)
    return conn, fairy


async def _forget_if_lost(conn: AsyncConnection, fairy: Any, error: BaseException) -> None:
    """After a lost connection (the database restarted or went away), what SQLAlchemy's own execute path does
    (`Connection._handle_dbapi_exception`): every connection the pool made before now is replaced at its next
    checkout, and this one is closed, not put back. Without it the pool kept handing out dead connections and every
    statement of this module failed until the process restarted."""
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated and not conn.invalidated:
        await greenlet_spawn(conn.sync_engine.pool._invalidate, fairy, error)
        await conn.invalidate(error)


def _wrapped(dialect: Any, adapted: Any, text: str, args: list[Any], error: Exception) -> BaseException:
    """The error as SQLAlchemy's execute path would raise it (IntegrityError, OperationalError, ...)."""
    if isinstance(error, sa_exc.DBAPIError):
        return error
    try:
        adapted._handle_exception(error)  # raises the driver error translated to the DBAPI's classes
    except Exception as translated:
        dbapi_error = dialect.loaded_dbapi.Error
        if isinstance(translated, dbapi_error):
            invalidated = dialect.is_disconnect(translated, adapted, None)
            return sa_exc.DBAPIError.instance(
                text, args, translated, dbapi_error, connection_invalidated=invalidated, dialect=dialect
            )
        return translated
    return error  # pragma: no cover - _handle_exception always raises


def built(model: type[Any], values: Mapping[str, Any]) -> Any:
    """A new (transient) instance of a table model with these values for every one of its columns, made the way
    the ORM makes the instances it loads: a SQLModel's own constructor costs ~20 times more (it validates and fills
    defaults), which the hot path's replies and snapshots do not need."""
    instance = model.__mapper__.class_manager.new_instance()  # type: ignore[attr-defined]
    instance.__dict__.update(values)
    return instance


def attach(session: AsyncSession, model: type[Any], values: Mapping[str, Any]) -> Any:
    """A persistent instance of `model` with these stored column values, in the session's identity map, as if the
    ORM had loaded it (no SQL); an instance already there takes the stored values (SQLAlchemy's populate_existing).
    """
    sync = session.sync_session
    mapper: Any = model.__mapper__  # type: ignore[attr-defined]
    key = mapper.identity_key_from_primary_key([values[c.key] for c in mapper.primary_key])
    present = sync.identity_map.get(key)
    if present is not None:
        for name, value in values.items():
            set_committed_value(present, name, value)
        return present
    instance = built(model, values)
    # What the ORM's own loading does for a row it has not met (`loading._instance`): the identity key, the
    # session, the identity map. `make_transient_to_detached` then `Session.add` cost three times more.
    state: Any = instance_state(instance)
    state.key, state.identity_token, state.session_id = key, key[2], sync.hash_key
    sync.identity_map._add_unpresent(state, key)
    return instance
