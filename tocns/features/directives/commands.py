"""/chidao, /danhan and /tinhtrang: department directives to every group, with receipts and acknowledgements."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from tocns.core.context import Context, UserError
from tocns.core.dates import fmt_time
from tocns.core.messages import Reply
from tocns.core.permissions import COMMUNE_LEADERS, EVERYONE, STAFF, role_label
from tocns.core.registry import CommandGroup
from tocns.core.roles import Level, Role
from tocns.core.text import fold, person_name
from tocns.features.directives import service, store
from tocns.features.directives.models import Directive, DirectiveState
from tocns.features.org import store as org_store
from tocns.features.org.models import Membership, OrgUnit, unit_label

COMMANDS = CommandGroup()
"""This feature's chat commands; `tocns.app` includes them in the registry."""

MAX_STATUS_LINES = 40
MAX_MISSING_NAMES = 100
MAX_WAITING_NAMES = 10
USAGE = (
    "/chidao [khẩn:] <phạm vi>: <nội dung>\n"
    "Phạm vi (bắt buộc): toàn tỉnh; danh sách mã hoặc tên xã cách nhau bởi dấu phẩy; "
    "hoặc «đơn vị <mã/tên>» cho mọi xã thuộc đơn vị đó. Gửi tới nhiều xã thì cần /xacnhan <số> trong 10 phút.\n"
    "«khẩn:» gửi ngay cả trong giờ nghỉ.\n"
    "Ví dụ: /chidao 00070, Tân Lập: Họp giao ban lúc 14:00 thứ Sáu\n"
    "Ví dụ: /chidao toàn tỉnh: Rà soát số hộ đã cài ứng dụng VNeID trước 30/11"
)
AUTHORITY_ROLES = (Role.STAFF, Role.ADMIN)


async def authority(ctx: Context) -> list[OrgUnit]:
    """The units where the sender is department staff (or admin): a directive reaches no further."""
    memberships = await org_store.memberships_of(ctx.session, ctx.person.id or 0)
    return [unit for membership, unit in memberships if membership.role in AUTHORITY_ROLES]


def _quiet(ctx: Context, urgent: bool) -> str | None:
    s = ctx.settings
    return service.quiet_note(ctx.now, s.tz, s.quiet_hours_start, s.quiet_hours_end, urgent)


def _receipt(sent: service.Sent, held: str | None = None) -> str:
    directive_id = sent.directive.id
    chats = f"{sent.groups} nhóm" + (f" và {sent.people} người (tin nhắn riêng)" if sent.people else "")
    # Held by the quiet hours it is queued, not sent: the reply says when it will arrive.
    verb = "Đã xếp hàng" if held else "Đã gửi"
    lines = [
        f"{verb} chỉ đạo số {directive_id} ({sent.scope.label}) tới {chats} của "
        f"{len(sent.reached)} xã/phường. Xem tình trạng: /tinhtrang {directive_id}"
    ]
    if held:
        lines.append(held)
    if sent.unreached:
        names = ", ".join(unit_label(c) for c in sent.unreached[:20])
        more = f" và {len(sent.unreached) - 20} xã khác" if len(sent.unreached) > 20 else ""
        lines.append(f"Chưa có nhóm kết nối, cũng chưa ai nhắn riêng với bot, không nhận được chỉ đạo: {names}{more}.")
    return "\n".join(lines)


@COMMANDS.command(
    "chidao",
    aliases=("directive",),
    vi_name="chỉ đạo",
    roles=STAFF,
    summary="Gửi chỉ đạo tới mọi nhóm trong phạm vi và theo dõi xác nhận",
    usage=USAGE,
    order=60,
)
async def chidao(ctx: Context) -> str | Reply:
    """Send a directive to one commune at once, or show a wider one and wait for /xacnhan."""
    if not ctx.args.strip():
        raise UserError(f"Thiếu nội dung chỉ đạo.\nCách dùng: {USAGE}")
    request = await service.split_command(ctx.session, ctx.args, USAGE, await authority(ctx))
    scope = request.scope
    if not request.text:
        raise UserError(f"Thiếu nội dung chỉ đạo sau phạm vi «{scope.label}».\nCách dùng: {USAGE}")
    if len(scope.communes) > 1:
        held = await service.hold_directive(
            ctx.session, text=request.text, scope=scope, person=ctx.person, now=ctx.now, urgent=request.urgent
        )
        # The preview offers confirm and cancel as buttons where the platform has them (the text says the commands).
        text = await service.preview(ctx.session, held, scope, _quiet(ctx, request.urgent), ctx.settings)
        return Reply(text=text, buttons=service.confirm_buttons(held))
    sent = await service.send_directive(
        ctx.session,
        text=request.text,
        scope=scope,
        sender=ctx.person.display_name,
        person=ctx.person,
        now=ctx.now,
        tz=ctx.settings.tz,
        urgent=request.urgent,
    )
    return _receipt(sent, _quiet(ctx, request.urgent))


@COMMANDS.command(
    "xacnhan",
    aliases=("confirm",),
    vi_name="xác nhận gửi",
    roles=STAFF,
    summary="Xác nhận gửi một chỉ đạo tới nhiều xã",
    usage="/xacnhan <số chỉ đạo>\nVí dụ: /xacnhan 12",
    order=63,
)
async def xacnhan(ctx: Context) -> str:
    """Send a held directive, if its author confirms within ten minutes."""
    directive = await _directive_arg(ctx)
    sent = await service.confirm_directive(ctx.session, directive, ctx.person, ctx.now, ctx.settings.tz)
    return _receipt(sent, _quiet(ctx, directive.urgent))


@COMMANDS.command(
    "thuhoi",
    aliases=("recall",),
    vi_name="thu hồi",
    roles=STAFF,
    summary="Thu hồi một chỉ đạo đã gửi (hoặc huỷ một chỉ đạo chờ xác nhận)",
    usage="/thuhoi <số chỉ đạo>\nVí dụ: /thuhoi 12",
    order=64,
)
async def thuhoi(ctx: Context) -> str:
    """Recall a directive: unsent copies cancelled, groups that received it told to disregard it."""
    directive = await _directive_arg(ctx)
    was_pending = directive.state == DirectiveState.PENDING
    recall = await service.recall_directive(ctx.session, directive, ctx.person, ctx.now)
    if was_pending:
        return f"Đã huỷ chỉ đạo số {directive.id}; chưa gửi tới nhóm nào."
    return (
        f"Đã thu hồi chỉ đạo số {directive.id}: huỷ {recall.cancelled} tin chưa gửi, "
        f"gửi thông báo thu hồi tới {recall.notified} nhóm đã nhận."
    )


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
    """Record that this person, and so their commune, acknowledged a directive, if they hold a role there."""
    directive = await _directive_arg(ctx)
    if directive.state != DirectiveState.SENT:
        raise UserError(f"Chỉ đạo số {directive.id} chưa được gửi hoặc đã bị thu hồi, không cần xác nhận.")
    targets = [t for t, _row in await store.targets_of(ctx.session, directive.id or 0)]
    memberships = await org_store.memberships_of(ctx.session, ctx.person.id or 0)
    commune_id: int | None = None
    if not ctx.msg.is_private:
        here = [t for t in targets if t.platform == ctx.msg.platform and t.chat_id == ctx.msg.chat_id]
        commune_id = here[0].commune_id if here else None
    else:
        in_scope = {t.commune_id for t in targets}
        for _membership, unit in memberships:
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
    role = _role_in(memberships, commune)
    if role is None:
        raise UserError(
            f"Bạn chưa giữ vai trò nào ở {where} (lãnh đạo xã, trưởng thôn hay thành viên tổ) nên không xác nhận "
            f"thay xã được. Chưa ghi nhận. Người có vai trò trong xã hãy gõ /danhan {directive.id}."
        )
    if not await store.record_ack(ctx.session, directive, ctx.person, commune_id, ctx.now, role=role):
        return f"{person_name(ctx.person.display_name)} đã xác nhận chỉ đạo số {directive.id} trước đó rồi."
    return (
        f"Đã ghi nhận: {person_name(ctx.person.display_name)} ({role_label(role)}, {where}) "
        f"đã nhận chỉ đạo số {directive.id} "
        f"lúc {fmt_time(ctx.now, ctx.settings.tz)}."
    )


def _role_in(memberships: list[tuple[Membership, OrgUnit]], commune: OrgUnit | None) -> str | None:
    """The highest role a person holds on the commune or one of its teams (None: no standing to acknowledge)."""
    if commune is None:
        return None
    held = [Role(m.role) for m, unit in memberships if unit.path.startswith(commune.path)]
    return max(held, key=lambda r: r.rank) if held else None


@COMMANDS.command(
    "tinhtrang",
    private=True,
    anonymous=True,
    aliases=("status",),
    vi_name="tình trạng",
    roles=COMMUNE_LEADERS,
    summary="Tình trạng gửi và xác nhận của một chỉ đạo (lãnh đạo xã: của xã mình)",
    usage="/tinhtrang <số chỉ đạo>\nVí dụ: /tinhtrang 12",
    order=62,
)
async def tinhtrang(ctx: Context) -> str:
    """Delivered, failed (with reason) and acknowledged per commune and per person reached privately.

    Department staff see the whole directive; a commune leader sees the communes they lead (docs/private-chats.md).
    """
    directive = await _directive_arg(ctx)
    tz = ctx.settings.tz
    status = await service.directive_status(ctx.session, directive)
    pending_elsewhere = directive.state == DirectiveState.PENDING and directive.created_by_person_id != ctx.person.id
    staff_units = await authority(ctx)
    if not pending_elsewhere and not status.within(staff_units):
        led = await _led_communes(ctx)
        status = status.only(led) if led else service.DirectiveStatus(directive, [])
        pending_elsewhere = pending_elsewhere or not status.communes
    if pending_elsewhere:
        # Another province's (or commune's) directive: answer as if it did not exist rather than show its communes.
        raise UserError(f"Không có chỉ đạo số {directive.id}.")
    if directive.state == DirectiveState.PENDING:
        return f"Chỉ đạo số {directive.id} đang chờ xác nhận: gõ /xacnhan {directive.id} để gửi."
    return _status_text(status, tz)


def _status_text(status: service.DirectiveStatus, tz: ZoneInfo) -> str:
    """A sent directive's status: the totals, then the communes needing attention first, then who has not
    acknowledged."""
    directive = status.directive
    acked = len(status.communes) - len(status.not_acknowledged)
    recalled = " — ĐÃ THU HỒI" if directive.state == DirectiveState.RECALLED else ""
    people = sum(len(c.people) for c in status.communes)
    privately = ""
    if people:
        people_acked = sum(len(c.people_acked) for c in status.communes)
        people_got = sum(c.people_delivered for c in status.communes)
        privately = f" Tin riêng: {people_got}/{people} người đã nhận, {people_acked}/{people} người đã xác nhận."
    lines = [
        f"Chỉ đạo số {directive.id} ({directive.scope_label}){recalled}, gửi lúc {fmt_time(directive.created_at, tz)}.",
        f"Nhóm: {sum(c.delivered for c in status.communes)} đã nhận tin, {status.count('failed')} lỗi, "
        f"{status.count('pending')} đang gửi.{privately} Xã/phường đã xác nhận: {acked}/{len(status.communes)}.",
    ]
    # A province has ~1,000 communes: list the ones needing attention first and keep the reply readable.
    attention = sorted(status.communes, key=lambda c: (not c.failures, c.ack is not None))
    shown = {id(c) for c in attention[:MAX_STATUS_LINES]}
    for commune in status.communes:
        if id(commune) in shown:
            lines.append(f"- {commune.label}: {'; '.join(_commune_parts(commune, tz))}")
    if len(status.communes) > len(shown):
        lines.append(f"… và {len(status.communes) - len(shown)} xã/phường khác.")
    missing = [c.label for c in status.not_acknowledged if c.commune is not None]
    more = f" và {len(missing) - MAX_MISSING_NAMES} xã/phường khác" if len(missing) > MAX_MISSING_NAMES else ""
    listed = ", ".join(missing[:MAX_MISSING_NAMES]) + more
    lines.append("Chưa xác nhận: " + (listed if missing else "không còn đơn vị nào."))
    return "\n".join(lines)


def _commune_parts(commune: service.CommuneStatus, tz: ZoneInfo) -> list[str]:
    """One commune's line: groups delivered, people reached privately, failures, who acknowledged."""
    parts = [f"đã nhận tin {commune.delivered}/{commune.groups} nhóm"] if commune.groups else []
    if commune.people:
        parts.append(f"tin riêng đã tới {commune.people_delivered}/{len(commune.people)} người")
    if commune.failures:
        where = "nơi" if commune.people else "nhóm"
        parts.append(f"lỗi {len(commune.failures)} {where} ({'; '.join(sorted(set(commune.failures)))})")
    ack = commune.ack
    parts.append(f"đã xác nhận ({_who(ack)}, {fmt_time(ack.ack.acked_at, tz)})" if ack else "chưa xác nhận")
    if commune.people:
        waiting = commune.people_waiting
        names = ", ".join(person_name(p.display_name) for p in waiting[:MAX_WAITING_NAMES])
        more = f" và {len(waiting) - MAX_WAITING_NAMES} người khác" if len(waiting) > MAX_WAITING_NAMES else ""
        parts.append(
            f"{len(commune.people_acked)}/{len(commune.people)} người đã xác nhận"
            + (f", chưa: {names}{more}" if waiting else "")
        )
    return parts


async def _led_communes(ctx: Context) -> list[OrgUnit]:
    """The units where the sender is a commune leader: the part of a directive they may follow."""
    memberships = await org_store.memberships_of(ctx.session, ctx.person.id or 0)
    return [unit for membership, unit in memberships if membership.role == Role.COMMUNE_LEADER]


def _who(ack: store.AckView) -> str:
    role = f", {role_label(ack.ack.role)}" if ack.ack.role else ""
    return f"{person_name(ack.person.display_name)}{role}"
