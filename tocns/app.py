"""The runtime: settings, database, registry, router and pipeline in one object; every feature, job, chat event and
channel is wired here, explicitly, and nowhere else."""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from tocns.config import Settings, get_settings
from tocns.core.clock import clock_start, utcnow
from tocns.core.dates import warm_holidays
from tocns.core.files import PhotoFetch
from tocns.core.jobs import ScheduledJob
from tocns.core.messages import ChatEventKind
from tocns.core.registry import Registry
from tocns.core.router import Router
from tocns.core.supervisor import LoopHealth
from tocns.core.updates import EventHandler
from tocns.db.engine import Database, upgrade_database_async
from tocns.inbound.pipeline import Pipeline
from tocns.inbound.store import PROCESSED_MARK_PG, mark_params, mark_processed
from tocns.log_setup import register_secrets

if TYPE_CHECKING:
    from tocns.channels.base import Channel, Transport
    from tocns.outbox.sender import ChatHooks

log = logging.getLogger(__name__)


def build_registry() -> Registry:
    """Every feature's chat commands in one registry, included explicitly (help and menus follow this order)."""
    from tocns.features.activity.commands import COMMANDS as activity
    from tocns.features.dashboard.commands import COMMANDS as dashboard
    from tocns.features.directives.commands import COMMANDS as directives
    from tocns.features.guide.commands import COMMANDS as guide
    from tocns.features.org.commands import COMMANDS as org
    from tocns.features.reports.commands import COMMANDS as reports
    from tocns.features.targets.commands import COMMANDS as targets
    from tocns.features.targets.commands import population_setting
    from tocns.features.targets.grammar import POPULATION_USAGE
    from tocns.features.tasks.commands import SettingsForm, command_group

    # One /caidat: the tasks feature's reminder settings, after the targets feature's households and adults.
    tasks = command_group(SettingsForm(usage=POPULATION_USAGE, answer=population_setting))
    return Registry().include(guide, org, activity, tasks, reports, targets, directives, dashboard)


def scheduled_jobs() -> list[ScheduledJob]:
    """Every scheduled job, in the order the scheduler runs them each minute."""
    from tocns.features.activity.evidence import keep_photos
    from tocns.features.directives.jobs import directive_reminders
    from tocns.features.reports.jobs import commune_digest, nonreporter_nudge, weekly_summary
    from tocns.features.tasks.jobs import task_reminders
    from tocns.inbound.jobs import inbound_retention

    return [
        ScheduledJob("commune_digest", commune_digest),
        ScheduledJob("directive_reminders", directive_reminders),
        ScheduledJob("inbound_retention", inbound_retention),
        ScheduledJob("keep_photos", keep_photos),
        ScheduledJob("nonreporter_nudge", nonreporter_nudge),
        ScheduledJob("task_reminders", task_reminders),
        ScheduledJob("weekly_summary", weekly_summary, beside=True),
    ]


def chat_events() -> dict[ChatEventKind, EventHandler]:
    """What each chat event does (an edited command is answered by the pipeline itself)."""
    from tocns.features.directives import events as directive_events
    from tocns.features.org import events

    return {
        ChatEventKind.BOT_ADDED: events.bot_added,
        ChatEventKind.BOT_REMOVED: events.bot_removed,
        ChatEventKind.CHAT_MIGRATED: events.follow_moved_chat(directive_events.chat_migrated),
    }


def register_session_listeners() -> None:
    """Install the stores' SQLAlchemy session listeners, once per process: caches that forget changed rows."""
    from tocns.features.activity.store import register_listeners as activity_listeners
    from tocns.features.org.store import register_listeners as org_listeners

    activity_listeners()
    org_listeners()


@dataclass
class BotApp:
    """The running bot: one database, one router, one pipeline; channels and jobs hang off it."""

    settings: Settings
    db: Database
    router: Router
    pipeline: Pipeline
    registry: Registry
    clock: Callable[[], datetime] = utcnow
    # The background loops' progress (inbound queue, sender, scheduler), read by /healthz.
    loops: LoopHealth = field(default_factory=LoopHealth)

    def __post_init__(self) -> None:
        # Settings copied with new secrets (model_copy) skip their own registration: the app makes sure.
        register_secrets(self.settings.secret_values())
        self.loops.clock = lambda: self.clock()  # the app's clock, even if a test swaps it later
        self.pipeline.health = self.loops

    @classmethod
    def build(cls, settings: Settings, db: Database, clock: Callable[[], datetime] = utcnow) -> BotApp:
        """Wire the registry, router and pipeline on an open database (no migration, no I/O)."""
        from tocns.features.org.events import identify, marking_identify

        register_session_listeners()
        registry = build_registry()
        # The processed-mark and the sender in one round trip (PostgreSQL): the inbound store's mark, run by org's.
        both = marking_identify(PROCESSED_MARK_PG, mark_params)
        router = Router(settings, registry, identify, mark_processed, clock=clock, mark_and_identify=both)
        pipeline = Pipeline(db, settings, router, chat_events(), clock)
        return cls(settings=settings, db=db, router=router, pipeline=pipeline, registry=registry, clock=clock)

    @classmethod
    async def create(
        cls,
        settings: Settings | None = None,
        clock: Callable[[], datetime] | None = None,
        migrate: bool | None = None,
    ) -> BotApp:
        """Build the app; apply pending migrations first unless told not to."""
        settings = settings or get_settings()
        settings.ensure_data_dir()
        if settings.auto_migrate if migrate is None else migrate:
            await upgrade_database_async(settings.database_url)
        if clock is None and (start := clock_start()) is not None:
            log.warning("the clock of this process started at %s (TOCNS_CLOCK_START): for tests and trials only", start)
        return cls.build(settings, Database(settings.database_url), clock or utcnow)

    @property
    def photo_sources(self) -> dict[str, PhotoFetch]:
        """How each platform that names a photo in its own way hands it over (a web address needs none)."""
        from tocns.channels import console, telegram

        return {"telegram": telegram.fetch_photo, "console": console.fetch_photo}

    async def close(self) -> None:
        """Release the database connections and stop the report drawing processes."""
        from tocns.features.reports.files import shutdown_render_pool

        shutdown_render_pool()
        await self.db.dispose()


def configured_platforms(settings: Settings) -> list[str]:
    """Platforms that have a token configured."""
    platforms = []
    if settings.telegram_bot_token:
        platforms.append("telegram")
    if settings.zalo_bot_token:
        platforms.append("zalo")
    if settings.zalo_oa_app_id:
        platforms.append("zalo_oa")
    if settings.gapowork_bot_token:
        platforms.append("gapowork")
    return platforms


def build_channels(app: BotApp, platforms: list[str]) -> list[Channel]:
    """The channel of each named platform."""
    channels: list[Channel] = []
    if "telegram" in platforms:
        from tocns.channels.telegram import TelegramChannel

        channels.append(TelegramChannel(app.settings, app.router))
    if "zalo" in platforms:
        from tocns.channels.zalo import ZaloChannel

        channels.append(ZaloChannel(app.settings, app.router))
    if "zalo_oa" in platforms:
        from tocns.channels.zalo_oa import ZaloOaChannel
        from tocns.features.zalo_oa.tokens import oa_tokens

        channels.append(ZaloOaChannel(app.settings, app.router, oa_tokens(app.db, app.settings, app.clock)))
    if "gapowork" in platforms:
        from tocns.channels.gapowork import GapoWorkChannel

        channels.append(GapoWorkChannel(app.settings, app.router))
    return channels


def build_transports(
    settings: Settings, clock: Callable[[], datetime] = utcnow, db: Database | None = None, files_served: bool = True
) -> dict[str, Transport]:
    """The transports this process sends through: Telegram, Zalo and GapoWork, each when its token is set, and the
    Zalo OA when its app id is set (its tokens live in `db`); without `files_served` (nothing answers /files) Zalo
    gets a note in place of each file."""
    transports: dict[str, Transport] = {}
    if settings.telegram_bot_token:
        from tocns.channels.telegram import TelegramTransport

        token, url, paid = settings.telegram_bot_token, settings.telegram_api_base_url, settings.telegram_paid_broadcast
        transports["telegram"] = TelegramTransport(token, url, settings.telegram_request_timeout, paid)
    if settings.zalo_bot_token:
        from tocns.channels.zalo import ZaloTransport

        transports["zalo"] = ZaloTransport(settings, clock=clock, files_served=files_served)
    if settings.zalo_oa_app_id and db is not None:
        from tocns.channels.zalo_oa import ZaloOaTransport
        from tocns.features.zalo_oa.tokens import oa_tokens

        transports["zalo_oa"] = ZaloOaTransport(settings, oa_tokens(db, settings, clock), clock=clock)
    if settings.gapowork_bot_token and settings.gapowork_bot_id:
        from tocns.channels.gapowork import GapoWorkTransport

        transports["gapowork"] = GapoWorkTransport(settings, clock=clock, files_served=files_served)
    return transports


def sender_hooks() -> ChatHooks:
    """What the sender tells the features (a chat moved or gone: the chat events' own handlers) and asks them."""
    from tocns.features.org.store import is_private_chat
    from tocns.outbox.sender import ChatHooks

    return ChatHooks(events=chat_events(), is_private=is_private_chat)


def settle_for_serving() -> None:
    """Warm what the first tick would build on the loop, then keep start-up's objects out of garbage collection.

    A full collection walked every object the imports made (300-850 ms of wall time at national scale, the longest
    stalls of the busy tick, bench/RESULTS.md); frozen, they are never walked again (CPython's gc.freeze, meant for
    long-lived servers). Every long-lived process does it: the jobs process and each web worker.
    """
    warm_holidays(utcnow().date())
    note_absent_sniffio()
    gc.collect()
    gc.freeze()


# The oldest generation's threshold while full collections are held: never reached (CPython counts young
# collections against it).
_HELD_THRESHOLD = 2**31 - 1


def hold_full_collections() -> Callable[[], None]:
    """Leave full garbage collections to `collect_between_ticks`, in the scheduler's quiet moments.

    A full (oldest-generation) collection walks every live object: in the middle of a busy tick that is the tick's
    rows, ~200 ms at national scale (bench/RESULTS.md), a stall of the loop that also runs the sender. The young
    generations are still collected as they fill. Only a process that runs the scheduler holds them, since its
    every minute ends with the full collection. Returns the function that gives the thresholds back.
    """
    young, middle, oldest = gc.get_threshold()
    gc.set_threshold(young, middle, _HELD_THRESHOLD)

    def release() -> None:
        """The thresholds as they were (a process that stops serving, a test)."""
        gc.set_threshold(young, middle, oldest)

    return release


def collect_between_ticks() -> None:
    """The full collection held back during the minute (a no-op where `hold_full_collections` was not called)."""
    if gc.get_threshold()[2] == _HELD_THRESHOLD:
        gc.collect()


def note_absent_sniffio() -> None:
    """Record `sniffio` as absent when it is not installed, so that importing it fails at once.

    httpcore imports it on every HTTP request the transports make (`current_async_library`, four times per Bot API
    call); anyio 4 no longer installs it, and a failed import is not remembered: each one searched sys.path again,
    ~40 µs, a few percent of the jobs process's CPU per message sent (bench/RESULTS.md, branch h-ghi5). Installed,
    it is left alone.
    """
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


def start_sender(app: BotApp, files_served: bool = True) -> tuple[asyncio.Task[None], asyncio.Event] | None:
    """This process's outbox sender, with its transports and hooks (None when no platform is configured)."""
    from tocns.outbox import sender

    transports = build_transports(app.settings, app.clock, app.db, files_served)
    names, hooks = app.registry.names(), sender_hooks()
    return sender.start_sender(app.db, app.settings, transports, app.clock, names, app.loops, hooks)


async def run_polling(
    app: BotApp, platforms: list[str], channels: list[Channel] | None = None, stop: asyncio.Event | None = None
) -> None:
    """Run the long-polling loop of every configured platform until stopped."""
    from tocns.core.metrics import METRICS

    channels = channels if channels is not None else build_channels(app, platforms)
    app.pipeline.metrics = METRICS
    for channel in channels:
        app.pipeline.add(channel)
        await channel.start()
        await channel.set_menu()
    # The processing loop runs beside the polling: what polling stored but could not process (the database went
    # away), retries and a previous run's backlog are processed all the time, not only at start.
    stop_processing = app.pipeline.start()
    try:
        await asyncio.gather(*(channel.poll(app.pipeline.receive, stop) for channel in channels))
    finally:
        await stop_processing()
        for channel in channels:
            await channel.close()


async def print_console_outbox(app: BotApp, out: TextIO | None = None) -> int:
    """Print what the bot queued for console chats (directives, reminders, digests); returns the count."""
    from tocns.channels.console import PLATFORM, ConsoleTransport
    from tocns.outbox.sender import OutboxSender, PlatformLimits

    # A terminal has no flood limit; what is due now is printed now.
    sender = OutboxSender(
        app.db,
        app.settings,
        {PLATFORM: ConsoleTransport(out)},
        clock=app.clock,
        limits={PLATFORM: PlatformLimits.build(1000.0, 1000, 1)},
    )
    delivered = 0
    while handled := await sender.run_once():
        delivered += handled
    return delivered
