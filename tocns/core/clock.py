"""The one source of the current time (timezone-aware UTC); jobs and tests pass a clock instead.

`utcnow` is the wall clock, unless the process was started with TOCNS_CLOCK_START (ISO 8601 with its offset,
e.g. `2026-11-23T09:00+07:00`): then the process's time starts at that moment and advances at real speed. It is
for tests that run `tocns` in a subprocess and for trials, never for a real deployment (docs/decisions.md, "Time
is an input"); it is read from the process environment only (not from `.env`), once, at import.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

CLOCK_START_ENV = "TOCNS_CLOCK_START"


def parse_clock_start(value: str) -> datetime:
    """The moment a TOCNS_CLOCK_START value names, in UTC; ValueError unless it is ISO 8601 with an offset."""
    start = datetime.fromisoformat(value.strip())
    if start.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset (write it like 2026-11-23T09:00+07:00)")
    return start.astimezone(UTC)


def _start_from_environment() -> datetime | None:
    value = os.environ.get(CLOCK_START_ENV, "").strip()
    if not value:
        return None
    try:
        return parse_clock_start(value)
    except ValueError as exc:
        # A refusal beats a guess: a process on a clock it was not asked for could send at the wrong hour.
        raise SystemExit(f"Lỗi: {CLOCK_START_ENV}={value!r} không hợp lệ ({exc}).") from exc


_START = _start_from_environment()
_OFFSET = _START - datetime.now(UTC) if _START is not None else timedelta(0)


def clock_start() -> datetime | None:
    """The moment this process's clock started at (TOCNS_CLOCK_START), or None on the wall clock."""
    return _START


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC (SQLModel stores datetimes as UTC)."""
    return datetime.now(UTC) + _OFFSET
