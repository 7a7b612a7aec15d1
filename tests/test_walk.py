"""The walk of docs/architecture.md: one `/ghi` from the webhook to the outbox enters only the packages it names."""

from __future__ import annotations

import sys
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from sqlalchemy import event

from tests.factories import FakeClock, build_tree, join_code
from tests.fakes.platforms import (
    TG_HEADER,
    TG_SECRET,
    channels_for,
    outbox,
    platform_app,
    platform_settings,
    tg_message_update,
    web,
)
from tests.fakes.telegram_server import TelegramServer
from tests.fakes.zalo_api import FakeZaloApi
from tocns.app import BotApp
from tocns.config import Settings
from tocns.core.roles import Role
from tocns.features.activity import store as activity_store

# Between the webhook (web) and the outbox: channels, inbound, core, features; db and config are the layers below.
WALK = {"web", "channels", "inbound", "core", "features", "outbox", "db", "config"}
FEATURES = {"activity", "org"}  # /ghi itself, and the identity `tocns.app` injects


def _package(module: str) -> tuple[str, str | None]:
    """`tocns.features.org.store` -> ("features", "org"); `tocns.web.intake` -> ("web", None)."""
    parts = module.split(".")
    return parts[1], parts[2] if parts[1] == "features" and len(parts) > 2 else None


@pytest.fixture
def papp(app: BotApp, settings: Settings, tmp_path: Path) -> BotApp:
    """The bot configured for Telegram on the fake."""
    return platform_app(app, platform_settings(settings, tmp_path))


async def test_one_ghi_enters_only_the_packages_of_the_walk(
    papp: BotApp, tg_server: TelegramServer, clock: FakeClock
) -> None:
    channels: list[Any] = list(channels_for(papp, tg_server, FakeZaloApi()))
    async with papp.db.session() as session:
        tree = await build_tree(session)
        code = await join_code(session, tree.commune, Role.COMMUNE_LEADER, clock())
    headers = {TG_HEADER: TG_SECRET}
    entered: set[str] = set()

    def note(frame: FrameType, event: str, _arg: object) -> None:
        if event == "call":
            name = frame.f_globals.get("__name__", "")
            if name.startswith("tocns."):
                entered.add(name)

    async with web(papp, channels) as (client, web_app):
        await client.post("/webhook/telegram", json=tg_message_update(f"/ketnoi {code}", user_id=11), headers=headers)
        await client.post("/webhook/telegram", json=tg_message_update("/thamgia thon 3", user_id=12), headers=headers)
        await web_app.state.pipeline.drain()
        sys.setprofile(note)
        try:
            response = await client.post(
                "/webhook/telegram", json=tg_message_update("/ghi vneid 5", user_id=12), headers=headers
            )
            await web_app.state.pipeline.drain()
        finally:
            sys.setprofile(None)
    assert response.status_code == 200
    assert "Đã ghi #" in (await outbox(papp, "-1001"))[-1].text
    packages = {_package(m) for m in entered}
    assert {top for top, _ in packages} <= WALK, sorted(entered)
    assert {feature for _, feature in packages if feature} <= FEATURES, sorted(entered)
    assert {"web", "channels", "inbound", "core", "features", "outbox"} <= {top for top, _ in packages}


# What one /ghi of a known member costs in SQL statements (each one a round trip; BEGIN and COMMIT counted where
# the driver sends them as statements, SQLite's BEGIN IMMEDIATE): the webhook's store and claim; on PostgreSQL
# the processed-mark, the sender's refresh, binding and memberships in one statement, the double-tap check, record,
# items and audit in one, receipt with done-mark in one (SQLite: the mark, the sender, the chat and the double-tap
# check apart). A member notices each one as latency under load (bench/webhook_bench.py); lower these when the walk
# gets leaner, never raise them.
GHI_STATEMENTS = {"postgresql": 5, "sqlite": 13}


async def _known_member_with_a_record(papp: BotApp, tg_server: TelegramServer, clock: FakeClock) -> Any:
    """A commune's group with a member of "thôn 3" who has one record (the double-tap check has one to compare
    with) and the catalogue cached, as between a bot's updates; the Telegram channel."""
    channel = channels_for(papp, tg_server, FakeZaloApi())[0]
    async with papp.db.session() as session:
        tree = await build_tree(session)
        code = await join_code(session, tree.commune, Role.COMMUNE_LEADER, clock())
    await papp.pipeline.receive(channel, tg_message_update(f"/ketnoi {code}", user_id=11))
    await papp.pipeline.receive(channel, tg_message_update("/thamgia thon 3", user_id=12))
    await papp.pipeline.receive(channel, tg_message_update("/ghi dvc 1", user_id=12))
    async with papp.db.session() as session:
        await activity_store.indicators(session)
    return channel


async def test_one_ghi_costs_at_most_the_statements_of_the_lean_walk(
    papp: BotApp, tg_server: TelegramServer, clock: FakeClock
) -> None:
    channel = await _known_member_with_a_record(papp, tg_server, clock)
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    engine = papp.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        await papp.pipeline.receive(channel, tg_message_update("/ghi vneid 5", user_id=12))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    receipt = (await outbox(papp, "-1001"))[-1].text
    assert receipt.startswith("Đã ghi #") and "vneid" in receipt
    assert len(statements) <= GHI_STATEMENTS[engine.dialect.name], "\n".join(statements)


async def test_one_ghi_on_postgresql_runs_every_statement_prepared_on_the_driver(
    papp: BotApp, tg_server: TelegramServer, clock: FakeClock
) -> None:
    # SQLAlchemy's execute path costs more CPU than the statements (bench/RESULTS.md): on PostgreSQL each statement
    # of a known member's /ghi runs on the session's asyncpg connection (tocns.db.raw), which SQLAlchemy's
    # listeners see with no execution context of its own. SQLite keeps SQLAlchemy's path.
    engine = papp.db.engine.sync_engine
    if engine.dialect.name != "postgresql":
        pytest.skip("the driver path is PostgreSQL's")
    channel = await _known_member_with_a_record(papp, tg_server, clock)
    through_sqlalchemy: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, _params: object, context: object, _many: bool) -> None:
        if context is not None:
            through_sqlalchemy.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        await papp.pipeline.receive(channel, tg_message_update("/ghi vneid 5", user_id=12))
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert (await outbox(papp, "-1001"))[-1].text.startswith("Đã ghi #")
    assert through_sqlalchemy == []
