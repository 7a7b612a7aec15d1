"""FastAPI application factory."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tocns.app import (
    BotApp,
    build_channels,
    configured_platforms,
    hold_full_collections,
    settle_for_serving,
    start_sender,
)
from tocns.channels.base import Channel
from tocns.config import Settings, get_settings
from tocns.core.metrics import METRICS
from tocns.features.dashboard.routes import router as dashboard_router
from tocns.features.directives import api as directives_api
from tocns.features.reports.api import router as api_router
from tocns.features.targets import api as targets_api
from tocns.inbound.pipeline import Pipeline
from tocns.jobs_process import jobs_health, separate_jobs

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


def _attach(app: FastAPI, bot: BotApp, channels: list[Channel] | None) -> Pipeline:
    pipeline = bot.pipeline
    pipeline.metrics = METRICS
    chosen = channels if channels is not None else build_channels(bot, configured_platforms(bot.settings))
    for channel in chosen:
        pipeline.add(channel)
    if METRICS.observe_command not in bot.router.observers:
        bot.router.observers.append(METRICS.observe_command)
    app.state.bot = bot
    app.state.pipeline = pipeline
    app.state.channels = {c.platform: c for c in chosen}
    return pipeline


async def setup_platforms(channels: list[Channel], public_base_url: str, register: bool = True) -> dict[str, str]:
    """Start each channel and, with `register`, point its webhook here (and publish Telegram's menu); returns each
    platform's confirmed webhook URL."""
    urls: dict[str, str] = {}
    for channel in channels:
        await channel.start()
        if register:
            urls[channel.platform] = await channel.register(public_base_url)
    return urls


# The error handlers a feature gives for its own paths, by path prefix; FastAPI's usual answers everywhere else.
ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]
_DEFAULT_HANDLERS: dict[type[Exception], ErrorHandler] = {
    RequestValidationError: request_validation_exception_handler,  # type: ignore[dict-item]
    StarletteHTTPException: http_exception_handler,  # type: ignore[dict-item]
}

ops = APIRouter()


@ops.get(
    "/healthz",
    tags=["ops"],
    responses={503: {"description": "Cơ sở dữ liệu không truy cập được, hoặc một vòng lặp nền bị kẹt"}},
)
async def healthz(request: Request) -> Response:
    """Liveness: 200 when the database answers and no background loop is stalled (work due, no progress for
    LOOP_STALL_SECONDS); 503 otherwise, with each loop's last progress."""
    bot: BotApp = request.app.state.bot
    reachable = await database_reachable(bot)
    body: dict[str, object] = {"status": "ok", "database": "ok" if reachable else "unreachable"}
    loops = bot.loops.report(bot.settings.loop_stall_seconds)
    # Beside `tocns serve`'s jobs process: its scheduler and sender as it last reported them, and whether it did.
    loops.update(jobs_health(bot.clock(), bot.settings.loop_stall_seconds))
    stalled = sorted(name for name, loop in loops.items() if loop["stalled"])
    if loops:
        body["loops"] = loops
    if not reachable or stalled:
        body["status"] = "unavailable"
        return JSONResponse(body, status_code=503)
    return JSONResponse(body)


def register_routes(app: FastAPI) -> None:
    """Mount every route of the web app, and each feature's error handlers for its own paths only."""
    from tocns.web import files, metrics, webhooks

    routers = (ops, api_router, targets_api.router, directives_api.router, dashboard_router)
    # The webhooks first: the busiest path, matched before the routes FastAPI would otherwise try one by one.
    for router in (webhooks.router, *routers, metrics.router, files.router):
        app.include_router(router)
    scoped: dict[str, dict[type[Exception], ErrorHandler]] = {
        directives_api.PREFIX: {
            RequestValidationError: directives_api.validation_error,
            StarletteHTTPException: directives_api.body_error,
        },
    }
    for kind, default in _DEFAULT_HANDLERS.items():
        app.add_exception_handler(kind, _dispatch(kind, default, scoped))


def _dispatch(
    kind: type[Exception], default: ErrorHandler, scoped: dict[str, dict[type[Exception], ErrorHandler]]
) -> ErrorHandler:
    """One app-wide handler for `kind` that hands each error to the feature whose path it is, else `default`."""

    async def handle(request: Request, exc: Exception) -> Response:
        for prefix, handlers in scoped.items():
            if kind in handlers and request.url.path.startswith(prefix):
                return await handlers[kind](request, exc)
        return await default(request, exc)

    return handle


def _lifespan(
    settings: Settings,
    with_scheduler: bool,
    bot_app: BotApp | None,
    channels: list[Channel] | None,
    with_platforms: bool,
    register_platforms: bool,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """What each worker starts and stops around serving: the bot, its channels, the queue; with `with_scheduler`
    (SQLite's one process, tests) the scheduler and sender too, which tocns.jobs_process runs otherwise."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = bot_app is None
        bot = bot_app or await BotApp.create(settings)
        # Built with a bot already (tests): keep the pipeline attached then, not a second set of channels.
        pipeline: Pipeline = app.state.pipeline if bot_app is not None else _attach(app, bot, channels)
        running: list[Channel] = list(app.state.channels.values())
        if with_platforms:
            await setup_platforms(running, settings.public_base_url, register=register_platforms)
        # Every worker processes the queue all the time: a backlog left by a stop, an update stored while the
        # database was away, a retry whose backoff is over, a dead worker's claim (see docs/inbound.md).
        stop_processing = pipeline.start()
        if with_platforms or with_scheduler:  # a served worker, long-lived (not an app a test builds and drops)
            settle_for_serving()
        scheduler = sender = None
        release_collections: Callable[[], None] | None = None
        if with_scheduler:
            from tocns.scheduler import start_scheduler

            if with_platforms:  # served, not a test's app: this process's minute ends with the full collection
                release_collections = hold_full_collections()
            scheduler = start_scheduler(app.state.bot)
            bot = app.state.bot
            sender = start_sender(bot)
        try:
            yield
        finally:
            if sender is not None:
                from tocns.outbox.sender import stop_sender

                await stop_sender(sender)
            if scheduler is not None:
                scheduler.shutdown(wait=False)
            gc.unfreeze()  # a process that serves again (tests) collects what this start-up froze
            if release_collections is not None:
                release_collections()
            await stop_processing()
            await pipeline.drain()
            for channel in running:
                await channel.close()
            if owned:
                await app.state.bot.close()

    return lifespan


def create_app(
    settings: Settings | None = None,
    with_scheduler: bool = False,
    bot_app: BotApp | None = None,
    channels: list[Channel] | None = None,
    with_platforms: bool = False,
    register_platforms: bool = True,
) -> FastAPI:
    """Build the web app; the bot (database, router) is created at startup unless one is given."""
    settings = settings or get_settings()
    lifespan = _lifespan(settings, with_scheduler, bot_app, channels, with_platforms, register_platforms)
    app = FastAPI(title="Tổ CNS bot", version="0.1.0", lifespan=lifespan)
    register_routes(app)
    if bot_app is not None:
        _attach(app, bot_app, channels)
    return app


async def register_platforms(settings: Settings) -> dict[str, str]:
    """Once per deployment, before the workers start: migrate, set each webhook and the Telegram menu; returns
    each platform's confirmed webhook URL."""
    bot = await BotApp.create(settings)
    channels = build_channels(bot, configured_platforms(settings))
    try:
        return await setup_platforms(channels, settings.public_base_url)
    finally:
        for channel in channels:
            await channel.close()
        await bot.close()


def served_app() -> FastAPI:
    """The app each `tocns serve` worker process builds (uvicorn factory): settings from the environment."""
    from tocns.log_setup import configure_logging

    settings = get_settings()
    # A worker is a fresh process: it needs the redacting log handlers the CLI installs in the parent.
    configure_logging(settings.log_level)
    # On PostgreSQL the scheduler and sender run in `tocns serve`'s jobs process, away from the webhook's loop.
    with_scheduler = not separate_jobs(settings)
    return create_app(settings, with_scheduler=with_scheduler, with_platforms=True, register_platforms=False)
