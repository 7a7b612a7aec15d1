"""/baocao: the report of the chat's unit, or of a team or commune within the sender's authority, for a period."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from tocns.core.context import Context, UserError
from tocns.core.dates import MAX_YEAR
from tocns.core.messages import Attachment, Reply
from tocns.core.period import USAGE, Period, PeriodError, PeriodNotUnderstood, parse_period
from tocns.core.permissions import LEADERS, MEMBERS
from tocns.core.registry import CommandGroup
from tocns.core.roles import Level, Role
from tocns.core.text import fold, split_chunks
from tocns.features.activity.evidence import shown_by
from tocns.features.org import store as org_store
from tocns.features.org.models import Membership, OrgUnit
from tocns.features.org.names import COMMUNE_KIND_WORDS, TEAM_KIND_WORDS, pick_team
from tocns.features.reports.files import XLSX_MIME, ZIP_MIME, raw_outside
from tocns.features.reports.render import render_text
from tocns.features.reports.service import unit_report
from tocns.features.reports.store import stream_raw_records
from tocns.features.reports.workbook import write_workbook

COMMANDS = CommandGroup()
"""This feature's chat commands; `tocns.app` includes them in the registry."""

# Telegram allows 4,096 characters and Zalo 2,000: split below the smaller one so a report reads the same on both.
MESSAGE_LIMIT = 1900
# Splitting "tổ Thôn 1 tháng 10" only needs to know which words have a period's shape, not whether it is due.
_FAR_FUTURE = date(MAX_YEAR, 12, 31)
# Words that start a unit: "/baocao tổ Thôn 1", "/baocao xã Lìa tháng 10".
UNIT_KEYWORDS: dict[str, str] = {"to": Level.TEAM, "xa": Level.COMMUNE, "phuong": Level.COMMUNE}
BAOCAO_USAGE = (
    f"/baocao [tổ <tên> | xã <tên>] [kỳ]\nKỳ: {USAGE}\n"
    "Ví dụ: /baocao, /baocao tuần trước, /baocao tháng 10, /baocao tổ Thôn 1, /baocao tổ (tổ của bạn), "
    "/baocao xã Lìa 01/11-15/11"
)


def read_period(ctx: Context, text: str, usage: str) -> Period:
    """The shared period grammar, its refusal turned into a chat answer with the right form."""
    try:
        return parse_period(text, ctx.today)
    except PeriodError as exc:
        raise UserError(f"{exc}\nCách dùng: {usage}") from exc


def split_unit_and_period(words: list[str]) -> tuple[list[str], str]:
    """The shortest unit name whose remaining words are a period (or nothing); the period text."""
    for cut in range(len(words) + 1):
        rest = " ".join(words[cut:])
        try:
            parse_period(rest, _FAR_FUTURE)
        except PeriodNotUnderstood:
            continue
        except PeriodError:
            pass  # a period that is refused (reversed, no such day): it is still the period part
        return words[:cut], rest
    return words, ""


async def _target(ctx: Context, level: str, name_words: list[str]) -> OrgUnit:
    """The team or commune named, searched under the chat's unit (or the sender's units in a private chat)."""
    if not name_words:
        return await _own_unit(ctx, level)
    name = " ".join(name_words)
    kinds = TEAM_KIND_WORDS if level == Level.TEAM else COMMUNE_KIND_WORDS
    picked, options = pick_team(name, await _units_in_scope(ctx, level), kinds)
    if picked is None:
        raise UserError(_not_picked(ctx, level, name, options))
    return picked


async def _own_unit(ctx: Context, level: str) -> OrgUnit:
    """The sender's team ("/baocao tổ"), or the commune of the chat's unit ("/baocao xã"), or a refusal."""
    if level == Level.TEAM:
        team = await org_store.team_of(ctx.session, ctx.person.id or 0, ctx.unit)
        if team is None:
            raise UserError(
                "Bạn chưa ở tổ nào nên chưa có báo cáo tổ. Gõ /baocao tổ <tên tổ>, ví dụ: /baocao tổ Thôn 1."
            )
        return team
    commune = await org_store.nearest_of_level(ctx.session, ctx.unit, Level.COMMUNE) if ctx.unit else None
    if commune is None:
        raise UserError(f"Hãy ghi tên xã/phường, ví dụ: /baocao xã Tân Lập. Cách dùng: {BAOCAO_USAGE}")
    return commune


async def _units_in_scope(ctx: Context, level: str) -> list[OrgUnit]:
    """The units of `level` under the chat's unit, or under each of the sender's units in a private chat."""
    if ctx.unit is not None:
        scopes = [ctx.unit]
    else:
        scopes = [unit for _, unit in await org_store.memberships_of(ctx.session, ctx.person.id or 0)]
    units: dict[int, OrgUnit] = {}
    for scope in scopes:
        for unit in await org_store.descendants(ctx.session, scope, level=level, include_self=scope.level == level):
            units[unit.id or 0] = unit
    return list(units.values())


def _not_picked(ctx: Context, level: str, name: str, options: list[OrgUnit]) -> str:
    """Why no unit was picked: none found under the scope, or the close names to choose from."""
    kind = "tổ" if level == Level.TEAM else "xã/phường"
    if not options:
        where = f" trong {ctx.unit.name}" if ctx.unit is not None else ""
        return f"Không tìm thấy {kind} '{name}'{where}. Cách dùng: {BAOCAO_USAGE}"
    word = "tổ" if level == Level.TEAM else "đơn vị"
    listing = "\n".join(f"- {u.name} (mã {u.code})" for u in options[:8])
    count = "một" if len(options) == 1 else str(len(options))
    return f"Chưa chắc '{name}' là {kind} nào. Có {count} {word} gần giống:\n{listing}"


def _may_read(memberships: list[tuple[Membership, OrgUnit]], unit: OrgUnit) -> bool:
    """A person reads the report of a unit they belong to or lead from above (an admin reads every unit)."""
    return any(m.role == Role.ADMIN or unit.path.startswith(u.path) for m, u in memberships)


@COMMANDS.command(
    "baocao",
    private=True,
    unit_scoped=True,
    anonymous=True,
    aliases=("report",),
    vi_name="báo cáo",
    roles=MEMBERS,
    summary="Xem báo cáo kết quả của đơn vị nhóm này, của một tổ hoặc một xã",
    usage=BAOCAO_USAGE,
    order=40,
)
async def baocao(ctx: Context) -> list[Reply]:
    """Reply with the report of the chat's unit (or the unit named), split into messages under the platform's limit."""
    words = ctx.args.split()
    keyword = UNIT_KEYWORDS.get(fold(words[0])) if words else None
    if keyword is not None:
        name_words, period_text = split_unit_and_period(words[1:]) if len(words) > 1 else ([], "")
        period = read_period(ctx, period_text, BAOCAO_USAGE)
        unit = await _target(ctx, keyword, name_words)
        memberships = await org_store.memberships_of(ctx.session, ctx.person.id or 0)
        # The group's own unit is what a plain /baocao shows its members anyway.
        if unit.id != (ctx.unit.id if ctx.unit else None) and not _may_read(memberships, unit):
            raise UserError(
                f"Bạn không có quyền xem báo cáo của {unit.name}: mỗi người xem được báo cáo của đơn vị mình "
                "và các đơn vị mình phụ trách."
            )
    else:
        if ctx.unit is None:
            raise UserError(
                "Lệnh /baocao dùng trong nhóm đã kết nối với tổ, xã/phường hoặc Sở: báo cáo là của đơn vị nhóm đó. "
                "Trong tin nhắn riêng, ghi rõ đơn vị: /baocao tổ <tên> hoặc /baocao xã <tên>."
            )
        period = read_period(ctx, ctx.args, BAOCAO_USAGE)
        unit = ctx.unit
    # Every team's figures only go to the workbook, which members do not get.
    leader = bool(ctx.roles & LEADERS)
    report = await unit_report(ctx.session, unit, period, ctx.settings, ctx.now, team_rows=leader)
    text = render_text(report, ctx.settings.tz)
    replies = [Reply(text=part) for part in split_chunks(text, MESSAGE_LIMIT)]
    if leader:
        # Leaders and staff get the workbook too (a document on Telegram, a signed link on Zalo): the text names
        # the best and worst units, the workbook every unit, team and silent team.
        # Above REPORT_RAW_SHEET_MAX_ROWS raw rows, the raw data follows as CSV in a zip (docs/reports.md).
        rows = stream_raw_records(ctx.session, unit, period.start, period.end)
        with tempfile.TemporaryDirectory(prefix="tocns-baocao-") as folder:
            target = Path(folder) / f"bao-cao-{unit.code}-{period.slug}.xlsx"
            saved = await write_workbook(
                report,
                rows,
                ctx.settings.tz,
                target,
                photo=shown_by(ctx.settings, ctx.now),
                outside=raw_outside(ctx.settings, target),
            )
            replies[-1].attachments += [
                Attachment(filename=path.name, content=path.read_bytes(), mime_type=mime)
                for path, mime in [(target, XLSX_MIME), *((zipped, ZIP_MIME) for zipped in saved.raw_files)]
            ]
    return replies
