"""The one place that tells SQLite from PostgreSQL, by URL (settings, engines) or by session (queries)."""

from __future__ import annotations

from typing import Any

# Settings read the URL before any engine exists, and the core, a leaf, reads settings: the URL test lives there.
from tocns.config import SQLITE, is_sqlite_url

__all__ = ["POSTGRESQL", "SQLITE", "dialect_of", "is_postgres", "is_sqlite_url"]

POSTGRESQL = "postgresql"


def dialect_of(session_or_connection: Any) -> str:
    """The dialect of a session or connection: "postgresql" or "sqlite" (an unbound session counts as SQLite)."""
    dialect = getattr(session_or_connection, "dialect", None)
    if dialect is None:
        bind = getattr(session_or_connection, "bind", None)
        dialect = getattr(bind, "dialect", None)
    return dialect.name if dialect is not None else SQLITE


def is_postgres(session_or_connection: Any) -> bool:
    """Whether a session or connection runs on PostgreSQL."""
    return dialect_of(session_or_connection) == POSTGRESQL
