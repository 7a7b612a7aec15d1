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
    indicator_ids = sorted({t.indicator_id for t in targets})
    done: dict[tuple[int, int], int] = {}
    for _team, path, indicator_id, quantity in await store.team_totals(session, unit, indicator_ids, as_of):
        for part in path.strip("/").split("/"):
            key = (int(part), indicator_id)
            done[key] = done.get(key, 0) + quantity
    by_month: dict[int, dict[tuple[int, int], int]] = {}
    for line in targets:
        if line.month != WHOLE_YEAR and line.unit_id not in by_month:
            # Monthly targets are few (a unit's own plan): one small query per unit that has them.
            path = await store.unit_path(session, line.unit_id)
            by_month[line.unit_id] = await store.month_totals(session, path, indicator_ids, year)
    for t in targets:
        if t.month == WHOLE_YEAR:
            reached = done.get((t.unit_id, t.indicator_id), 0)
        else:
            reached = by_month.get(t.unit_id, {}).get((t.indicator_id, t.month), 0)
        expected = pace(t.value, year, t.month, as_of)
        households = t.households
        progress.rows.append(
            ProgressRow(
                unit_code=t.unit_code,
                unit_name=t.unit_name,
                unit_level=t.unit_level,
                parent_name=t.parent_name or "",
                depth=t.depth - unit.depth,
                indicator=t.indicator_code,
                indicator_name=t.indicator_name,
                indicator_unit=t.indicator_unit,
                month=t.month,
                target=t.value,
                done=reached,
                expected=expected,
                percent=reached / t.value if t.value else None,
                on_track=reached >= expected,
                households=households,
                adults=t.adults,
                share_of=t.share_of,
                share_percent=t.share_percent,
                household_share=reached / households if households else None,
            )
        )
    # Names repeat ("Thôn 1" in every commune): fold each once.
    keys: dict[str, Any] = {}

    def name_key(name: str) -> Any:
        if name not in keys:
            keys[name] = vi_sort_key(name)
        return keys[name]

    progress.rows.sort(key=lambda r: (r.depth, r.month, name_key(r.parent_name), name_key(r.unit_name), r.indicator))
    return progress
