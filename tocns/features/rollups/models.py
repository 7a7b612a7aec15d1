"""Rollup tables kept by database triggers on the record tables (0021, 0026): live totals per team or commune, day."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


class TeamDayTotal(SQLModel, table=True):
    """Live quantity of one indicator logged by one team for one activity day.

    No foreign keys on purpose: the triggers write it from inside the record tables' own statements.
    """

    __tablename__ = "rollup_team_day"
    __table_args__ = (
        # The country's rows of a period through the day-led covering index; a commune's or a province's through
        # the team-led one (the key has no quantity: PostgreSQL would scan the whole country's period instead).
        UniqueConstraint("org_unit_id", "day", "indicator_id", name="uq_rollup_team_day_key"),
        Index("ix_rollup_team_day_cover", "day", "org_unit_id", "indicator_id", "quantity"),
        Index("ix_rollup_team_day_team_cover", "org_unit_id", "day", "indicator_id", "quantity"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_unit_id: int
    day: date
    indicator_id: int
    quantity: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class TeamDayRecords(SQLModel, table=True):
    """Live records of one team for one activity day, and how many of them were logged on time."""

    __tablename__ = "rollup_team_day_records"
    __table_args__ = (
        UniqueConstraint("org_unit_id", "day", name="uq_rollup_team_day_records_key"),
        Index("ix_rollup_team_day_records_cover", "day", "org_unit_id", "records", "timely_records"),
        Index("ix_rollup_team_day_records_team_cover", "org_unit_id", "day", "records", "timely_records"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_unit_id: int
    day: date
    records: int = 0
    timely_records: int = 0


class CommuneDayTotal(SQLModel, table=True):
    """Live quantity of one indicator logged by the active teams directly under one unit (a commune) for one day.

    The whole country's report sums these (a few thousand communes) instead of its teams' rows (tens of thousands);
    kept with rollup_team_day by the same triggers, and moved when a team changes commune or is (de)activated.
    """

    __tablename__ = "rollup_commune_day"
    __table_args__ = (Index("ix_rollup_commune_day_cover", "day", "org_unit_id", "indicator_id", "quantity"),)

    org_unit_id: int = Field(primary_key=True)
    day: date = Field(primary_key=True)
    indicator_id: int = Field(primary_key=True)
    quantity: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class CommuneDayRecords(SQLModel, table=True):
    """Live records of the active teams directly under one unit (a commune) for one day, and the timely ones."""

    __tablename__ = "rollup_commune_day_records"
    __table_args__ = (Index("ix_rollup_commune_day_records_cover", "day", "org_unit_id", "records", "timely_records"),)

    org_unit_id: int = Field(primary_key=True)
    day: date = Field(primary_key=True)
    records: int = 0
    timely_records: int = 0
