"""/chidao, /danhan and /tinhtrang: department directives to every group, with receipts and acknowledgements."""

from __future__ import annotations

import re

from tocns.core.context import Context, UserError
from tocns.core.dates import fmt_time
from tocns.core.permissions import EVERYONE, STAFF
from tocns.core.registry import CommandGroup
from tocns.core.roles import Level
from tocns.core.text import fold, person_name
from tocns.features.directives import service, store
from tocns.features.directives.models import Directive
from tocns.features.org import store as org_store
from tocns.features.org.models import unit_label

COMMANDS = CommandGroup()
"""This feature's chat commands; `tocns.app` includes them in the registry."""

MAX_STATUS_LINES = 40
MAX_MISSING_NAMES = 100
USAGE = (
    "/chidao [phạm vi:] <nội dung>\n"
    "Phạm vi: toàn tỉnh (mặc định); danh sách mã hoặc tên xã cách nhau bởi dấu phẩy; "
    "hoặc «đơn vị <mã/tên>» cho mọi xã thuộc đơn vị đó.\n"
    "Ví dụ: /chidao 00070, Tân Lập: Họp giao ban lúc 14:00 thứ Sáu\n"
    "Ví dụ: /chidao Rà soát số hộ đã cài ứng dụng VNeID trước 30/11"
)


@COMMANDS.command(
    "chidao",
    aliases=("directive",),
    vi_name="chỉ đạo",
    roles=STAFF,
    summary="Gửi chỉ đạo tới mọi nhóm trong phạm vi và theo dõi xác nhận",
    usage=USAGE,
    order=60,
)
async def chidao(ctx: Context) -> str:
    """Send a directive to every bound group in scope and answer with a receipt."""
    if not ctx.args.strip():
        raise UserError(f"Thiếu nội dung chỉ đạo.\nCách dùng: {USAGE}")
    scope, text = await service.split_command(ctx.session, ctx.args, USAGE)
    if not text:
        raise UserError(f"Thiếu nội dung chỉ đạo sau phạm vi «{scope.label}».\nCách dùng: {USAGE}")
    sent = await service.send_directive(
        ctx.session,
        text=text,
        scope=scope,
        sender=ctx.person.display_name,
        person=ctx.person,
        now=ctx.now,
        tz=ctx.settings.tz,
    )
    directive_id = sent.directive.id
    lines = [
        f"Đã gửi chỉ đạo số {directive_id} ({scope.label}) tới {len(sent.targets)} nhóm của "
        f"{len(sent.reached)} xã/phường. Xem tình trạng: /tinhtrang {directive_id}"
    ]
    if sent.unreached:
        names = ", ".join(unit_label(c) for c in sent.unreached[:20])
        more = f" và {len(sent.unreached) - 20} xã khác" if len(sent.unreached) > 20 else ""
        lines.append(f"Chưa có nhóm kết nối, không nhận được chỉ đạo: {names}{more}.")
    return "\n".join(lines)


async def _directive_arg(ctx: Context) -> Directive:
    match = re.fullmatch(r"(?:so\s*)?#?\s*(\d{1,9})", fold(ctx.args).strip())
    if match is None:
        raise UserError(f"Cần số chỉ đạo. Cách dùng: /{ctx.command.name} <số>, ví dụ: /{ctx.command.name} 12")
    directive = await store.get_directive(ctx.session, int(match.group(1)))
    if directive is None:
        raise UserError(f"Không có chỉ đạo số {match.group(1)}.")
    return directive


@COMMANDS.command(
    "danhan",
    private=True,
    aliases=("ack",),
    vi_name="đã nhận",
    roles=EVERYONE,
    summary="Xác nhận đã nhận một chỉ đạo của Sở",
    usage="/danhan <số chỉ đạo>\nVí dụ: /danhan 12",
    order=61,
)
async def danhan(ctx: Context) -> str:
    """Record that this person, and so their commune, acknowledged a directive."""
    directive = await _directive_arg(ctx)
    targets = [t for t, _row in await store.targets_of(ctx.session, directive.id or 0)]
    commune_id: int | None = None
    if not ctx.msg.is_private:
        here = [t for t in targets if t.platform == ctx.msg.platform and t.chat_id == ctx.msg.chat_id]
        commune_id = here[0].commune_id if here else None
    else:
        in_scope = {t.commune_id for t in targets}
        for _membership, unit in await org_store.memberships_of(ctx.session, ctx.person.id or 0):
            commune = await org_store.nearest_of_level(ctx.session, unit, Level.COMMUNE)
            if commune is not None and commune.id in in_scope:
                commune_id = commune.id
                break
    if commune_id is None:
        raise UserError(
            f"Chỉ đạo số {directive.id} không gửi tới nhóm/đơn vị của bạn, nên không xác nhận ở đây được. "
            "Hãy xác nhận trong nhóm đã nhận chỉ đạo."
        )
    commune = await org_store.get_unit(ctx.session, commune_id)
    where = commune.name if commune else "đơn vị"
    if not await store.record_ack(ctx.session, directive, ctx.person, commune_id, ctx.now):
        return f"{person_name(ctx.person.display_name)} đã xác nhận chỉ đạo số {directive.id} trước đó rồi."
    return (
        f"Đã ghi nhận: {person_name(ctx.person.display_name)} ({where}) đã nhận chỉ đạo số {directive.id} "
        f"lúc {fmt_time(ctx.now, ctx.settings.tz)}."
    )


@COMMANDS.command(
    "tinhtrang",
    anonymous=True,
    aliases=("status",),
    vi_name="tình trạng",
    roles=STAFF,
    summary="Tình trạng gửi và xác nhận của một chỉ đạo",
    usage="/tinhtrang <số chỉ đạo>\nVí dụ: /tinhtrang 12",
    order=62,
)
async def tinhtrang(ctx: Context) -> str:
    """Delivered, failed (with reason) and acknowledged per commune, and who has not acknowledged."""
    directive = await _directive_arg(ctx)
    tz = ctx.settings.tz
    status = await service.directive_status(ctx.session, directive)
    acked = len(status.communes) - len(status.not_acknowledged)
    lines = [
        f"Chỉ đạo số {directive.id} ({directive.scope_label}), gửi lúc {fmt_time(directive.created_at, tz)}.",
        f"Nhóm: {status.count('delivered')} đã nhận tin, {status.count('failed')} lỗi, "
        f"{status.count('pending')} đang gửi. Xã/phường đã xác nhận: {acked}/{len(status.communes)}.",
    ]
    # A province has ~1,000 communes: list the ones needing attention first and keep the reply readable.
    attention = sorted(status.communes, key=lambda c: (not c.failures, c.ack is not None))
    shown = {id(c) for c in attention[:MAX_STATUS_LINES]}
    for commune in status.communes:
        if id(commune) not in shown:
            continue
        parts = [f"đã nhận tin {commune.delivered}/{commune.groups} nhóm"]
        if commune.failures:
            parts.append(f"lỗi {len(commune.failures)} nhóm ({'; '.join(sorted(set(commune.failures)))})")
        ack = commune.ack
        parts.append(
            f"đã xác nhận ({person_name(ack.person.display_name)}, {fmt_time(ack.ack.acked_at, tz)})"
            if ack
            else "chưa xác nhận"
        )
        lines.append(f"- {commune.label}: {'; '.join(parts)}")
    if len(status.communes) > len(shown):
        lines.append(f"… và {len(status.communes) - len(shown)} xã/phường khác.")
    missing = [c.label for c in status.not_acknowledged if c.commune is not None]
    more = f" và {len(missing) - MAX_MISSING_NAMES} xã/phường khác" if len(missing) > MAX_MISSING_NAMES else ""
    listed = ", ".join(missing[:MAX_MISSING_NAMES]) + more
    lines.append("Chưa xác nhận: " + (listed if missing else "không còn đơn vị nào."))
    return "\n".join(lines)
