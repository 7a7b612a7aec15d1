"""The statements that drop a table's secondary indexes before a bulk insert and build them again after it."""

from __future__ import annotations

import pytest

from tocns.db.bulk import drop_and_rebuild, secondary_sql


def test_a_unique_constraint_goes_through_alter_table_and_an_index_through_its_own_definition() -> None:
    drop, build = drop_and_rebuild(
        "rollup_team_day",
        [
            ("c", "uq_key", "UNIQUE (org_unit_id, day)"),
            ("i", "ix_cover", "CREATE INDEX ix_cover ON public.rollup_team_day USING btree (day)"),
        ],
    )
    assert drop == ['ALTER TABLE rollup_team_day DROP CONSTRAINT "uq_key"', 'DROP INDEX "ix_cover"']
    assert build == [
        'ALTER TABLE rollup_team_day ADD CONSTRAINT "uq_key" UNIQUE (org_unit_id, day)',
        "CREATE INDEX ix_cover ON public.rollup_team_day USING btree (day)",
    ]


@pytest.mark.parametrize("name", ["rollup; DROP TABLE x", "Rollup", "", "a b"])
def test_only_a_plain_table_name_is_written_into_the_catalogue_query(name: str) -> None:
    with pytest.raises(ValueError):
        secondary_sql(name)
