"""Scheduled jobs, one module each. Every job is idempotent: it computes what is due from the
database and records what it sent, so a restart or a second run never sends twice."""

from __future__ import annotations

from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler


class Job(Protocol):
    """A scheduled job: it knows how to put itself on the scheduler."""

    name: str

    def schedule(self, scheduler: AsyncIOScheduler, app: object) -> None:
        """Add this job's triggers to the scheduler."""


JOBS: list[Job] = []
"""Every scheduled job of the bot; job modules append themselves when imported."""
