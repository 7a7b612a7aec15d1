"""Tables for targets: a goal per unit, indicator and year (or month), the units' denominators, and the monthly
totals of live activity that progress is read from (kept by database triggers, see migration 0015)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from tocns.core.clock import utcnow

WHOLE_YEAR = 0
"""The `month` of a yearly target (months are 1-12): a number, not NULL, so the unique key holds on every database."""


class Target(SQLModel, table=True):
    """How much of one indicator a unit should reach in a year (month 0) or in one month."""

    __tablename__ = "target"
    __table_args__ = (UniqueConstraint("org_unit_id", "indicator_id", "year", "month", name="uq_target_key"),)

    id: int | None = Field(default=None, primary_key=True)
    org_unit_id: int = Field(foreign_key="org_unit.id", index=True)
    indicator_id: int = Field(foreign_key="indicator.id")
    year: int = Field(index=True)
    month: int = WHOLE_YEAR
    value: int
    # "households" or "adults" when the target was written as a share of them ("80% hộ"); the percent typed.
    share_of: str | None = Field(default=None, max_length=20)
    share_percent: int | None = None
    set_by_person_id: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime | None = None


class UnitPopulation(SQLModel, table=True):
    """A unit's denominators: households and adults (a team's village, a commune)."""

    __tablename__ = "unit_population"

    id: int | None = Field(default=None, primary_key=True)
    org_unit_id: int = Field(foreign_key="org_unit.id", unique=True)
    households: int | None = None
    adults: int | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class ActivityMonthTotal(SQLModel, table=True):
    """Live quantity per team, indicator and month (yyyymm), kept by triggers on the record tables.

    No foreign keys on purpose: the triggers write it from inside the record tables' own statements.
    """

    __tablename__ = "activity_month_total"
    __table_args__ = (
        UniqueConstraint("org_unit_id", "indicator_id", "month", name="uq_activity_month_total_key"),
        # Covering: a year of one indicator is read from the index alone (ten times faster on SQLite).
        Index("ix_activity_month_total_cover", "indicator_id", "month", "org_unit_id", "quantity"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_unit_id: int
    indicator_id: int
    month: int
    quantity: int = 0
