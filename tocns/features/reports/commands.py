"""/baocao: the report of the chat's unit (team, commune or province) for a week, a month or a date range."""

from __future__ import annotations

from tocns.core.context import Context, UserError
from tocns.core.messages import Reply
from tocns.core.permissions import MEMBERS
from tocns.core.registry import CommandGroup
from tocns.core.text import split_chunks
from tocns.features.reports.period import USAGE, PeriodError, parse_period
from tocns.features.reports.render import render_text
from tocns.features.reports.service import unit_report

COMMANDS = CommandGroup()
"""This feature's chat commands; `tocns.app` includes them in the registry."""

# Telegram allows 4,096 characters and Zalo 2,000: split below the smaller one so a report reads the same on both.
MESSAGE_LIMIT = 1900


@COMMANDS.command(
    "baocao",
    anonymous=True,
    aliases=("report",),
    vi_name="báo cáo",
    roles=MEMBERS,
    summary="Xem báo cáo kết quả của đơn vị nhóm này",
    usage=f"/baocao [{USAGE}]\nVí dụ: /baocao, /baocao tuan truoc, /baocao 01/11-15/11",
    order=40,
)
async def baocao(ctx: Context) -> list[Reply]:
    """Reply with the report of the chat's unit, split into messages under the platform's limit."""
    if ctx.unit is None:
        raise UserError(
            "Lệnh /baocao dùng trong nhóm đã kết nối với tổ, xã/phường hoặc Sở: báo cáo là của đơn vị nhóm đó."
        )
    try:
        period = parse_period(ctx.args, ctx.today)
    except PeriodError as exc:
        raise UserError(f"{exc}\nCách dùng: /baocao [{USAGE}]") from exc
    if period.start > ctx.today:
        raise UserError(f"Kỳ {period.label} chưa bắt đầu; hôm nay là {ctx.today:%d/%m/%Y}.")
    report = await unit_report(ctx.session, ctx.unit, period, ctx.settings, ctx.now)
    text = render_text(report, ctx.settings.tz)
    return [Reply(text=part) for part in split_chunks(text, MESSAGE_LIMIT)]
