"""/batdau and /huongdan: the commands this person may use, generated from the registry."""

from __future__ import annotations

from tocns.core.context import Context
from tocns.core.permissions import EVERYONE, GUEST, highest, role_label
from tocns.core.registry import Command, CommandGroup
from tocns.core.text import person_name
from tocns.features.org import store as org_store
from tocns.features.org.events import private_choices
from tocns.features.org.models import unit_label

COMMANDS = CommandGroup()
"""This feature's chat commands; `tocns.app` includes them in the registry."""


def command_line(cmd: Command) -> str:
    """One help line: the command, its English alias and its summary."""
    alias = f" (/{cmd.aliases[0]})" if cmd.aliases else ""
    return f"/{cmd.name}{alias} — {cmd.summary}"


async def _status_lines(ctx: Context) -> list[str]:
    if ctx.msg.is_private:
        return await _private_status_lines(ctx)
    lines: list[str] = []
    if ctx.unit is not None:
        lines.append(f"Nhóm này thuộc: {unit_label(ctx.unit)}.")
    elif not ctx.msg.is_private:
        lines.append("Nhóm này chưa kết nối với đơn vị nào: người được cấp mã hãy gõ /ketnoi <mã>.")
    top = highest(ctx.roles)
    team = await org_store.team_of(ctx.session, ctx.person.id or 0, ctx.unit)
    if top is not None:
        where = f", {team.name}" if team else ""
        lines.append(f"Bạn: {person_name(ctx.person.display_name)} — {role_label(top)}{where}.")
    elif ctx.unit is not None:
        lines.append("Bạn chưa thuộc tổ nào: gõ /thamgia <tên tổ> để tham gia.")
    return lines


async def _private_status_lines(ctx: Context) -> list[str]:
    """Where the person stands, seen from a private chat: each unit where they hold a role, and how to pick one."""
    choices = await private_choices(ctx.session, ctx.person.id or 0)
    name = person_name(ctx.person.display_name)
    if not choices:
        return [
            f"Bạn: {name} — chưa giữ vai trò nào.",
            "Để bắt đầu, gõ /ketnoi <mã> với mã do xã/phường hoặc Sở cấp cho bạn (ngay tại đây), "
            "hoặc /thamgia <tên tổ> trong nhóm điều phối của xã/phường.",
        ]
    held = "; ".join(f"{role_label(highest(c.roles) or GUEST)}, {c.label}" for c in choices)
    lines = [f"Bạn: {name} — {held}."]
    if len(choices) > 1:
        example = choices[0].unit.code
        lines.append(
            "Trong tin nhắn riêng, lệnh làm việc với một đơn vị (/baocao, /nhiemvu, /giaoviec…) cần biết đơn vị "
            f"nào: gõ kèm mã hoặc tên đơn vị ngay sau lệnh, ví dụ /baocao {example}."
        )
    else:
        lines.append(f"Trong tin nhắn riêng, các lệnh làm việc với {choices[0].label}.")
    return lines


def _help_for(ctx: Context, name: str) -> str:
    cmd = ctx.registry.lookup(name.lstrip("/"))
    if cmd is None:
        suggestion = ctx.registry.suggest(name.lstrip("/"))
        hint = f" Có phải bạn muốn xem /{suggestion}?" if suggestion else ""
        return f"Không có lệnh /{name.lstrip('/')}.{hint}"
    names = ", ".join(f"/{n}" for n in cmd.all_names)
    who = ", ".join(role_label(r) for r in sorted(cmd.roles)) if cmd.roles != EVERYONE else "mọi người"
    parts = [f"{names}: {cmd.summary}", f"Dành cho: {who}."]
    if cmd.usage:
        parts.append(f"Cách dùng:\n{cmd.usage}")
    return "\n".join(parts)


async def _command_list(ctx: Context) -> str:
    commands = ctx.registry.available_to(ctx.roles, private=ctx.msg.is_private)
    where = " trong tin nhắn riêng" if ctx.msg.is_private else ""
    lines = [f"Các lệnh bạn dùng được{where}:"]
    lines.extend(command_line(c) for c in commands)
    lines.append("")
    lines.append("Gõ /huongdan <lệnh> để xem cách dùng chi tiết, ví dụ: /huongdan ketnoi.")
    lines.append("Có thể gõ không dấu, chữ hoa hay chữ thường đều được.")
    return "\n".join(lines)


@COMMANDS.command(
    "huongdan",
    private=True,
    aliases=("help",),
    vi_name="hướng dẫn",
    roles=EVERYONE,
    summary="Xem các lệnh bạn dùng được và cách dùng",
    usage="/huongdan — danh sách lệnh\n/huongdan ghi — cách dùng một lệnh",
    order=1,
)
async def huongdan(ctx: Context) -> str:
    """List the commands this person may use, or explain one command."""
    if ctx.args:
        return _help_for(ctx, ctx.args.split()[0])
    status = await _status_lines(ctx)
    return "\n".join([*status, "", await _command_list(ctx)]) if status else await _command_list(ctx)


@COMMANDS.command(
    "batdau",
    private=True,
    aliases=("start",),
    vi_name="bắt đầu",
    roles=EVERYONE,
    summary="Lời chào, tình trạng của bạn và danh sách lệnh",
    order=0,
)
async def batdau(ctx: Context) -> str:
    """Greet the person, say where they stand and list their commands."""
    greeting = (
        f"Xin chào {person_name(ctx.person.display_name)}! Tôi là bot điều phối của Tổ công nghệ số cộng đồng: "
        "ghi kết quả hằng ngày, giao và nhắc việc, tổng hợp báo cáo, chuyển chỉ đạo của Sở."
    )
    status = await _status_lines(ctx)
    return "\n".join([greeting, *status, "", await _command_list(ctx)])
