"""/muctieu (set or show a unit's targets), /kehoach (a unit's plan for the year: targets, tasks, progress) and
/caidat's households and adults (the denominators of targets)."""

from __future__ import annotations

from datetime import date

from tocns.core.context import Context, UserError
from tocns.core.permissions import MEMBERS
from tocns.core.registry import CommandGroup
from tocns.core.roles import Level, Role
from tocns.core.text import fold, grouped, vi_sort_key
from tocns.features.activity import store as activity_store
from tocns.features.org import store as org_store
from tocns.features.org.models import OrgUnit
from tocns.features.targets import store
from tocns.features.targets.access import may_set, named_unit, refusal
from tocns.features.targets.grammar import (
    POPULATION_USAGE,
    SHARE_LABELS,
    USAGE,
    PopulationSpec,
    TargetParseError,
    TargetSpec,
    parse_population,
    parse_target,
    split_even,
    split_weighted,
)
from tocns.features.targets.render import month_label, num, progress_lines, row_figures
from tocns.features.targets.service import unit_progress
from tocns.features.tasks.store import task_progress

COMMANDS = CommandGroup()
"""This feature's chat commands; `tocns.app` includes them in the registry."""

KEHOACH_USAGE = "/kehoach [năm] [tổ <tên> | xã <tên>]\nVí dụ: /kehoach, /kehoach 2027, /kehoach tổ Thôn 3"


async def _scopes(ctx: Context) -> list[OrgUnit]:
    if ctx.unit is not None:
        return [ctx.unit]
    return [unit for _m, unit in await org_store.memberships_of(ctx.session, ctx.person.id or 0)]


async def _unit(ctx: Context, level: str | None, name: str, usage: str) -> OrgUnit:
    if ctx.unit is None and not ctx.msg.is_private:
        # A group not bound to any unit: nothing here says whose plan it is.
        raise UserError(
            f"Lệnh /{ctx.command.name} dùng trong nhóm đã kết nối với tổ, xã/phường hoặc Sở, "
            f"hoặc trong tin nhắn riêng.\nCách dùng: {usage}"
        )
    if level is None:
        if ctx.unit is None:
            raise UserError(f"Trong tin nhắn riêng, ghi rõ đơn vị: tổ <tên> hoặc xã <tên>.\nCách dùng: {usage}")
        return ctx.unit
    return await named_unit(ctx.session, await _scopes(ctx), level, name, usage)


@COMMANDS.command(
    "muctieu",
    private=True,
    unit_scoped=True,
    aliases=("target",),
    vi_name="mục tiêu",
    roles=MEMBERS,
    summary="Đặt hoặc xem mục tiêu năm của đơn vị (cán bộ Sở: tỉnh, xã; lãnh đạo xã: các tổ)",
    usage=USAGE,
    order=45,
)
async def muctieu(ctx: Context) -> str:
    """Set a target (or split one across the commune's teams); without arguments show this year's targets."""
    catalogue = activity_store.to_catalogue(await activity_store.indicators(ctx.session))
    try:
        spec = parse_target(ctx.args, catalogue, ctx.today.year)
    except TargetParseError as exc:
        raise UserError(str(exc)) from exc
    if spec is None:
        return await _plan_text(ctx, await _unit(ctx, None, "", USAGE), ctx.today.year, tasks=False)
    unit = await _unit(ctx, spec.level, spec.unit_name, USAGE)
    memberships = await org_store.memberships_of(ctx.session, ctx.person.id or 0)
    indicator = next(i for i in await activity_store.indicators(ctx.session) if i.code == spec.indicator)
    lines: list[str] = []
    value = spec.value
    if value is not None or spec.share_of is not None:
        if not may_set(memberships, unit):
            raise UserError(refusal(unit) + " Chưa có gì được lưu.")
        value = await _value(ctx, unit, spec)
        await store.set_target(
            ctx.session, unit=unit, indicator=indicator, year=spec.year, month=spec.month, value=value,
            actor=ctx.person, now=ctx.now, share_of=spec.share_of, share_percent=spec.share_percent,
        )  # fmt: skip
        when = f"năm {spec.year}" + ("" if not spec.month else f", tháng {spec.month}")
        if value == 0:
            lines.append(f"Đã bỏ mục tiêu {indicator.name} {when} của {unit.name}.")
        else:
            share = f" ({spec.share_percent}% {SHARE_LABELS[spec.share_of]})" if spec.share_of else ""
            lines.append(
                f"Đã đặt mục tiêu {when} của {unit.name}: {indicator.name} {num(value)} {indicator.unit}{share}."
            )
    if spec.split is not None:
        if value is None:
            existing = await store.get_target(ctx.session, unit.id or 0, indicator.id or 0, spec.year, spec.month)
            if existing is None:
                raise UserError(
                    f"{unit.name} chưa có mục tiêu {indicator.name} năm {spec.year} để chia. "
                    f"Ghi cả con số: /muctieu {spec.year} {indicator.code} 1200 chia đều"
                )
            value = existing.value
        lines.append(await _split(ctx, unit, indicator, spec, value, memberships))
    return "\n".join(lines)


async def _value(ctx: Context, unit: OrgUnit, spec: TargetSpec) -> int:
    """The target's number: as typed, or the share of the unit's households or adults."""
    if spec.share_of is None or spec.share_percent is None:
        return spec.value or 0
    population = (await store.populations(ctx.session, [unit.id or 0])).get(unit.id or 0)
    base = (
        None if population is None else (population.households if spec.share_of == "households" else population.adults)
    )
    if not base:
        label = SHARE_LABELS[spec.share_of]
        key = "hộ" if spec.share_of == "households" else "người lớn"
        raise UserError(
            f"Chưa có số {label} của {unit.name} nên chưa tính được {spec.share_percent}% {label}. "
            f"Nhập trước: /caidat {key} <số>. Chưa có gì được lưu."
        )
    return max(1, round(base * spec.share_percent / 100))


async def _split(
    ctx: Context, unit: OrgUnit, indicator: object, spec: TargetSpec, value: int, memberships: list
) -> str:
    """Write the teams' targets from the unit's target (evenly or by households); all teams checked first."""
    from tocns.features.activity.models import Indicator

    assert isinstance(indicator, Indicator)
    teams = await _teams_to_split(ctx, unit, memberships)
    if spec.split == "households":
        shares = await _households_shares(ctx, teams, value)
    else:
        shares = split_even(value, [t.code for t in teams])
    for team in teams:
        await store.set_target(
            ctx.session, unit=team, indicator=indicator, year=spec.year, month=spec.month, value=shares[team.code],
            actor=ctx.person, now=ctx.now,
        )  # fmt: skip
    how = "theo số hộ" if spec.split == "households" else "đều"
    listing = ", ".join(f"{t.name} {num(shares[t.code])}" for t in teams)
    return f"Đã chia {num(value)} {indicator.unit} {indicator.name} {how} cho {len(teams)} tổ: {listing}."


async def _teams_to_split(ctx: Context, unit: OrgUnit, memberships: list) -> list[OrgUnit]:
    """The unit's teams in name order, refused when there is none or the sender may not set one of them."""
    teams = sorted(await store.teams_of(ctx.session, unit), key=lambda t: (vi_sort_key(t.name), t.code))
    if not teams:
        raise UserError(f"{unit.name} chưa có tổ nào để chia mục tiêu. Chưa có gì được lưu.")
    refused = [t for t in teams if not may_set(memberships, t)]
    if refused:
        raise UserError(refusal(refused[0]) + " Chưa có gì được lưu.")
    return teams


async def _households_shares(ctx: Context, teams: list[OrgUnit], value: int) -> dict[str, int]:
    """`value` over the teams in proportion to their households, refused when a team has no household count."""
    people = await store.populations(ctx.session, [t.id or 0 for t in teams])
    households = {t.code: population.households for t in teams if (population := people.get(t.id or 0))}
    missing = [t.name for t in teams if not households.get(t.code)]
    if missing:
        raise UserError(
            f"Chưa chia được theo số hộ: {len(missing)} tổ chưa có số hộ ({', '.join(missing[:8])}). "
            "Nhập số hộ bằng /caidat tổ <tên> hộ <số> hoặc chia đều. Chưa có gì được lưu."
        )
    return split_weighted(value, {t.code: households[t.code] or 0 for t in teams})


async def _plan_text(ctx: Context, unit: OrgUnit, year: int, tasks: bool = True) -> str:
    """The unit's targets of `year` with progress (and, for /kehoach, the month-by-month task plan)."""
    as_of = min(max(ctx.today, date(year, 1, 1)), date(year, 12, 31))
    progress = await unit_progress(ctx.session, unit, as_of)
    lines = [f"📅 KẾ HOẠCH NĂM {year}: {unit.name.upper()} (mã {unit.code})"]
    if progress.rows:
        lines += progress_lines(progress, every_name=unit.level != Level.PROVINCE, limit=10)
        monthly = [r for r in progress.rows if r.depth == 0 and r.month]
        if monthly:
            lines += ["", "Mục tiêu theo tháng:"]
            lines += [f"• {month_label(r.month)}, {r.indicator_name}: {row_figures(r)}" for r in monthly]
    else:
        lines += ["", f"Chưa có mục tiêu năm {year}. Đặt bằng: /muctieu {year} vneid 1200"]
    if tasks:
        plan = await task_progress(ctx.session, unit, date(year, 1, 1), date(year, 12, 31))
        lines += ["", "Việc theo tháng (/giaoviec thang):"]
        months: dict[int, list[int]] = {}
        for task in plan:
            counts = months.setdefault(task.due_date.month, [0, 0])
            counts[0] += 1
            counts[1] += 1 if task.total and task.done == task.total else 0
        if not months:
            lines.append("• Chưa có việc nào trong năm.")
        for month in sorted(months):
            total, done = months[month]
            lines.append(f"• Tháng {month}: {total} việc, {done} hoàn thành")
    return "\n".join(lines)


@COMMANDS.command(
    "kehoach",
    private=True,
    unit_scoped=True,
    anonymous=True,
    aliases=("plan",),
    vi_name="kế hoạch",
    roles=MEMBERS,
    summary="Xem kế hoạch năm của đơn vị: mục tiêu, tiến độ, việc theo tháng",
    usage=KEHOACH_USAGE,
    order=46,
)
async def kehoach(ctx: Context) -> str:
    """Show a unit's plan for a year: targets with progress and the monthly task plan."""
    words = ctx.args.split()
    year = ctx.today.year
    if words and words[0].isdigit() and len(words[0]) == 4:
        year = int(words[0])
        words = words[1:]
    if not 2000 <= year <= ctx.today.year + 5:
        raise UserError(f"Năm {year} không hợp lệ.\nCách dùng: {KEHOACH_USAGE}")
    level = {"to": Level.TEAM, "xa": Level.COMMUNE, "phuong": Level.COMMUNE}.get(fold(words[0])) if words else None
    if words and level is None:
        raise UserError(f"Không hiểu '{' '.join(words)}'.\nCách dùng: {KEHOACH_USAGE}")
    unit = await _unit(ctx, level, " ".join(words[1:]), KEHOACH_USAGE)
    if level is not None and len(words) < 2:
        raise UserError(f"Thiếu tên tổ hoặc xã.\nCách dùng: {KEHOACH_USAGE}")
    return await _plan_text(ctx, unit, year)


async def population_setting(ctx: Context) -> str | None:
    """`/caidat [tổ X] hộ N [người lớn M]`: save a unit's households and adults; None when /caidat asks otherwise."""
    try:
        population = parse_population(ctx.args)
    except TargetParseError as exc:
        raise UserError(str(exc)) from exc
    if population is None:
        return None
    return await _set_population(ctx, population)


async def _set_population(ctx: Context, spec: PopulationSpec) -> str:
    """Save a unit's denominators (the chat's unit or a team or commune named)."""
    if spec.level is None:
        unit = ctx.unit
        if unit is None:
            raise UserError(f"Ghi rõ đơn vị: /caidat tổ <tên> hộ <số>.\nCách dùng: {POPULATION_USAGE}")
    else:
        unit = await named_unit(ctx.session, await _scopes(ctx), spec.level, spec.unit_name, POPULATION_USAGE)
    memberships = await org_store.memberships_of(ctx.session, ctx.person.id or 0)
    # The same authority as targets, and a commune's leaders for their own commune too.
    if not may_set(memberships, unit) and not (
        unit.level == Level.COMMUNE and any(m.role == Role.COMMUNE_LEADER and u.id == unit.id for m, u in memberships)
    ):
        raise UserError(f"Bạn không có quyền đổi số hộ, số người của {unit.name}. Chưa có gì được lưu.")
    row = await store.set_population(
        ctx.session, unit, households=spec.households, adults=spec.adults, actor=ctx.person, now=ctx.now
    )
    figures = []
    if row.households is not None:
        figures.append(f"{grouped(row.households)} hộ")
    if row.adults is not None:
        figures.append(f"{grouped(row.adults)} người trưởng thành")
    return f"Đã lưu {unit.name}: {', '.join(figures)}."
