"""Scheduled jobs: the type every feature's jobs have.

A job is a coroutine `run(app, now) -> list[str]` that computes from the database what is due at `now`, enqueues
it in the outbox with a dedupe key, and returns a line per message enqueued. Because the dedupe key records what
was sent, a restart, a missed run or a second process never sends twice, and running every job at any moment (the
scheduler each minute, `tocns tick --at ...` by hand) is always safe. The list of jobs is declared in `tocns.app`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

JobRun = Callable[[Any, datetime], Awaitable[list[str]]]


@dataclass(frozen=True)
class ScheduledJob:
    """A named, idempotent scheduled job."""

    name: str
    run: JobRun
