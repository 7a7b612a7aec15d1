"""Progress towards targets: the one computation every consumer reads (reports, digest, workbook, API, dashboard).

`unit_progress(session, unit, as_of)` gives, for `unit` and every unit below it with a target in as_of's year,
per indicator: the year-to-date total of live records, the target, the percentage, the linear-pace expectation
for as_of and whether the unit is on track. It reads the records (through the trigger-kept monthly totals), so
a correction (/sua, /xoa) moves progress at once.
"""

from __future__ import annotations

import calendar
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.core.text import vi_sort_key
from tocns.features.org.models import OrgUnit
from tocns.features.targets import store
from tocns.features.targets.models import WHOLE_YEAR


@dataclass
class ProgressRow:
    """One unit's progress on one indicator: year (month 0) or one month."""

    unit_code: str
    unit_name: str
    unit_level: str
    parent_name: str
    depth: int  # 0: the unit asked for; 1: its children (a commune's teams); 2: grandchildren...
    indicator: str
    indicator_name: str
    indicator_unit: str
    month: int
    target: int
    done: int
    expected: int
    percent: float | None
    on_track: bool
    households: int | None = None
    adults: int | None = None
    share_of: str | None = None
    share_percent: int | None = None
    # done / households when the unit's households are known (coverage as a share of households).
    household_share: float | None = None


@dataclass
class Progress:
    """Progress of a unit and the units below it for one year, as of one day."""

    unit_code: str
    year: int
    as_of: date
    rows: list[ProgressRow] = field(default_factory=list)

    def yearly(self, depth: int) -> list[ProgressRow]:
        """The yearly rows of units at `depth` below the unit (0: the unit itself)."""
        return [r for r in self.rows if r.depth == depth and r.month == WHOLE_YEAR]

    def behind(self, depth: int = 1) -> list[ProgressRow]:
        """Yearly rows at `depth` that are behind the linear pace, furthest behind first."""
        late = [r for r in self.yearly(depth) if not r.on_track]
        return sorted(late, key=lambda r: (r.percent or 0.0, vi_sort_key(r.unit_name), r.indicator))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (the API and the dashboard)."""
        data = asdict(self)
        data["as_of"] = self.as_of.isoformat()
        return data


def pace(target: int, year: int, month: int, as_of: date) -> int:
    """What a unit should have reached by as_of at a steady pace: the elapsed share of the year (or the month)."""
    if month == WHOLE_YEAR:
        start, end = date(year, 1, 1), date(year, 12, 31)
    else:
        start = date(year, month, 1)
        end = date(year, month, calendar.monthrange(year, month)[1])
    if as_of < start:
        return 0
    if as_of >= end:
        return target
    elapsed = (as_of - start).days + 1
    return round(target * elapsed / ((end - start).days + 1))


async def unit_progress(session: AsyncSession, unit: OrgUnit, as_of: date) -> Progress:
    """Progress of `unit` and the units below it towards their targets of as_of's year, as of `as_of`."""
    year = as_of.year
    progress = Progress(unit_code=unit.code, year=year, as_of=as_of)
    targets = await store.targets_under(session, unit, year)
    if not targets:
        return progress
    indicator_ids = sorted({i.id or 0 for _t, _u, i in targets})
    done: dict[tuple[int, int], int] = {}
    for _team, path, indicator_id, quantity in await store.team_totals(session, unit, indicator_ids, as_of):
        for part in path.strip("/").split("/"):
            key = (int(part), indicator_id)
            done[key] = done.get(key, 0) + quantity
    monthly_units = {u.id or 0: u for t, u, _i in targets if t.month != WHOLE_YEAR}
    by_month: dict[int, dict[tuple[int, int], int]] = {}
    for unit_id, target_unit in monthly_units.items():
        by_month[unit_id] = await store.month_totals(session, target_unit, indicator_ids, year)
    units = {u.id or 0: u for _t, u, _i in targets}
    parents = {u.parent_id for u in units.values() if u.parent_id}
    parent_names = await store.unit_names(session, [p for p in parents if p])
    people = await store.populations(session, list(units))
    for target, target_unit, indicator in targets:
        uid = target_unit.id or 0
        if target.month == WHOLE_YEAR:
            reached = done.get((uid, indicator.id or 0), 0)
        else:
            reached = by_month.get(uid, {}).get((indicator.id or 0, target.month), 0)
        expected = pace(target.value, year, target.month, as_of)
        population = people.get(uid)
        households = population.households if population else None
        progress.rows.append(
            ProgressRow(
                unit_code=target_unit.code,
                unit_name=target_unit.name,
                unit_level=target_unit.level,
                parent_name=parent_names.get(target_unit.parent_id or 0, ""),
                depth=target_unit.depth - unit.depth,
                indicator=indicator.code,
                indicator_name=indicator.name,
                indicator_unit=indicator.unit,
                month=target.month,
                target=target.value,
                done=reached,
                expected=expected,
                percent=reached / target.value if target.value else None,
                on_track=reached >= expected,
                households=households,
                adults=population.adults if population else None,
                share_of=target.share_of,
                share_percent=target.share_percent,
                household_share=reached / households if households else None,
            )
        )
    progress.rows.sort(
        key=lambda r: (r.depth, r.month, vi_sort_key(r.parent_name), vi_sort_key(r.unit_name), r.indicator)
    )
    return progress
