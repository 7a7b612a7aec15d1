"""/ghi, /sua, /xoa, /cuatoi and /chitieu: logging field work with echo receipts and corrections."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import timedelta

from tocns.core.context import Context, UserError
from tocns.core.dates import day_label, fmt_date
from tocns.core.parsing import MAX_ID, parse_id
from tocns.core.period import USAGE as PERIOD_USAGE
from tocns.core.period import PeriodError, parse_period
from tocns.core.permissions import EVERYONE, MEMBERS
from tocns.core.registry import CommandGroup
from tocns.core.roles import Role
from tocns.core.text import person_name, quoted
from tocns.features.activity import evidence_store
from tocns.features.activity import store as activity_store
from tocns.features.activity.grammar import TAGGED_PERSON, USAGE, LogParseError, ParsedLog, parse_log
from tocns.features.activity.models import Indicator
from tocns.features.org import store as org_store
from tocns.features.org.models import OrgUnit

COMMANDS = CommandGroup()
"""This feature's chat commands; `tocns.app` includes them in the registry."""

DOUBLE_TAP_WINDOW = timedelta(minutes=2)
"""An identical /ghi from the same person within this window is a double tap, not a second piece of work."""


def item_lines(view: activity_store.RecordView, parsed: ParsedLog | None = None) -> list[str]:
    """One '- name: quantity unit' line per item, in the indicator's unit (the grammar refuses a unit of another
    kind, so a synonym typed, "hs" for "hồ sơ", needs no remark)."""
    del parsed  # kept for callers; units are checked when the message is read
    return [f"- {ind.name} ({ind.code}): {item.quantity} {ind.unit}" for item, ind in view.items]


async def _people(ctx: Context) -> dict[str, str]:
    """The people the platform marked in the message (span as typed -> name for the note), on every platform:
    a tapped name, an @username, a Zalo OA tag `[@id]` (named from the people the bot knows)."""
    people: dict[str, str] = {}
    for mention in ctx.msg.mentions:
        if not mention.text:
            continue
        name = mention.display_name
        if not name and mention.user_id:
            person = await org_store.get_person(ctx.session, ctx.msg.platform, mention.user_id)
            name = person.display_name if person is not None else None
        people[mention.text] = name or (f"@{mention.username}" if mention.username else TAGGED_PERSON)
    return people


async def _parse(ctx: Context, text: str) -> tuple[ParsedLog, dict[str, Indicator]]:
    rows = await activity_store.indicators(ctx.session)
    try:
        parsed = parse_log(
            text,
            activity_store.to_catalogue(rows),
            ctx.today,
            ctx.settings.logging_edit_window_days,
            people=await _people(ctx),
        )
    except LogParseError as exc:
        raise UserError(exc.message) from None
    return parsed, {r.code: r for r in rows}


async def _team(ctx: Context) -> OrgUnit:
    team = await org_store.team_of(ctx.session, ctx.person.id or 0, ctx.unit)
    if team is None:
        where = f" trong {ctx.unit.name}" if ctx.unit is not None else ""
        raise UserError(
            f"Bạn chưa ở tổ nào{where}, nên chưa ghi được kết quả. "
            "Hãy gõ /thamgia <tên tổ> trong nhóm của xã/phường trước, ví dụ: /thamgia thon 3. Chưa có gì được ghi."
        )
    return team


async def _team_label(ctx: Context, team: OrgUnit) -> str:
    # In a commune's group the team's commune is the chat's own unit, already in hand (no lookup on the hot path).
    if team.parent_id is None:
        return team.name
    known = ctx.unit if ctx.unit is not None and ctx.unit.id == team.parent_id else None
    parent = known or await org_store.get_unit(ctx.session, team.parent_id)
    return f"{team.name} ({parent.name})" if parent else team.name


@COMMANDS.command(
    "ghi",
    aliases=("log",),
    vi_name="ghi",
    roles=EVERYONE,
    summary="Ghi kết quả làm việc: chỉ tiêu và số lượng",
    usage=USAGE.replace("Cách ghi: ", ""),
    order=20,
)
async def ghi(ctx: Context) -> str:
    """Record one message's indicators and quantities for the sender's team, and echo what was recorded."""
    team = await _team(ctx)
    if not ctx.args.strip():
        raise UserError(f"Hãy ghi chỉ tiêu và số lượng.\n{USAGE}")
    parsed, by_code = await _parse(ctx, ctx.args)
    activity_date = parsed.activity_date or ctx.today
    items = [(by_code[i.code], i.quantity) for i in parsed.items]
    # A double tap on a slow network sends the same message twice under two ids: the platform's redelivery key
    # cannot see it, so the same person's identical record within a short window is pointed to, not repeated.
    first, view = await activity_store.record_once(
        ctx.session,
        person=ctx.person,
        team=team,
        activity_date=activity_date,
        items=items,
        note=parsed.note,
        message_text=ctx.msg.text,
        photo=ctx.msg.photo,
        platform=ctx.msg.platform,
        chat_id=ctx.msg.chat_id,
        message_id=ctx.msg.message_id,
        now=ctx.now,
        since=ctx.now - DOUBLE_TAP_WINDOW,
    )
    if first is not None or view is None:
        return (
            f"Bạn vừa ghi đúng nội dung này (#{first}), nên lần này không ghi thêm. "
            f"Nếu đây thật là một lần làm việc khác, hãy gửi lại sau "
            f"{DOUBLE_TAP_WINDOW.seconds // 60} phút hoặc thêm ghi chú để phân biệt (ví dụ: 'ở thôn 4'). "
            f"Xem lại: /cuatoi"
        )
    record_id = view.record.id
    if ctx.msg.photo and record_id is not None:
        # Fetched from the platform by the keep_photos job, off this transaction (docs/reports.md, "Photo evidence").
        await evidence_store.add(ctx.session, record_id, ctx.msg.platform, ctx.msg.photo, ctx.now)
    lines = [
        f"Đã ghi #{record_id} cho {await _team_label(ctx, team)}, ngày {day_label(activity_date)}, "
        f"người ghi {person_name(ctx.person.display_name)}:",
        *item_lines(view, parsed),
    ]
    if parsed.note:
        lines.append(f"Ghi chú: {quoted(parsed.note)}")
    if ctx.msg.photo:
        lines.append("Ảnh minh chứng: đã nhận, bot đang tải về để lưu (nếu không lưu được, bot sẽ báo tại đây).")
    lines.append(f"Sai? Sửa: /sua {record_id} <nội dung mới> · Xóa: /xoa {record_id}")
    return "\n".join(lines)


async def _editable(ctx: Context, verb: str) -> tuple[activity_store.RecordView, str]:
    head, _, rest = ctx.args.strip().partition(" ")
    number = parse_id(head)
    if number is None:
        example = f"/{verb} 12 vneid 5, dvc 3" if verb == "sua" else f"/{verb} 12"
        form = f"/{verb} <số phiếu> <nội dung mới>" if verb == "sua" else f"/{verb} <số phiếu>"
        raise UserError(
            f"Thiếu số phiếu cần {'sửa' if verb == 'sua' else 'xóa'}. Cách dùng: {form}\nVí dụ: {example}\n"
            "Số phiếu có trong tin bot trả lời khi ghi (#12), hoặc xem bằng /cuatoi."
        )
    record_id = str(number)
    view = await activity_store.get_record(ctx.session, number) if number <= MAX_ID else None
    if view is None or view.record.deleted_at is not None:
        raise UserError(f"Không có phiếu #{record_id} (hoặc phiếu đã bị xóa). Xem các phiếu của bạn bằng /cuatoi.")
    if not await _may_change(ctx, view):
        raise UserError(
            f"Bạn không được {'sửa' if verb == 'sua' else 'xóa'} phiếu #{record_id}: người ghi chỉ sửa/xóa được "
            f"phiếu của mình trong {ctx.settings.logging_edit_window_days} ngày; tổ trưởng và cấp trên sửa được "
            "phiếu của tổ mình bất cứ lúc nào."
        )
    return view, rest.strip()


async def _may_change(ctx: Context, view: activity_store.RecordView) -> bool:
    record = view.record
    if record.person_id == ctx.person.id and (ctx.today - record.activity_date).days <= (
        ctx.settings.logging_edit_window_days
    ):
        return True
    team = await org_store.get_unit(ctx.session, record.org_unit_id)
    if team is None:
        return False
    for membership, unit in await org_store.memberships_of(ctx.session, ctx.person.id or 0):
        role = Role(membership.role)
        if role == Role.ADMIN or (role.rank >= Role.TEAM_LEADER.rank and team.path.startswith(unit.path)):
            return True
    return False


@COMMANDS.command(
    "sua",
    aliases=("edit",),
    vi_name="sửa",
    roles=MEMBERS,
    summary="Sửa một phiếu đã ghi (thay toàn bộ nội dung)",
    usage="/sua <số phiếu> <nội dung mới>\nVí dụ: /sua 12 vneid 5, dvc 3",
    order=21,
)
async def sua(ctx: Context) -> str:
    """Replace a record's items with a new content, keeping the old version in the audit log."""
    view, content = await _editable(ctx, "sua")
    if not content:
        raise UserError(
            f"Thiếu nội dung mới cho phiếu #{view.record.id}. Cách dùng: /sua <số phiếu> <nội dung mới>\n"
            f"Ví dụ: /sua {view.record.id} vneid 5, dvc 3"
        )
    parsed, by_code = await _parse(ctx, content)
    before_lines = item_lines(view)
    before_date = view.record.activity_date
    new_date = parsed.activity_date or before_date
    updated = await activity_store.replace_items(
        ctx.session,
        view,
        items=[(by_code[i.code], i.quantity) for i in parsed.items],
        activity_date=new_date,
        note=parsed.note,
        message_text=ctx.msg.text,
        actor=ctx.person,
        now=ctx.now,
    )
    lines = [
        f"Đã sửa phiếu #{view.record.id}.",
        f"Trước (ngày {day_label(before_date)}):",
        *before_lines,
        f"Sau (ngày {day_label(new_date)}):",
        *item_lines(updated, parsed),
    ]
    if parsed.note:
        lines.append(f"Ghi chú: {quoted(parsed.note)}")
    return "\n".join(lines)


@COMMANDS.command(
    "xoa",
    aliases=("delete",),
    vi_name="xóa",
    roles=MEMBERS,
    summary="Xóa một phiếu ghi nhầm",
    usage="/xoa <số phiếu>\nVí dụ: /xoa 12",
    order=22,
)
async def xoa(ctx: Context) -> str:
    """Soft-delete a record; the audit log keeps it."""
    view, _rest = await _editable(ctx, "xoa")
    lines = [
        f"Đã xóa phiếu #{view.record.id} (ngày {day_label(view.record.activity_date)}).",
        "Trước:",
        *item_lines(view),
        "Sau: không còn tính vào báo cáo.",
    ]
    await activity_store.soft_delete(ctx.session, view, actor=ctx.person, now=ctx.now)
    return "\n".join(lines)


@COMMANDS.command(
    "cuatoi",
    private=True,
    aliases=("mine",),
    vi_name="của tôi",
    roles=EVERYONE,
    summary="Các phiếu bạn đã ghi tuần này và tổng cộng",
    usage=f"/cuatoi [kỳ]\nKỳ: {PERIOD_USAGE}\nVí dụ: /cuatoi, /cuatoi tuần trước, /cuatoi tháng 10",
    order=23,
)
async def cuatoi(ctx: Context) -> str:
    """List this person's records of a period (default: this week, Monday to Sunday) with totals per indicator."""
    try:
        chosen = parse_period(ctx.args, ctx.today)
    except PeriodError as exc:
        raise UserError(f"{exc}\nCách dùng: /cuatoi [kỳ], ví dụ: /cuatoi tuần trước") from exc
    views = await activity_store.records_of_person(ctx.session, ctx.person.id or 0, chosen.start, chosen.end)
    period = chosen.label
    if not views:
        return f"Bạn chưa ghi phiếu nào trong {period}. Ghi bằng: /ghi vneid 5"
    lines = [f"Phiếu của {person_name(ctx.person.display_name)} trong {period}:"]
    totals: dict[str, int] = defaultdict(int)
    units: dict[str, tuple[str, str]] = {}
    for view in views:
        parts = ", ".join(f"{ind.code} {item.quantity}" for item, ind in view.items)
        lines.append(f"#{view.record.id} {fmt_date(view.record.activity_date)}: {parts}")
        for item, ind in view.items:
            totals[ind.code] += item.quantity
            units[ind.code] = (ind.name, ind.unit)
    lines.append("Tổng cộng:")
    lines.extend(f"- {units[c][0]}: {q} {units[c][1]}" for c, q in totals.items())
    return "\n".join(lines)


@COMMANDS.command(
    "chitieu",
    aliases=("indicators",),
    vi_name="chỉ tiêu",
    roles=EVERYONE,
    summary="Danh sách chỉ tiêu, đơn vị và cách gõ",
    usage="/chitieu",
    order=24,
)
async def chitieu(ctx: Context) -> str:
    """List the indicators with their units and a few aliases."""
    rows = await activity_store.indicators(ctx.session)
    lines = ["Các chỉ tiêu (gõ mã hoặc tên, có dấu hay không dấu đều được):"]
    for row in rows:
        aliases = json.loads(row.aliases or "[]")
        unaccented = [a for a in aliases if a.isascii()][:3]
        examples = f"; gõ: {', '.join(unaccented)}" if unaccented else ""
        lines.append(f"- {row.code}: {row.name} (đơn vị: {row.unit}){examples}")
    lines.append("Ví dụ: /ghi vneid 5, dvc 3")
    return "\n".join(lines)
