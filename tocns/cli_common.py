"""Helpers shared by CLI subcommands: settings, a database session, clear errors.

Outside the `tocns.cli` package so that a feature's `cli.py` never imports the package that mounts it (no cycle).
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from tocns.config import Settings


T = TypeVar("T")


def prepared_settings() -> Settings:
    """Settings with the data directory created and (unless disabled) the schema up to date."""
    from tocns.config import get_settings
    from tocns.db.engine import upgrade_database

    settings = get_settings()
    settings.ensure_data_dir()
    if settings.auto_migrate:
        upgrade_database(settings.database_url)
    return settings


def run_in_session(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one committed session; storage errors become a message and exit code 1."""
    import asyncio

    from tocns.db.engine import Database
    from tocns.db.errors import StorageError

    settings = prepared_settings()

    async def _go() -> T:
        db = Database(settings.database_url)
        try:
            async with db.session() as session:
                return await work(session)
        finally:
            await db.dispose()

    try:
        return asyncio.run(_go())
    except StorageError as exc:
        print(f"Lỗi: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc


def parse_duration(text: str) -> timedelta:
    """Read `7d`, `12h`, `30m` or a number of days."""
    text = text.strip().lower()
    units = {"d": "days", "h": "hours", "m": "minutes", "w": "weeks"}
    try:
        if text and text[-1] in units:
            return timedelta(**{units[text[-1]]: float(text[:-1])})
        return timedelta(days=float(text))
    except ValueError as exc:
        raise SystemExit(f"Lỗi: thời hạn {text!r} không hợp lệ; ví dụ 7d, 12h, 30m.") from exc
