"""Checking and applying a targets sheet: every row checked first; any problem and nothing is written."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.core.text import fold, grouped
from tocns.features.activity import store as activity_store
from tocns.features.activity.models import Indicator
from tocns.features.org import store as org_store
from tocns.features.org.models import OrgUnit
from tocns.features.targets import store
from tocns.features.targets.grammar import MAX_POPULATION, MAX_TARGET, MAX_YEARS_AHEAD
from tocns.features.targets.sheet import TargetRow


def _int(text: str, low: int, high: int) -> int | None:
    cleaned = text.replace(".", "").replace(",", "").replace(" ", "")
    if not cleaned.lstrip("-").isdigit():
        return None
    value = int(cleaned)
    return value if low <= value <= high else None


Target = tuple[Indicator, int, int, int]
"""A row's target: indicator, year, month (0: the whole year), value."""


@dataclass(frozen=True)
class _Plan:
    """What one checked row writes: a target (or none) and the unit's denominators (None: unchanged)."""

    unit: OrgUnit
    target: Target | None
    households: int | None
    adults: int | None


def _target_of(row: TargetRow, by_key: dict[str, Indicator], this_year: int) -> tuple[Target | None, list[str]]:
    """The row's target (None when it sets none) and every problem with it."""
    if not (row.value or row.indicator):
        return None, []
    where = f"Dòng {row.number}"
    indicator = by_key.get(fold(row.indicator))
    year = _int(row.year, this_year, this_year + MAX_YEARS_AHEAD)
    month = _int(row.month or "0", 0, 12)
    value = _int(row.value, 0, MAX_TARGET)
    problems = []
    if indicator is None:
        problems.append(f"{where}: không có chỉ tiêu {row.indicator!r}.")
    if year is None:
        problems.append(f"{where}: năm {row.year!r} không hợp lệ (từ {this_year} đến {this_year + 5}).")
    if month is None:
        problems.append(f"{where}: tháng {row.month!r} không hợp lệ (1-12, bỏ trống là cả năm).")
    if value is None:
        problems.append(f"{where}: mục tiêu {row.value!r} không hợp lệ (số từ 0 đến {grouped(MAX_TARGET)}).")
    if indicator is None or year is None or month is None or value is None:
        return None, problems
    return (indicator, year, month, value), []


def _population_of(row: TargetRow) -> tuple[int | None, int | None, list[str]]:
    """The row's households and adults (None: left empty) and the problem when one is not a valid count."""
    households = _int(row.households, 0, MAX_POPULATION) if row.households else None
    adults = _int(row.adults, 0, MAX_POPULATION) if row.adults else None
    if (row.households and households is None) or (row.adults and adults is None):
        return None, None, [f"Dòng {row.number}: số hộ/số người {row.households or row.adults!r} không hợp lệ."]
    return households, adults, []


async def _plan_of(
    session: AsyncSession, row: TargetRow, by_key: dict[str, Indicator], this_year: int
) -> tuple[_Plan | None, list[str]]:
    """What the row writes, or its problems (the unit first, then the target, then the denominators)."""
    unit = await org_store.get_unit_by_code(session, row.unit) if row.unit else None
    if unit is None:
        return None, [f"Dòng {row.number}: không có đơn vị mã {row.unit!r}."]
    target, problems = _target_of(row, by_key, this_year)
    if problems:
        return None, problems
    households, adults, problems = _population_of(row)
    if problems:
        return None, problems
    return _Plan(unit, target, households, adults), []


async def _write(session: AsyncSession, plans: list[_Plan], actor_label: str, now: datetime) -> tuple[int, int]:
    """Write the checked rows, audited; how many targets and how many units' denominators were written."""
    targets = populations = 0
    for plan in plans:
        if plan.target is not None:
            indicator, year, month, value = plan.target
            await store.set_target(
                session, unit=plan.unit, indicator=indicator, year=year, month=month, value=value, actor=None,
                now=now, actor_label=actor_label,
            )  # fmt: skip
            targets += 1
        if plan.households is not None or plan.adults is not None:
            await store.set_population(
                session, plan.unit, households=plan.households, adults=plan.adults, actor=None, now=now,
                actor_label=actor_label,
            )  # fmt: skip
            populations += 1
    return targets, populations


async def apply_rows(
    session: AsyncSession, rows: list[TargetRow], actor_label: str, now: datetime, this_year: int
) -> tuple[list[str], tuple[int, int]]:
    """Check every row, then (only if none has a problem) write targets and denominators, audited."""
    indicators = await activity_store.indicators(session)
    by_key = {fold(i.code): i for i in indicators} | {fold(i.name): i for i in indicators}
    problems: list[str] = []
    plans: list[_Plan] = []
    for row in rows:
        plan, found = await _plan_of(session, row, by_key, this_year)
        problems += found
        if plan is not None:
            plans.append(plan)
    if problems:
        return problems, (0, 0)
    return [], await _write(session, plans, actor_label, now)
