"""Checking and applying a targets sheet: every row checked first; any problem and nothing is written."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.core.text import fold
from tocns.features.activity import store as activity_store
from tocns.features.org import store as org_store
from tocns.features.targets import store
from tocns.features.targets.grammar import MAX_POPULATION, MAX_TARGET, MAX_YEARS_AHEAD
from tocns.features.targets.sheet import TargetRow


def _int(text: str, low: int, high: int) -> int | None:
    cleaned = text.replace(".", "").replace(",", "").replace(" ", "")
    if not cleaned.lstrip("-").isdigit():
        return None
    value = int(cleaned)
    return value if low <= value <= high else None


async def apply_rows(
    session: AsyncSession, rows: list[TargetRow], actor_label: str, now: datetime, this_year: int
) -> tuple[list[str], tuple[int, int]]:
    """Check every row, then (only if none has a problem) write targets and denominators, audited."""
    indicators = await activity_store.indicators(session)
    by_key = {fold(i.code): i for i in indicators} | {fold(i.name): i for i in indicators}
    problems: list[str] = []
    plans = []
    for row in rows:
        where = f"Dòng {row.number}"
        unit = await org_store.get_unit_by_code(session, row.unit) if row.unit else None
        if unit is None:
            problems.append(f"{where}: không có đơn vị mã {row.unit!r}.")
            continue
        target = None
        if row.value or row.indicator:
            indicator = by_key.get(fold(row.indicator))
            year = _int(row.year, this_year, this_year + MAX_YEARS_AHEAD)
            month = _int(row.month or "0", 0, 12)
            value = _int(row.value, 0, MAX_TARGET)
            if indicator is None:
                problems.append(f"{where}: không có chỉ tiêu {row.indicator!r}.")
            if year is None:
                problems.append(f"{where}: năm {row.year!r} không hợp lệ (từ {this_year} đến {this_year + 5}).")
            if month is None:
                problems.append(f"{where}: tháng {row.month!r} không hợp lệ (1-12, bỏ trống là cả năm).")
            if value is None:
                problems.append(f"{where}: mục tiêu {row.value!r} không hợp lệ (số từ 0 đến {MAX_TARGET:,}).")
            if indicator is None or year is None or month is None or value is None:
                continue
            target = (indicator, year, month, value)
        households = _int(row.households, 0, MAX_POPULATION) if row.households else None
        adults = _int(row.adults, 0, MAX_POPULATION) if row.adults else None
        if (row.households and households is None) or (row.adults and adults is None):
            problems.append(f"{where}: số hộ/số người {row.households or row.adults!r} không hợp lệ.")
            continue
        plans.append((unit, target, households, adults))
    if problems:
        return problems, (0, 0)
    counts = [0, 0]
    for unit, target, households, adults in plans:
        if target is not None:
            indicator, year, month, value = target
            await store.set_target(
                session, unit=unit, indicator=indicator, year=year, month=month, value=value, actor=None, now=now,
                actor_label=actor_label,
            )  # fmt: skip
            counts[0] += 1
        if households is not None or adults is not None:
            await store.set_population(
                session, unit, households=households, adults=adults, actor=None, now=now, actor_label=actor_label
            )
            counts[1] += 1
    return [], (counts[0], counts[1])
