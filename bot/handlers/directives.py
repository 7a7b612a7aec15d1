"""/chidao, /danhan and /tinhtrang: department directives to every group, with receipts and acknowledgements."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.context import Context, UserError
from bot.permissions import EVERYONE, STAFF
from bot.registry import registry
from bot.text import fold
from storage import directives as store
from storage import org as org_store
from storage.directive_models import Directive
from storage.models import Level, OrgUnit
from storage.outbox_models import OutboxState

# Words a scope item starts with: if such an item is not found, the sender mistyped a scope (refuse), rather
# than meant a heading like "Lưu ý:" (send to the whole province).
SCOPE_PREFIXES = ("xa ", "phuong ", "thi tran ", "huyen ", "quan ", "thi xa ", "thanh pho ", "don vi ")
WHOLE_PROVINCE = {"toan tinh", "tat ca", "ca tinh"}
MAX_SCOPE_CHARS = 300
MAX_STATUS_LINES = 40
MAX_MISSING_NAMES = 100
USAGE = (
    "/chidao [phạm vi:] <nội dung>\n"
    "Phạm vi: toàn tỉnh (mặc định); danh sách mã hoặc tên xã cách nhau bởi dấu phẩy; "
    "hoặc «đơn vị <mã/tên>» cho mọi xã thuộc đơn vị đó.\n"
    "Ví dụ: /chidao 00070, Tân Lập: Họp giao ban lúc 14:00 thứ Sáu\n"
    "Ví dụ: /chidao Rà soát số hộ đã cài ứng dụng VNeID trước 30/11"
)


def _fmt(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%H:%M %d/%m/%Y")


def _label(unit: OrgUnit) -> str:
    return f"{unit.name} ({unit.code})"


def render_directive(directive: Directive, sender: str, tz: ZoneInfo) -> str:
    """The text every group receives."""
    return (
        f"📢 CHỈ ĐẠO SỐ {directive.id}\n{directive.text}\n\n"
        f"Người gửi: {sender}, {_fmt(directive.created_at, tz)}.\n"
        f"Trả lời /danhan {directive.id} để xác nhận."
    )


def _looks_like_scope(item: str) -> bool:
    folded = fold(item).strip()
    return bool(re.fullmatch(r"[\w-]*\d[\w-]*", folded)) or folded.startswith(SCOPE_PREFIXES)


async def _resolve_item(ctx: Context, item: str) -> OrgUnit | None:
    units = await store.find_units(ctx.session, item)
    if len(units) > 1:
        options = ", ".join(_label(u) for u in units[:8])
        raise UserError(f"«{item}» khớp với nhiều đơn vị: {options}. Hãy ghi mã đơn vị. Chưa gửi gì.")
    return units[0] if units else None


async def _scope(ctx: Context) -> tuple[str, list[OrgUnit], str]:
    """Split the arguments into (scope label, communes, text)."""
    args = ctx.args.strip()
    colon = args.find(":")
    if 0 < colon <= MAX_SCOPE_CHARS:
        prefix, rest = args[:colon].strip(), args[colon + 1 :].strip()
        folded = fold(prefix).strip()
        if folded in WHOLE_PROVINCE:
            return "toàn tỉnh", await store.all_communes(ctx.session), rest
        if folded.startswith("don vi "):
            name = prefix.split(maxsplit=2)[-1]
            unit = await _resolve_item(ctx, name)
            if unit is None:
                raise UserError(f"Không tìm thấy đơn vị «{name}». Chưa gửi gì.\nCách dùng: {USAGE}")
            return f"các xã thuộc {_label(unit)}", await store.communes_under(ctx.session, unit), rest
        items = [i.strip() for i in prefix.split(",") if i.strip()]
        units = [await _resolve_item(ctx, i) for i in items]
        missing = [i for i, u in zip(items, units, strict=True) if u is None]
        if items and not missing:
            communes: dict[int, OrgUnit] = {}
            for unit in units:
                assert unit is not None
                for commune in await store.communes_under(ctx.session, unit):
                    communes[commune.id or 0] = commune
            label = ", ".join(_label(u) for u in units if u is not None)
            return label, list(communes.values()), rest
        if any(_looks_like_scope(i) for i in missing):
            raise UserError(
                f"Không tìm thấy xã/đơn vị: {', '.join(missing)}. Chưa gửi gì. Kiểm tra mã bằng tocns org list.\n"
                f"Cách dùng: {USAGE}"
            )
    return "toàn tỉnh", await store.all_communes(ctx.session), args


@registry.command(
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
    label, communes, text = await _scope(ctx)
    if not text:
        raise UserError(f"Thiếu nội dung chỉ đạo sau phạm vi «{label}».\nCách dùng: {USAGE}")
    if not communes:
        raise UserError(f"Phạm vi «{label}» không có xã/phường nào. Chưa gửi gì.")
    tz = ctx.settings.tz
    directive, targets = await store.create_directive(
        ctx.session,
        text=text,
        scope_label=label,
        communes=communes,
        person=ctx.person,
        now=ctx.now,
        render=lambda d: render_directive(d, ctx.person.display_name, tz),
    )
    if not targets:
        raise UserError(f"Chưa có nhóm nào kết nối trong phạm vi «{label}». Chưa gửi gì.")
    reached = {t.commune_id for t in targets}
    unreached = [c for c in communes if c.id not in reached]
    lines = [
        f"Đã gửi chỉ đạo số {directive.id} ({label}) tới {len(targets)} nhóm của "
        f"{len(reached)} xã/phường. Xem tình trạng: /tinhtrang {directive.id}"
    ]
    if unreached:
        names = ", ".join(_label(c) for c in unreached[:20])
        more = f" và {len(unreached) - 20} xã khác" if len(unreached) > 20 else ""
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


@registry.command(
    "danhan",
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
        return f"{ctx.person.display_name} đã xác nhận chỉ đạo số {directive.id} trước đó rồi."
    return (
        f"Đã ghi nhận: {ctx.person.display_name} ({where}) đã nhận chỉ đạo số {directive.id} "
        f"lúc {_fmt(ctx.now, ctx.settings.tz)}."
    )


@registry.command(
    "tinhtrang",
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
    targets = await store.targets_of(ctx.session, directive.id or 0)
    acks = await store.acks_of(ctx.session, directive.id or 0)
    communes = await store.units_by_id(ctx.session, {t.commune_id for t, _row in targets})
    first_ack: dict[int, store.AckView] = {}
    for view in acks:
        if view.ack.commune_id is not None:
            first_ack.setdefault(view.ack.commune_id, view)
    per_commune: dict[int, list[tuple[str, str | None]]] = {}
    counts = {"sent": 0, "failed": 0, "waiting": 0}
    for target, row in targets:
        state = row.state if row else OutboxState.FAILED
        key = "sent" if state == OutboxState.SENT else "failed" if state == OutboxState.FAILED else "waiting"
        counts[key] += 1
        per_commune.setdefault(target.commune_id, []).append((key, row.last_error if row else None))
    lines = [
        f"Chỉ đạo số {directive.id} ({directive.scope_label}), gửi lúc {_fmt(directive.created_at, tz)}.",
        f"Nhóm: {counts['sent']} đã nhận tin, {counts['failed']} lỗi, {counts['waiting']} đang gửi. "
        f"Xã/phường đã xác nhận: {len(first_ack)}/{len(per_commune)}.",
    ]
    order = sorted(per_commune, key=lambda cid: communes[cid].code if cid in communes else "")
    # A province has ~1,000 communes: list the ones needing attention first and keep the reply readable.
    attention = sorted(order, key=lambda cid: (not any(k == "failed" for k, _ in per_commune[cid]), cid in first_ack))
    shown = attention[:MAX_STATUS_LINES]
    for cid in sorted(shown, key=order.index):
        states = per_commune[cid]
        parts = [f"đã nhận tin {sum(1 for k, _ in states if k == 'sent')}/{len(states)} nhóm"]
        failures = [err or "lỗi không rõ" for k, err in states if k == "failed"]
        if failures:
            parts.append(f"lỗi {len(failures)} nhóm ({'; '.join(sorted(set(failures)))})")
        acked = first_ack.get(cid)
        parts.append(
            f"đã xác nhận ({acked.person.display_name}, {_fmt(acked.ack.acked_at, tz)})" if acked else "chưa xác nhận"
        )
        name = _label(communes[cid]) if cid in communes else f"đơn vị {cid}"
        lines.append(f"- {name}: {'; '.join(parts)}")
    if len(order) > len(shown):
        lines.append(f"… và {len(order) - len(shown)} xã/phường khác.")
    missing = [_label(communes[cid]) for cid in order if cid not in first_ack and cid in communes]
    more = f" và {len(missing) - MAX_MISSING_NAMES} xã/phường khác" if len(missing) > MAX_MISSING_NAMES else ""
    listed = ", ".join(missing[:MAX_MISSING_NAMES]) + more
    lines.append("Chưa xác nhận: " + (listed if missing else "không còn đơn vị nào."))
    return "\n".join(lines)
