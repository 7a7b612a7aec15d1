"""Scheduled jobs, one module each.

Every job is a coroutine `run(app, now) -> list[str]` that computes from the database what is due at `now`,
enqueues it in the outbox with a dedupe key, and returns a line per message enqueued. Because the dedupe key
records what was sent, a restart, a missed run or a second process never sends twice, and running every job
at any moment (the scheduler each minute, `tocns tick --at ...` by hand) is always safe.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.app import BotApp

JobRun = Callable[["BotApp", datetime], Awaitable[list[str]]]


@dataclass(frozen=True)
class Job:
    """A named, idempotent scheduled job."""

    name: str
    run: JobRun


JOBS: list[Job] = []
"""Every scheduled job; job modules add themselves with @job when imported."""


def job(name: str) -> Callable[[JobRun], JobRun]:
    """Decorator registering a job coroutine under a name."""

    def wrap(run: JobRun) -> JobRun:
        if any(j.name == name for j in JOBS):
            raise ValueError(f"job {name!r} is registered twice")
        JOBS.append(Job(name=name, run=run))
        return run

    return wrap


def load_jobs() -> list[Job]:
    """Import every module of this package so all jobs are registered, and return them."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    return list(JOBS)
