"""Wiring: settings, database, registry and router in one object shared by every adapter."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.config import Settings, get_settings
from bot.log_setup import register_secrets
from bot.registry import Registry, registry
from bot.router import Router
from storage.db import Database, upgrade_database_async
from storage.models import utcnow

log = logging.getLogger(__name__)


def load_handlers() -> Registry:
    """Import every handler module so the registry is complete, and return it."""
    import bot.handlers  # noqa: F401  (import registers the commands)

    return registry


@dataclass
class BotApp:
    """The running bot: one database, one router; adapters and jobs hang off it."""

    settings: Settings
    db: Database
    router: Router
    registry: Registry
    clock: Callable[[], datetime] = utcnow
    closers: list[Callable[[], object]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Settings copied with new secrets (model_copy) skip their own registration: the app makes sure.
        register_secrets(self.settings.secret_values())

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
        reg = load_handlers()
        clock = clock or utcnow
        router = Router(db, settings, reg, clock=clock)
        return cls(settings=settings, db=db, router=router, registry=reg, clock=clock)

    async def close(self) -> None:
        """Release the database connections."""
        await self.db.dispose()
