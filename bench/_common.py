"""Helpers shared by the benchmark scripts (run as `python bench/<name>.py`, so this is importable)."""

from __future__ import annotations


async def recreate_postgres_database(url: str) -> None:
    """Drop and create the database named at the end of a postgresql+asyncpg URL (a scratch database)."""
    import asyncpg

    name = url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql").rsplit("/", 1)[0] + "/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
