"""FastAPI application factory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.adapters.inbound import Inbound
from bot.app import BotApp
from bot.config import Settings, get_settings
from bot.metrics import METRICS
from webhook import directives_api
from webhook.api import router as api_router

log = logging.getLogger(__name__)

# A database that hangs must not hang the health check: a load balancer waits only a few seconds.
PING_TIMEOUT_SECONDS = 5.0


async def database_reachable(bot: BotApp) -> bool:
    """Whether the database answers a trivial query within PING_TIMEOUT_SECONDS."""
    try:
        await asyncio.wait_for(bot.db.ping(), timeout=PING_TIMEOUT_SECONDS)
    except Exception as exc:  # any failure to reach it (refused, timeout, auth) is "down" for a probe
        log.warning("database unreachable: %s: %s", type(exc).__name__, exc)
        return False
    return True


def _attach(app: FastAPI, bot: BotApp, adapters: list[Any] | None) -> Inbound:
    from bot.adapters.runners import build_adapters, configured_platforms

    inbound = Inbound(bot)
    inbound.metrics = METRICS
    for adapter in adapters if adapters is not None else build_adapters(bot, configured_platforms(bot.settings)):
        inbound.add(adapter)
    if METRICS.observe_command not in bot.router.observers:
        bot.router.observers.append(METRICS.observe_command)
    app.state.bot = bot
    app.state.inbound = inbound
    return inbound


async def setup_platforms(inbound: Inbound, register: bool = True) -> None:
    """Start each adapter and, with `register`, register its webhook and (Telegram) the command menu."""
    from webhook import telegram as tg_routes
    from webhook import zalo as zalo_routes

    base = inbound.app.settings.public_base_url.rstrip("/")
    for adapter in inbound.adapters.values():
        await adapter.start()  # type: ignore[attr-defined]
        if not register:
            continue
        path = tg_routes.PATH if adapter.platform == "telegram" else zalo_routes.PATH
        await adapter.set_webhook(f"{base}{path}")  # type: ignore[attr-defined]
        if adapter.platform == "telegram":
            await adapter.set_menu()  # type: ignore[attr-defined]


def create_app(
    settings: Settings | None = None,
    with_scheduler: bool = False,
    bot_app: BotApp | None = None,
    adapters: list[Any] | None = None,
    with_platforms: bool = False,
    register_platforms: bool = True,
) -> FastAPI:
    """Build the web app; the bot (database, router) is created at startup unless one is given."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = bot_app is None
        bot = bot_app or await BotApp.create(settings)
        # Built with a bot already (tests): keep the pipeline attached then, not a second set of adapters.
        inbound: Inbound = app.state.inbound if bot_app is not None else _attach(app, bot, adapters)
        if with_platforms:
            await setup_platforms(inbound, register=register_platforms)
        await inbound.recover()
        scheduler = sender = None
        if with_scheduler:
            from bot.outbox_sender import start_sender
            from bot.scheduler import start_scheduler

            scheduler = start_scheduler(app.state.bot)
            sender = start_sender(app.state.bot.db, settings, app.state.bot.clock)
        try:
            yield
        finally:
            if sender is not None:
                from bot.outbox_sender import stop_sender

                await stop_sender(sender)
            if scheduler is not None:
                scheduler.shutdown(wait=False)
            await inbound.drain()
            for adapter in inbound.adapters.values():
                await adapter.close()  # type: ignore[attr-defined]
            if owned:
                await app.state.bot.close()

    app = FastAPI(title="Tổ CNS bot", version="0.1.0", lifespan=lifespan)

    @app.get("/healthz", tags=["ops"], responses={503: {"description": "Cơ sở dữ liệu không truy cập được"}})
    async def healthz(request: Request) -> Response:
        """Liveness and database reachability: 200 when the database answers, 503 when it does not."""
        bot: BotApp = request.app.state.bot
        if not await database_reachable(bot):
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    app.include_router(api_router)
    app.include_router(directives_api.router)
    app.add_exception_handler(RequestValidationError, directives_api.validation_error)
    app.add_exception_handler(StarletteHTTPException, directives_api.body_error)
    from webhook import files, metrics, telegram, zalo

    app.include_router(telegram.router)
    app.include_router(zalo.router)
    app.include_router(metrics.router)
    app.include_router(files.router)

    if bot_app is not None:
        _attach(app, bot_app, adapters)
    return app


async def register_platforms(settings: Settings) -> None:
    """Once per deployment, before the workers start: migrate, set each webhook and the Telegram menu."""
    from bot.adapters.runners import build_adapters, configured_platforms

    bot = await BotApp.create(settings)
    inbound = Inbound(bot)
    try:
        for adapter in build_adapters(bot, configured_platforms(settings)):
            inbound.add(adapter)
        await setup_platforms(inbound)
    finally:
        for adapter in inbound.adapters.values():
            await adapter.close()  # type: ignore[attr-defined]
        await bot.close()


def served_app() -> FastAPI:
    """The app each `tocns serve` worker process builds (uvicorn factory): settings from the environment."""
    from bot.log_setup import configure_logging

    settings = get_settings()
    # A worker is a fresh process: it needs the redacting log handlers the CLI installs in the parent.
    configure_logging(settings.log_level)
    return create_app(settings, with_scheduler=True, with_platforms=True, register_platforms=False)
