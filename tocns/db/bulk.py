"""Bulk writes on PostgreSQL: a table's secondary indexes dropped before a big insert and built once after it.

An `INSERT … SELECT` of tens of millions of rows maintains every index row by row (and writes each change to the
WAL); building an index afterwards sorts once. At 80,000 teams `tocns rollup rebuild` took over 49 minutes with
its five indexes in place and about 20 without them (bench/RESULTS.md).
"""

from __future__ import annotations

import re

_TABLE = re.compile(r"[a-z_][a-z0-9_]*")


def secondary_sql(table: str) -> str:
    """A query (no parameters) listing `table`'s unique constraints and other non-primary indexes.

    Its rows are (kind, name, definition): kind 'c' for a unique constraint (dropped and added with ALTER TABLE),
    'i' for a plain index (its CREATE INDEX statement). The indexes behind the constraints are left to them.
    """
    if not _TABLE.fullmatch(table):
        raise ValueError(f"not a table name: {table!r}")
    return (
        f"SELECT 'c', conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = '{table}'::regclass "
        "AND contype = 'u' UNION ALL SELECT 'i', i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x "
        f"JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = '{table}'::regclass AND NOT x.indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) ORDER BY 1, 2"
    )


def drop_and_rebuild(table: str, rows: list[tuple[str, str, str]]) -> tuple[list[str], list[str]]:
    """The statements that drop what secondary_sql listed for `table`, and those that build it again after."""
    drop, build = [], []
    for kind, name, definition in rows:
        if kind == "c":
            drop.append(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            build.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        else:
            drop.append(f'DROP INDEX "{name}"')
            build.append(definition)
    return drop, build
