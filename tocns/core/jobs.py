"""Scheduled jobs: the type every feature's jobs have, and the little of the app they are given to run.

A job is a coroutine `run(ctx, now) -> list[str]` that computes from the database what is due at `now`, enqueues
it in the outbox with a dedupe key, and returns a line per message enqueued. Because the dedupe key records what
was sent, a restart, a missed run or a second process never sends twice, and running every job at any moment (the
scheduler each minute, `tocns tick --at ...` by hand) is always safe. The list of jobs is declared in `tocns.app`;
the jobs themselves never import it: they receive a `JobContext` (the running `BotApp` is one).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tocns.config import Settings
    from tocns.core.files import PhotoFetch
    from tocns.db.engine import Database


class JobContext(Protocol):
    """What a scheduled job needs of the running app: its settings and its database (the time comes as `now`)."""

    @property
    def settings(self) -> Settings:
        """The app's settings."""
        ...

    @property
    def db(self) -> Database:
        """The app's database."""
        ...

    @property
    def photo_sources(self) -> Mapping[str, PhotoFetch]:
        """How each platform that names a photo in its own way hands it over (the channels', given by the app)."""
        ...


JobRun = Callable[[JobContext, datetime], Awaitable[list[str]]]


@dataclass(frozen=True)
class ScheduledJob:
    """A named, idempotent scheduled job."""

    name: str
    run: JobRun
    # A job whose time is mostly spent waiting for other processes (the weekly summary's drawings) runs beside the
    # others; the rest take turns, so that their database work does not crowd the machine's cores (tocns.scheduler).
    beside: bool = False
