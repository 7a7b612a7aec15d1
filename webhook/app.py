"""FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from sqlalchemy import text

from bot.app import BotApp
from bot.config import Settings, get_settings
from webhook.api import router as api_router


def create_app(
    settings: Settings | None = None, with_scheduler: bool = False, bot_app: BotApp | None = None
) -> FastAPI:
    """Build the web app; the bot (database, router) is created at startup unless one is given."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = bot_app is None
        app.state.bot = bot_app or await BotApp.create(settings)
        scheduler = sender = None
        if with_scheduler:
            from bot.outbox_sender import start_sender
            from bot.scheduler import start_scheduler

            scheduler = start_scheduler(app.state.bot)
            sender = start_sender(app.state.bot.db, settings)
        try:
            yield
        finally:
            if sender is not None:
                from bot.outbox_sender import stop_sender

                await stop_sender(sender)
            if scheduler is not None:
                scheduler.shutdown(wait=False)
            if owned:
                await app.state.bot.close()

    app = FastAPI(title="Tổ CNS bot", version="0.1.0", lifespan=lifespan)

    @app.get("/healthz", tags=["ops"])
    async def healthz(request: Request) -> dict[str, str]:
        """Liveness and database reachability."""
        bot: BotApp = request.app.state.bot
        async with bot.db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return {"status": "ok", "database": "ok"}

    app.include_router(api_router)
    if bot_app is not None:
        app.state.bot = bot_app
    return app
