"""Async engine, sessions, and Alembic migrations."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.db.dialect import is_sqlite_url

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own implicit BEGIN breaks SAVEPOINTs; we emit BEGIN ourselves (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers and one writer work together; busy_timeout waits instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout instead of
    # failing when a read transaction tries to upgrade.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create the async engine for SQLite (aiosqlite) or PostgreSQL (asyncpg)."""
    if is_sqlite_url(url):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    # No ping before each checkout: it cost one extra round trip per transaction (7% of a worker's CPU under
    # load). After a database restart the first statement on a dead connection fails instead, and SQLAlchemy
    # then recycles every older connection of the pool (see docs/decisions.md).
    kwargs.setdefault("pool_pre_ping", False)
    # No JIT compilation: every statement here is short, and a report's estimated cost at national scale made
    # PostgreSQL compile it on each run (2.1 s of 2.7 s for the country at 40,000 teams; see docs/decisions.md). Sent
    # with the connection's start-up packet: no statement more.
    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args["server_settings"] = {"jit": "off", **connect_args.get("server_settings", {})}
    return create_async_engine(url, connect_args=connect_args, **kwargs)


class Database:
    """An engine plus its session factory: one session per incoming update or job run."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_engine(url, **engine_kwargs)
        self._sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        # Whether sessions may work side by side (the scheduled jobs do on PostgreSQL): SQLite has one writer.
        self.parallel_sessions = not is_sqlite_url(url)

    @property
    def is_sqlite(self) -> bool:
        """Whether this database is SQLite."""
        return is_sqlite_url(self.url)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """Open a session that commits once on success and rolls back on any error."""
        async with self._sessions() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def rehearsal(self) -> AsyncIterator[Database]:
        """A view of this database whose sessions all share one transaction, rolled back at the end.

        `tocns tick --dry-run` runs the jobs against it: each job's commit only releases a savepoint, so
        they see each other's work as in a real tick, and nothing is left behind.
        """
        async with self.engine.connect() as conn:
            outer = await conn.begin()
            view = Database.__new__(Database)
            view.url, view.engine = self.url, self.engine
            view.parallel_sessions = False  # one connection: its sessions are savepoints, taken in turn
            view._sessions = async_sessionmaker(
                bind=conn, class_=AsyncSession, expire_on_commit=False, join_transaction_mode="create_savepoint"
            )
            try:
                yield view
            finally:
                await outer.rollback()

    async def ping(self) -> None:
        """Round-trip a trivial statement; raises when the database is unreachable."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def alembic_config(url: str) -> Config:
    """Build an Alembic config pointing at the packaged migrations and the given database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


def upgrade_database(url: str, revision: str = "head") -> None:
    """Apply every pending migration (blocking; safe to call from a worker thread)."""
    if is_sqlite_url(url) and ":///" in url:
        path = url.split(":///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)


async def upgrade_database_async(url: str, revision: str = "head") -> None:
    """Apply pending migrations from async code without blocking the loop."""
    await asyncio.to_thread(upgrade_database, url, revision)


async def current_revision(url: str) -> str | None:
    """Return the revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
    finally:
        await engine.dispose()
