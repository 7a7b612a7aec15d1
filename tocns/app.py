"""Wiring: settings, database, registry and router in one object shared by every adapter."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from tocns.config import Settings, get_settings
from tocns.core.jobs import ScheduledJob
from tocns.core.registry import Registry
from tocns.core.router import Router
from tocns.db.engine import Database, upgrade_database_async
from tocns.features.org.models import utcnow

log = logging.getLogger(__name__)


def build_registry() -> Registry:
    """Every feature's chat commands in one registry, included explicitly (help and menus follow this order)."""
    from tocns.features.activity.commands import COMMANDS as activity
    from tocns.features.directives.commands import COMMANDS as directives
    from tocns.features.guide.commands import COMMANDS as guide
    from tocns.features.org.commands import COMMANDS as org
    from tocns.features.reports.commands import COMMANDS as reports
    from tocns.features.tasks.commands import COMMANDS as tasks

    return Registry().include(guide, org, activity, tasks, reports, directives)


def scheduled_jobs() -> list[ScheduledJob]:
    """Every scheduled job, in the order the scheduler runs them each minute."""
    from tocns.features.directives.jobs import directive_reminders
    from tocns.features.reports.jobs import commune_digest, nonreporter_nudge, weekly_summary
    from tocns.features.tasks.jobs import task_reminders

    return [
        ScheduledJob("commune_digest", commune_digest),
        ScheduledJob("directive_reminders", directive_reminders),
        ScheduledJob("nonreporter_nudge", nonreporter_nudge),
        ScheduledJob("task_reminders", task_reminders),
        ScheduledJob("weekly_summary", weekly_summary),
    ]


@dataclass
class BotApp:
    """The running bot: one database, one router; adapters and jobs hang off it."""

    settings: Settings
    db: Database
    router: Router
    registry: Registry
    clock: Callable[[], datetime] = utcnow
    closers: list[Callable[[], object]] = field(default_factory=list)

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
        db = Database(settings.database_url)
        reg = build_registry()
        clock = clock or utcnow
        router = Router(db, settings, reg, clock=clock)
        return cls(settings=settings, db=db, router=router, registry=reg, clock=clock)

    async def close(self) -> None:
        """Release the database connections."""
        await self.db.dispose()
