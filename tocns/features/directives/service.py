"""Directives, shared by /chidao, /tinhtrang and the directive API: scope, sending, and status per commune."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.core.context import UserError
from tocns.core.dates import fmt_time
from tocns.core.text import clean_text, fold, person_name
from tocns.features.directives import store
from tocns.features.directives.models import Directive, DirectiveTarget
from tocns.features.org.models import OrgUnit, Person, unit_label
from tocns.outbox.models import OutboxState

# Words a scope item starts with: if such an item is not found, the sender mistyped a scope (refuse), rather
# than meant a heading like "Lưu ý:" (send to the whole province).
SCOPE_PREFIXES = ("xa ", "phuong ", "thi tran ", "huyen ", "quan ", "thi xa ", "thanh pho ", "don vi ")
WHOLE_PROVINCE = {"toan tinh", "tat ca", "ca tinh"}
MAX_SCOPE_CHARS = 300
# A Telegram message holds 4,096 characters; the heading and footer of a directive take the rest.
MAX_TEXT_CHARS = 4000


class ScopeForbidden(UserError):
    """The scope names units outside the ones the sender may reach."""


def render_directive(directive: Directive, sender: str, tz: ZoneInfo) -> str:
    """The text every group receives."""
    return (
        f"📢 CHỈ ĐẠO SỐ {directive.id}\n{clean_text(directive.text)}\n\n"
        f"Người gửi: {person_name(sender)}, {fmt_time(directive.created_at, tz)}.\n"
        f"Trả lời /danhan {directive.id} để xác nhận."
    )


@dataclass
class Scope:
    """The communes a directive goes to, and how to name them to people."""

    label: str
    communes: list[OrgUnit]


def _looks_like_scope(item: str) -> bool:
    folded = fold(item).strip()
    return bool(re.fullmatch(r"[\w-]*\d[\w-]*", folded)) or folded.startswith(SCOPE_PREFIXES)


def _inside(unit: OrgUnit, within: OrgUnit | None) -> bool:
    return within is None or unit.path.startswith(within.path)


async def whole_scope(session: AsyncSession, within: OrgUnit | None = None) -> Scope:
    """The default scope: every commune, or every commune under `within` when the sender is limited to it."""
    if within is None or within.parent_id is None:
        communes = await store.all_communes(session)
        if within is not None:
            communes = [c for c in communes if _inside(c, within)]
        return Scope("toàn tỉnh", communes)
    return Scope(f"các xã thuộc {unit_label(within)}", await store.communes_under(session, within))


async def _resolve_item(session: AsyncSession, item: str) -> OrgUnit | None:
    units = await store.find_units(session, item)
    if len(units) > 1:
        options = ", ".join(unit_label(u) for u in units[:8])
        raise UserError(f"«{item}» khớp với nhiều đơn vị: {options}. Hãy ghi mã đơn vị. Chưa gửi gì.")
    return units[0] if units else None


def _check_inside(units: list[OrgUnit], within: OrgUnit | None) -> None:
    outside = [u for u in units if not _inside(u, within)]
    if outside and within is not None:
        names = ", ".join(unit_label(u) for u in outside)
        raise ScopeForbidden(f"Chỉ gửi được tới các xã thuộc {unit_label(within)}; ngoài phạm vi: {names}.")


async def parse_scope(
    session: AsyncSession, text: str, *, within: OrgUnit | None = None, strict: bool = True, usage: str = ""
) -> Scope | None:
    """Resolve a scope ("toàn tỉnh", codes or names of communes, "đơn vị <mã>").

    With `strict` every unknown item is refused; otherwise text that does not look like a scope gives None
    (a heading such as "Lưu ý" typed before a colon).
    """
    tail = f"\nCách dùng: {usage}" if usage else ""
    folded = fold(text).strip()
    if not folded or folded in WHOLE_PROVINCE:
        return await whole_scope(session, within)
    if folded.startswith("don vi "):
        name = text.strip().split(maxsplit=2)[-1]
        unit = await _resolve_item(session, name)
        if unit is None:
            raise UserError(f"Không tìm thấy đơn vị «{name}». Chưa gửi gì.{tail}")
        _check_inside([unit], within)
        return Scope(f"các xã thuộc {unit_label(unit)}", await store.communes_under(session, unit))
    items = [i.strip() for i in text.split(",") if i.strip()]
    units = [await _resolve_item(session, i) for i in items]
    missing = [i for i, u in zip(items, units, strict=True) if u is None]
    if items and not missing:
        found = [u for u in units if u is not None]
        _check_inside(found, within)
        communes: dict[int, OrgUnit] = {}
        for unit in found:
            for commune in await store.communes_under(session, unit):
                communes[commune.id or 0] = commune
        return Scope(", ".join(unit_label(u) for u in found), list(communes.values()))
    if strict or any(_looks_like_scope(i) for i in missing):
        raise UserError(
            f"Không tìm thấy xã/đơn vị: {', '.join(missing)}. Chưa gửi gì. Kiểm tra mã bằng tocns org list.{tail}"
        )
    return None


async def split_command(session: AsyncSession, args: str, usage: str) -> tuple[Scope, str]:
    """Split "/chidao [phạm vi:] <nội dung>" arguments into the scope and the directive text."""
    args = args.strip()
    colon = args.find(":")
    if 0 < colon <= MAX_SCOPE_CHARS and args[:colon].strip():
        scope = await parse_scope(session, args[:colon], strict=False, usage=usage)
        if scope is not None:
            return scope, args[colon + 1 :].strip()
    return await whole_scope(session), args


@dataclass
class Sent:
    """A directive just created, with its target groups and the communes it could not reach."""

    directive: Directive
    targets: list[DirectiveTarget]
    scope: Scope
    reached: set[int] = field(default_factory=set)
    unreached: list[OrgUnit] = field(default_factory=list)


async def send_directive(
    session: AsyncSession,
    *,
    text: str,
    scope: Scope,
    sender: str,
    person: Person | None,
    now: datetime,
    tz: ZoneInfo,
) -> Sent:
    """Save a directive and queue it to every bound group of the scope; UserError when it would reach nobody."""
    if len(text) > MAX_TEXT_CHARS:
        size, limit = (f"{n:,}".replace(",", ".") for n in (len(text), MAX_TEXT_CHARS))
        raise UserError(f"Nội dung chỉ đạo dài {size} ký tự, tối đa {limit} ký tự. Hãy rút gọn. Chưa gửi gì.")
    if not scope.communes:
        raise UserError(f"Phạm vi «{scope.label}» không có xã/phường nào. Chưa gửi gì.")
    directive, targets = await store.create_directive(
        session,
        text=text,
        scope_label=scope.label,
        communes=scope.communes,
        person=person,
        now=now,
        render=lambda d: render_directive(d, sender, tz),
    )
    if not targets:
        raise UserError(f"Chưa có nhóm nào kết nối trong phạm vi «{scope.label}». Chưa gửi gì.")
    reached = {t.commune_id for t in targets}
    unreached = [c for c in scope.communes if c.id not in reached]
    return Sent(directive, targets, scope, reached, unreached)


@dataclass
class CommuneStatus:
    """Delivery and acknowledgement of a directive in one commune."""

    commune_id: int
    commune: OrgUnit | None
    groups: int = 0
    delivered: int = 0
    pending: int = 0
    failures: list[str] = field(default_factory=list)
    ack: store.AckView | None = None

    @property
    def label(self) -> str:
        """The commune as "Name (CODE)"."""
        return unit_label(self.commune) if self.commune else f"đơn vị {self.commune_id}"


@dataclass
class DirectiveStatus:
    """Everything /tinhtrang and the API show about a directive, communes ordered by code."""

    directive: Directive
    communes: list[CommuneStatus]

    def count(self, what: str) -> int:
        """Groups delivered, pending or failed over all communes."""
        if what == "failed":
            return sum(len(c.failures) for c in self.communes)
        return sum(getattr(c, what) for c in self.communes)

    @property
    def not_acknowledged(self) -> list[CommuneStatus]:
        """Communes where nobody has acknowledged yet."""
        return [c for c in self.communes if c.ack is None]

    def within(self, unit: OrgUnit) -> bool:
        """True when every commune of the directive lies under `unit`."""
        return all(c.commune is not None and _inside(c.commune, unit) for c in self.communes)


async def directive_status(session: AsyncSession, directive: Directive) -> DirectiveStatus:
    """Delivered, failed (with reason) and acknowledged per commune."""
    targets = await store.targets_of(session, directive.id or 0)
    acks = await store.acks_of(session, directive.id or 0)
    units = await store.units_by_id(session, {t.commune_id for t, _row in targets})
    per: dict[int, CommuneStatus] = {}
    for target, row in targets:
        status = per.setdefault(target.commune_id, CommuneStatus(target.commune_id, units.get(target.commune_id)))
        status.groups += 1
        state = row.state if row else OutboxState.FAILED
        if state == OutboxState.SENT:
            status.delivered += 1
        elif state == OutboxState.FAILED:
            status.failures.append((row.last_error if row else None) or "lỗi không rõ")
        else:
            status.pending += 1
    for view in acks:
        if view.ack.commune_id in per and per[view.ack.commune_id].ack is None:
            per[view.ack.commune_id].ack = view
    ordered = sorted(per.values(), key=lambda c: c.commune.code if c.commune else "")
    return DirectiveStatus(directive, ordered)
