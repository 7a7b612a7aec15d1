"""The bot wired to the strict fake GapoWork: settings, channel, transport, a web client and a sender in
simulated time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.fakes import gapowork_api
from tests.fakes.gapowork_api import FakeGapoWork
from tests.fakes.platforms import outbox, web
from tocns.app import BotApp, sender_hooks
from tocns.channels.gapowork import GapoWorkChannel, GapoWorkTransport
from tocns.config import Settings
from tocns.outbox import store as outbox_store
from tocns.outbox.models import OutboxState
from tocns.outbox.sender import OutboxSender, PlatformLimits

WEBHOOK = f"/webhook/gapowork/{gapowork_api.SECRET}"


def gapowork_settings(settings: Settings, tmp_path: Path) -> Settings:
    """Test settings with GapoWork configured against the fake, files served as signed HTTPS links."""
    return settings.model_copy(
        update={
            "gapowork_bot_id": str(gapowork_api.BOT_ID),
            "gapowork_bot_token": gapowork_api.TOKEN,
            "gapowork_webhook_secret": gapowork_api.SECRET,
            "gapowork_api_base_url": gapowork_api.BASE,
            "files_dir": str(tmp_path / "files"),
            "public_base_url": "https://bot.example.vn",
            "link_signing_secret": "link-signing-secret-for-tests-0123",
        }
    )


@dataclass
class GapoBot:
    """The bot on GapoWork: post events through the webhook, deliver the outbox to the fake."""

    app: BotApp
    fake: FakeGapoWork
    client: httpx.AsyncClient
    web_app: Any
    sender: OutboxSender

    async def post(self, events: list[dict[str, Any]]) -> None:
        """POST each event to the webhook (every one must be answered 200) and process them."""
        for event in events:
            response = await self.client.post(WEBHOOK, json=event)
            assert response.status_code == 200, response.text
        await self.web_app.state.pipeline.drain()

    async def deliver(self) -> None:
        """Run the outbox sender in simulated time until nothing is left; nothing may fail."""
        clock = self.app.clock
        for _ in range(200):
            if await self.sender.run_once():
                continue
            async with self.app.db.session() as session:
                due = await outbox_store.next_due(session, ["gapowork"])
            if due is None:
                break
            due = due if due.tzinfo else due.replace(tzinfo=UTC)
            clock.now = max(due, clock() + timedelta(milliseconds=10))  # type: ignore[attr-defined]
        failed = [r for r in await outbox(self.app) if r.state == OutboxState.FAILED]
        assert not failed, [(r.chat_id, r.last_error) for r in failed]


@asynccontextmanager
async def gapo_bot(app: BotApp, settings: Settings, tmp_path: Path, fake: FakeGapoWork) -> AsyncIterator[GapoBot]:
    """The test bot re-wired for GapoWork (same database and clock), with its web app and sender."""
    papp = BotApp.build(gapowork_settings(settings, tmp_path), app.db, app.clock)
    channel = GapoWorkChannel(papp.settings, papp.router)
    await channel.start()
    clock = papp.clock
    start = clock()
    transport = GapoWorkTransport(papp.settings, client=fake.client(), clock=clock)
    sender = OutboxSender(
        papp.db,
        papp.settings,
        {"gapowork": transport},
        clock=clock,
        monotonic=lambda: (clock() - start).total_seconds(),
        command_names=papp.registry.names(),
        # The fake clock stands still while the sender would wait for its rate window: limits have their own tests.
        limits={"gapowork": PlatformLimits.build(1000.0, 1000, 1)},
        hooks=sender_hooks(),
    )
    async with web(papp, [channel]) as (client, web_app):
        yield GapoBot(papp, fake, client, web_app, sender)
    await transport.close()
