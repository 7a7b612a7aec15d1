"""Shared fixtures: a migrated test database (SQLite by default, PostgreSQL via TEST_DATABASE_URL)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import make_url, text
from sqlmodel import SQLModel

import tocns.all_models  # noqa: F401  (complete metadata for truncation)
from tests.factories import ChatHarness, FakeClock
from tests.fakes.telegram_server import TelegramServer
from tocns.app import BotApp, register_session_listeners
from tocns.config import Settings
from tocns.core.clock import CLOCK_START_ENV
from tocns.db.engine import Database, upgrade_database

PG_DEFAULT = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def _worker_url(url: str, worker: str | None) -> str:
    """The database of one pytest-xdist worker: `<db>_gw0`, `<db>_gw1`... (the URL itself without xdist)."""
    if not worker:
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(hide_password=False)


def _create_database_if_missing(base_url: str, url: str) -> None:
    """Create `url`'s database, connecting through `base_url`'s (which exists): xdist workers need one each."""
    name = make_url(url).database

    async def go() -> None:
        db = Database(base_url, isolation_level="AUTOCOMMIT")  # CREATE DATABASE refuses a transaction
        try:
            async with db.engine.connect() as conn:
                found = await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
                if not found:
                    await conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            await db.dispose()

    asyncio.run(go())


def _reset_postgres(url: str) -> None:
    async def go() -> None:
        db = Database(url)
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await db.dispose()

    asyncio.run(go())


@pytest.fixture(scope="session")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The migrated test database's URL, fresh for this test session (one database per xdist worker)."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url and url.startswith("postgresql"):
        worker_url = _worker_url(url, os.environ.get("PYTEST_XDIST_WORKER"))
        if worker_url != url:
            _create_database_if_missing(url, worker_url)
        url = worker_url
        _reset_postgres(url)
    elif not url:
        # tmp_path_factory is already per worker under xdist.
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    upgrade_database(url)
    return url


@pytest.fixture(scope="session")
def is_postgres(db_url: str) -> bool:
    """Whether the suite runs against PostgreSQL."""
    return db_url.startswith("postgresql")


async def _truncate(db: Database) -> None:
    # DELETE, not TRUNCATE, on PostgreSQL too: TRUNCATE of the 20 tables makes new files and syncs them, about
    # 0.5 s per test on this (busy) machine against 0.015 s for deleting a test's few rows, i.e. minutes per
    # PostgreSQL pass. Sequences restart at 1 as TRUNCATE ... RESTART IDENTITY did.
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    async with db.engine.begin() as conn:
        for name in tables:
            await conn.execute(text(f'DELETE FROM "{name}"'))
        # The monthly totals and the rollups are kept by triggers on the record tables: deleting those rows above
        # wrote to them.
        await conn.execute(text("DELETE FROM activity_month_total"))
        await conn.execute(text("DELETE FROM rollup_team_day"))
        await conn.execute(text("DELETE FROM rollup_team_day_records"))
        await conn.execute(text("DELETE FROM rollup_commune_day"))
        await conn.execute(text("DELETE FROM rollup_commune_day_records"))
        if db.is_sqlite:
            await conn.execute(text("DELETE FROM sqlite_sequence")) if await _has_sqlite_sequence(conn) else None
        else:
            await conn.execute(
                text(
                    "SELECT setval(c.oid, 1, false) FROM pg_class c "
                    "WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace"
                )
            )


async def _has_sqlite_sequence(conn: object) -> bool:
    result = await conn.execute(text("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'"))  # type: ignore[attr-defined]
    return result.first() is not None


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Test settings on the test database, ignoring any `.env` file."""
    return Settings(
        _env_file=None,
        database_url=db_url,
        auto_migrate=False,
        bot_username="ToCNSBot",  # type: ignore[call-arg]
        bot_display_name="Tổ CNS",
        public_base_url="http://testserver",
        link_signing_secret="test-link-signing-secret-0123456789",
        files_dir=str(tmp_path / "files"),  # never the working directory's ./data/files
        render_workers=0,  # reports drawn in a thread: no process spawned per test
    )


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    """An empty database (every table truncated) for one test."""
    register_session_listeners()  # as BotApp.build and the CLI do: tests that use stores without an app
    database = Database(settings.database_url)
    await _truncate(database)
    yield database
    await database.dispose()


@pytest.fixture
def clock() -> FakeClock:
    """A controllable clock, starting Monday 2026-11-23 09:00 in Asia/Ho_Chi_Minh."""
    return FakeClock(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))


@pytest.fixture
async def app(settings: Settings, db: Database, clock: FakeClock) -> AsyncIterator[BotApp]:
    """The bot wired to the test database and the fake clock."""
    yield BotApp.build(settings, db, clock)


@pytest.fixture
def chat(app: BotApp) -> ChatHarness:
    """Send messages to the bot as people in chats and read its replies."""
    return ChatHarness(app)


@pytest.fixture(autouse=True)
def _no_dotenv(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep a developer's `.env` out of subprocesses and settings."""
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.delenv("ZALO_BOT_TOKEN", raising=False)
    monkeypatch.delenv("ZALO_OA_APP_ID", raising=False)
    # A subprocess's clock is the test's to give (tests.factories.clock_env), never a developer's shell's.
    monkeypatch.delenv(CLOCK_START_ENV, raising=False)
    yield


@pytest.fixture
def tg_server() -> Iterator[TelegramServer]:
    """The fake Bot API (a real HTTP server on a free loopback port), for channels built with channels_for."""
    with TelegramServer() as server:
        yield server
