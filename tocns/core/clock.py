"""The one source of the current time (timezone-aware UTC); jobs and tests pass a clock instead."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC (SQLModel stores datetimes as UTC)."""
    return datetime.now(UTC)
