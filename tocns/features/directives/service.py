"""Directives, shared by /chidao, /tinhtrang and the directive API: scope, sending, and status per commune."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.config import Settings
from tocns.core.context import UserError
from tocns.core.dates import fmt_duration, fmt_time, quiet_hours_end
from tocns.core.messages import Button
from tocns.core.text import clean_text, closest, fold, grouped, person_name
from tocns.features.directives import store
from tocns.features.directives.models import Directive, DirectiveState, DirectiveTarget
from tocns.features.org import store as org_store
from tocns.features.org.models import OrgUnit, Person, unit_label
from tocns.outbox.models import OutboxState

WHOLE_PROVINCE = {"toan tinh", "tat ca", "ca tinh"}
URGENT_WORDS = {"khan", "khan cap"}
# A chat directive reaching more than one commune waits this long for /xacnhan from its author.
CONFIRM_WITHIN = timedelta(minutes=10)
PREVIEW_NAMES = 10
# A Telegram message holds 4,096 characters; the heading and footer of a directive take the rest.
MAX_TEXT_CHARS = 4000


class ScopeForbidden(UserError):
    """The scope names units outside the ones the sender may reach."""


def render_directive(directive: Directive, sender: str, tz: ZoneInfo) -> str:
    """The text every group receives."""
    # An urgent directive may arrive at night: it says so in its first line, where a notification shows it.
    head = f"🚨 KHẨN — 📢 CHỈ ĐẠO SỐ {directive.id}" if directive.urgent else f"📢 CHỈ ĐẠO SỐ {directive.id}"
    return (
        f"{head}\n{clean_text(directive.text)}\n\n"
        f"Người gửi: {person_name(sender)}, {fmt_time(directive.created_at, tz)}.\n"
        f"Trả lời /danhan {directive.id} để xác nhận."
    )


def ack_buttons(directive: Directive) -> list[Button]:
    """The directive's copies offer its acknowledgement as one tap: the same as typing /danhan <số>."""
    return [Button("Đã nhận", f"/danhan {directive.id}")]


def confirm_buttons(directive: Directive) -> list[Button]:
    """A held directive's preview offers sending it or cancelling it: /xacnhan <số> or /thuhoi <số>."""
    return [Button("Gửi", f"/xacnhan {directive.id}"), Button("Huỷ", f"/thuhoi {directive.id}")]


@dataclass
class Scope:
    """The communes a directive goes to, and how to name them to people."""

    label: str
    communes: list[OrgUnit]


Authority = OrgUnit | Sequence[OrgUnit] | None
"""Where a sender may send: one unit (an API token's), several (a staff member's units), or None (anywhere)."""


def _areas(within: Authority) -> list[OrgUnit] | None:
    if within is None:
        return None
    return [within] if isinstance(within, OrgUnit) else list(within)


def _inside(unit: OrgUnit, within: Authority) -> bool:
    areas = _areas(within)
    return areas is None or any(unit.path.startswith(area.path) for area in areas)


def _area_label(within: Authority) -> str:
    return ", ".join(unit_label(u) for u in _areas(within) or [])


async def whole_scope(session: AsyncSession, within: Authority = None) -> Scope:
    """Every commune, or every commune under the sender's units when the sender is limited to them."""
    areas = _areas(within)
    if areas is not None and len(areas) == 1 and areas[0].parent_id is not None:
        area = areas[0]
        return Scope(f"các xã thuộc {unit_label(area)}", await store.communes_under(session, area))
    communes = [c for c in await store.all_communes(session) if _inside(c, within)]
    return Scope("toàn tỉnh", communes)


async def _suggestions(session: AsyncSession, item: str, within: Authority) -> list[str]:
    """Names of units within reach closest to a name nobody has, to show the sender what they may have meant."""
    units = [u for u in await store.named_units(session) if _inside(u, within)]
    by_name: dict[str, OrgUnit] = {}
    for unit in units:
        by_name.setdefault(unit.name, unit)
    return [unit_label(by_name[name]) for name in closest(item, by_name, limit=3)]


# A scope names at most this many units in at most this many characters (docs/security.md, "Input limits"): a
# province has a few hundred communes, and "toàn tỉnh" or "đơn vị <mã>" name any number at once. 3,000 unknown
# names used to take 38 s to resolve and answer 126 KB.
MAX_SCOPE_NAMES = 200
MAX_SCOPE_CHARS = 2000
# Unknown or ambiguous names listed one by one (with suggestions); the rest are counted.
MAX_LISTED_PROBLEMS = 10


def scope_too_long(text: str) -> str | None:
    """The Vietnamese refusal for a scope over MAX_SCOPE_CHARS characters or MAX_SCOPE_NAMES names, or None."""
    names = text.count(",") + 1
    if len(text) <= MAX_SCOPE_CHARS and names <= MAX_SCOPE_NAMES:
        return None
    return (
        f"Phạm vi dài quá ({len(text)} ký tự, {names} tên): tối đa {MAX_SCOPE_NAMES} tên và {MAX_SCOPE_CHARS} ký tự. "
        "Hãy ghi 'toàn tỉnh', 'đơn vị <mã>' (mọi xã thuộc đơn vị đó) hoặc chia thành nhiều chỉ đạo. Chưa gửi gì."
    )


async def _resolve_items(session: AsyncSession, items: list[str], within: Authority, tail: str) -> list[OrgUnit]:
    """Each item to exactly one unit within reach; otherwise refuse the whole scope, naming its first problems."""
    found: list[OrgUnit] = []
    problems: list[str] = []
    outside: list[OrgUnit] = []
    unlisted = 0
    for item in items:
        units = await store.find_units(session, item)
        inside = [u for u in units if _inside(u, within)]
        if len(inside) == 1:
            found.append(inside[0])
        elif units and not inside:
            outside.extend(units)
        elif len(problems) >= MAX_LISTED_PROBLEMS:
            unlisted += 1  # counted, not explained: the suggestions are the slow part and make a long answer
        elif inside:
            options = ", ".join(unit_label(u) for u in inside[:8])
            problems.append(f"«{item}» khớp với nhiều đơn vị: {options}. Hãy ghi mã đơn vị.")
        else:
            hints = await _suggestions(session, item, within)
            hint = f" Có phải: {', '.join(hints)}?" if hints else ""
            problems.append(f"Không tìm thấy xã/đơn vị «{item}».{hint}")
    if unlisted:
        problems.append(f"… và {unlisted} tên khác cũng không tìm thấy hoặc chưa rõ.")
    if problems:
        raise UserError("\n".join(problems) + f"\nChưa gửi gì. Kiểm tra mã bằng tocns org list.{tail}")
    if outside:
        names = ", ".join(unit_label(u) for u in outside)
        raise ScopeForbidden(f"Chỉ gửi được tới các xã thuộc {_area_label(within)}; ngoài phạm vi: {names}.")
    return found


async def parse_scope(session: AsyncSession, text: str, *, within: Authority = None, usage: str = "") -> Scope:
    """Resolve a scope ("toàn tỉnh", codes or names of communes, "đơn vị <mã>") exactly, or refuse it.

    Every name or code must name exactly one unit within `within`; an unknown or ambiguous one refuses the
    whole scope (a misspelt commune never widens a directive). An empty scope is the whole area (the API).
    """
    tail = f"\nCách dùng: {usage}" if usage else ""
    if (too_long := scope_too_long(text.strip())) is not None:
        raise UserError(too_long + tail)
    folded = fold(text).strip()
    if not folded or folded in WHOLE_PROVINCE:
        return await whole_scope(session, within)
    if folded.startswith("don vi "):
        name = text.strip().split(maxsplit=2)[-1]
        (unit,) = await _resolve_items(session, [name], within, tail)
        return Scope(f"các xã thuộc {unit_label(unit)}", await store.communes_under(session, unit))
    items = [i.strip() for i in text.split(",") if i.strip()]
    # A unit named twice is named once (in the label too).
    found = list({unit.id: unit for unit in await _resolve_items(session, items, within, tail)}.values())
    communes: dict[int, OrgUnit] = {}
    for unit in found:
        for commune in await store.communes_under(session, unit):
            communes[commune.id or 0] = commune
    return Scope(", ".join(unit_label(u) for u in found), list(communes.values()))


@dataclass
class Request:
    """What /chidao was asked: scope, text and whether it is urgent."""

    scope: Scope
    text: str
    urgent: bool


def scope_colon(text: str) -> int:
    """Where the scope ends: the first colon that is not inside a time such as 14:00 (-1 when there is none)."""
    for index, char in enumerate(text):
        if char == ":" and not (text[index - 1 : index].isdigit() and text[index + 1 : index + 2].isdigit()):
            return index
    return -1


async def split_command(session: AsyncSession, args: str, usage: str, within: Authority) -> Request:
    """Split "/chidao [khẩn:] <phạm vi>: <nội dung>" into scope, text and urgency; the scope is required."""
    args = args.strip()
    urgent = False
    first, sep, rest = args.partition(":")
    if sep and fold(first).strip() in URGENT_WORDS:
        urgent, args = True, rest.strip()
    colon = scope_colon(args)
    if colon > MAX_SCOPE_CHARS:
        raise UserError(f"{scope_too_long(args[:colon].strip())}\nCách dùng: {usage}")
    if colon <= 0 or not args[:colon].strip():
        raise UserError(
            "Hãy ghi phạm vi trước dấu hai chấm, ví dụ «/chidao toàn tỉnh: …» hoặc «/chidao X1, X2: …». "
            f"Chưa gửi gì.\nCách dùng: {usage}"
        )
    scope = await parse_scope(session, args[:colon], within=within, usage=usage)
    return Request(scope, args[colon + 1 :].strip(), urgent)


@dataclass
class Sent:
    """A directive just created, with its target chats and the communes it could not reach."""

    directive: Directive
    targets: list[DirectiveTarget]
    scope: Scope
    reached: set[int] = field(default_factory=set)
    unreached: list[OrgUnit] = field(default_factory=list)
    # How many of the targets are people's private chats (communes without a group on their platform).
    people: int = 0

    @property
    def groups(self) -> int:
        """How many of the targets are groups."""
        return len(self.targets) - self.people


def _check_text(text: str, scope: Scope) -> None:
    if len(text) > MAX_TEXT_CHARS:
        size, limit = grouped(len(text)), grouped(MAX_TEXT_CHARS)
        raise UserError(f"Nội dung chỉ đạo dài {size} ký tự, tối đa {limit} ký tự. Hãy rút gọn. Chưa gửi gì.")
    if not scope.communes:
        raise UserError(f"Phạm vi «{scope.label}» không có xã/phường nào. Chưa gửi gì.")


async def _queue(
    session: AsyncSession, directive: Directive, scope: Scope, sender: str, now: datetime, tz: ZoneInfo
) -> Sent:
    queued = await store.queue_targets(
        session,
        directive,
        scope.communes,
        now=now,
        message=render_directive(directive, sender, tz),
        buttons=ack_buttons(directive),
    )
    if not queued:
        raise UserError(
            f"Trong phạm vi «{scope.label}» chưa có nhóm nào kết nối, cũng chưa ai có vai trò đã nhắn riêng với "
            "bot. Chưa gửi gì."
        )
    targets = [t for t, _person in queued]
    reached = {t.commune_id for t in targets}
    unreached = [c for c in scope.communes if c.id not in reached]
    people = sum(1 for _t, person in queued if person is not None)
    return Sent(directive, targets, scope, reached, unreached, people)


async def send_directive(
    session: AsyncSession,
    *,
    text: str,
    scope: Scope,
    sender: str,
    person: Person | None,
    now: datetime,
    tz: ZoneInfo,
    urgent: bool = False,
) -> Sent:
    """Save a directive and queue it to every bound group of the scope; UserError when it would reach nobody."""
    _check_text(text, scope)
    directive = await store.create_directive(
        session, text=text, scope_label=scope.label, person=person, now=now, urgent=urgent
    )
    return await _queue(session, directive, scope, sender, now, tz)


async def hold_directive(
    session: AsyncSession, *, text: str, scope: Scope, person: Person, now: datetime, urgent: bool = False
) -> Directive:
    """Save a directive that waits for its author's /xacnhan, with the communes resolved now."""
    _check_text(text, scope)
    return await store.create_directive(
        session,
        text=text,
        scope_label=scope.label,
        person=person,
        now=now,
        urgent=urgent,
        state=DirectiveState.PENDING,
        pending_communes=json.dumps([c.id for c in scope.communes]),
    )


def _first_names(units: list[OrgUnit]) -> str:
    """The first few units by name, then how many more."""
    names = ", ".join(unit_label(c) for c in units[:PREVIEW_NAMES])
    rest = len(units) - PREVIEW_NAMES
    return names + (f" và {rest} xã/phường khác" if rest > 0 else "")


# Below this, sending takes too little time to be worth a line in the preview.
SHOW_DURATION_FROM_SECONDS = 10.0
# What Telegram charges for each message sent with allow_paid_broadcast (Bot API, sendMessage).
PAID_BROADCAST_STARS = 0.1


PLATFORM_NAMES = {"telegram": "Telegram", "zalo": "Zalo", "zalo_oa": "Zalo OA", "gapowork": "GapoWork"}


def _vn_number(value: float) -> str:
    """A number written the Vietnamese way, one decimal at most: 8.000, 0,5, 1.234,5."""
    text = f"{value:,.1f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return text.removesuffix(",0")


def platform_rate(settings: Settings, platform: str) -> float:
    """Messages a second the bot sends on a platform overall (TELEGRAM_GLOBAL_RATE, or the paid broadcast's)."""
    if platform == "telegram":
        paid = settings.telegram_paid_broadcast
        return settings.telegram_paid_broadcast_rate if paid else settings.telegram_global_rate
    rates = {"zalo_oa": settings.zalo_oa_global_rate, "gapowork": settings.gapowork_global_rate}
    return rates.get(platform, settings.zalo_global_rate)


def sending_estimate(groups: Counter[str], settings: Settings) -> list[str]:
    """How long sending to `groups` (a count per platform) takes at each platform's overall rate, when long enough
    to matter, and what Telegram's paid broadcast costs when it is on."""
    lines = []
    paced = [p for p in groups if p in PLATFORM_NAMES]  # a terminal (console) has no pace
    slowest = max(paced, key=lambda p: groups[p] / platform_rate(settings, p), default=None)
    if slowest is not None:
        seconds = groups[slowest] / platform_rate(settings, slowest)
        if seconds >= SHOW_DURATION_FROM_SECONDS:
            rate, name = _vn_number(platform_rate(settings, slowest)), PLATFORM_NAMES.get(slowest, slowest)
            lines.append(f"Thời gian gửi dự kiến: khoảng {fmt_duration(seconds)} ({name} tối đa {rate} tin/giây).")
    if settings.telegram_paid_broadcast and groups["telegram"]:
        stars = _vn_number(groups["telegram"] * PAID_BROADCAST_STARS)
        lines.append(
            f"Telegram gửi nhanh có phí (allow_paid_broadcast): tối đa {stars} Telegram Stars "
            f"({_vn_number(groups['telegram'])} tin × 0,1 Star), trừ vào số dư Stars của bot."
        )
    return lines


async def preview(
    session: AsyncSession,
    directive: Directive,
    scope: Scope,
    held_until: str | None = None,
    settings: Settings | None = None,
) -> str:
    """What the author reads before confirming: the communes whose groups will receive it, then the communes no
    group would reach, when it will go out and how long sending takes (with `settings`), how to confirm."""
    reach = await store.groups_of(session, scope.communes)
    chats = {(b.platform, b.chat_id) for _commune, bindings in reach for b in bindings}
    groups = len(chats)
    reached = [commune for commune, bindings in reach if bindings]
    silent = [commune for commune, bindings in reach if not bindings]
    minutes = int(CONFIRM_WITHIN.total_seconds() // 60)
    urgent = " (khẩn: gửi ngay cả trong giờ nghỉ)" if directive.urgent else ""
    lines = [
        f"Chỉ đạo số {directive.id}{urgent} ({scope.label}) sẽ gửi tới {groups} nhóm của {len(reached)} xã/phường: "
        f"{_first_names(reached)}."
        if reached
        else f"Chỉ đạo số {directive.id} ({scope.label}) chưa tới nhóm nào."
    ]
    if silent:
        lines.append(f"Không nhận được (chưa có nhóm kết nối): {len(silent)} xã/phường: {_first_names(silent)}.")
    if held_until:
        lines.append(held_until)
    if settings is not None:
        lines += sending_estimate(Counter(platform for platform, _chat in chats), settings)
    lines.append(
        f"Gõ /xacnhan {directive.id} trong {minutes} phút để gửi, hoặc /thuhoi {directive.id} để huỷ. Chưa gửi gì."
    )
    return "\n".join(lines)


def quiet_note(now: datetime, tz: ZoneInfo, start_hour: int, end_hour: int, urgent: bool) -> str | None:
    """When a directive confirmed at `now` will reach phones, if the quiet hours hold it (None when it goes now)."""
    if urgent:
        return None
    end = quiet_hours_end(now.astimezone(tz), start_hour, end_hour)
    if end is None:
        return None
    return (
        f"Đang giờ nghỉ đêm: chỉ đạo sẽ tới các nhóm lúc {fmt_time(end, tz)}. "
        "Cần gửi ngay thì gửi lại với «khẩn:» ở đầu, ví dụ /chidao khẩn: toàn tỉnh: …"
    )


async def confirm_directive(
    session: AsyncSession, directive: Directive, person: Person, now: datetime, tz: ZoneInfo
) -> Sent:
    """Send a held directive: only its author, only within CONFIRM_WITHIN, only once."""
    number = directive.id
    if directive.created_by_person_id != person.id:
        raise UserError(f"Chỉ người soạn chỉ đạo số {number} mới xác nhận gửi được.")
    if directive.state == DirectiveState.SENT:
        raise UserError(f"Chỉ đạo số {number} đã được gửi rồi. Xem tình trạng: /tinhtrang {number}")
    if directive.state == DirectiveState.RECALLED:
        raise UserError(f"Chỉ đạo số {number} đã bị huỷ/thu hồi, không gửi được.")
    written = directive.created_at
    written = written if written.tzinfo else written.replace(tzinfo=UTC)  # SQLite gives naive UTC back
    if now - written > CONFIRM_WITHIN:
        minutes = int(CONFIRM_WITHIN.total_seconds() // 60)
        raise UserError(
            f"Chỉ đạo số {number} đã quá {minutes} phút chưa xác nhận nên hết hạn. Chưa gửi gì. "
            "Hãy gửi lại bằng /chidao."
        )
    ids = {int(i) for i in json.loads(directive.pending_communes or "[]")}
    units = await store.units_by_id(session, ids)
    communes = sorted((u for u in units.values() if u.active), key=lambda u: u.code)
    directive.state = DirectiveState.SENT
    directive.pending_communes = None
    session.add(directive)
    return await _queue(session, directive, Scope(directive.scope_label, communes), person.display_name, now, tz)


@dataclass
class Recall:
    """What /thuhoi did: sends cancelled, and groups told to disregard a directive they had received."""

    directive: Directive
    cancelled: int = 0
    notified: int = 0


async def recall_directive(session: AsyncSession, directive: Directive, person: Person, now: datetime) -> Recall:
    """Recall a directive: cancel what is not sent yet, and tell groups that received it to disregard it."""
    number = directive.id
    if directive.created_by_person_id != person.id:
        raise UserError(f"Chỉ người gửi chỉ đạo số {number} mới thu hồi được.")
    if directive.state == DirectiveState.RECALLED:
        raise UserError(f"Chỉ đạo số {number} đã được thu hồi trước đó.")
    recall = Recall(directive)
    if directive.state == DirectiveState.SENT:
        recall.cancelled, recall.notified = await store.recall_targets(session, directive, now)
    directive.state = DirectiveState.RECALLED
    directive.recalled_at = now
    directive.pending_communes = None
    session.add(directive)
    return recall


@dataclass
class CommuneStatus:
    """Delivery and acknowledgement of a directive in one commune: its groups, and its people reached privately."""

    commune_id: int
    commune: OrgUnit | None
    groups: int = 0
    delivered: int = 0
    pending: int = 0
    failures: list[str] = field(default_factory=list)
    ack: store.AckView | None = None
    # People reached in their private chats (the commune has no group on their platform), and how many got it.
    people: list[Person] = field(default_factory=list)
    people_delivered: int = 0
    # Every acknowledgement counted for this commune, oldest first.
    acks: list[store.AckView] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The commune as "Name (CODE)"."""
        return unit_label(self.commune) if self.commune else f"đơn vị {self.commune_id}"

    @property
    def people_acked(self) -> list[Person]:
        """The people reached privately who have acknowledged."""
        acked = {view.person.id for view in self.acks}
        return [p for p in self.people if p.id in acked]

    @property
    def people_waiting(self) -> list[Person]:
        """The people reached privately who have not acknowledged yet."""
        acked = {view.person.id for view in self.acks}
        return [p for p in self.people if p.id not in acked]


@dataclass
class DirectiveStatus:
    """Everything /tinhtrang and the API show about a directive, communes ordered by code."""

    directive: Directive
    communes: list[CommuneStatus]

    def count(self, what: str) -> int:
        """Chats delivered, pending or failed over all communes (groups and private chats)."""
        if what == "failed":
            return sum(len(c.failures) for c in self.communes)
        if what == "delivered":
            return sum(c.delivered + c.people_delivered for c in self.communes)
        return sum(getattr(c, what) for c in self.communes)

    @property
    def not_acknowledged(self) -> list[CommuneStatus]:
        """Communes where nobody has acknowledged yet."""
        return [c for c in self.communes if c.ack is None]

    def within(self, area: Authority) -> bool:
        """True when every commune of the directive lies within `area` (one unit or several)."""
        return all(c.commune is not None and _inside(c.commune, area) for c in self.communes)

    def only(self, area: Authority) -> DirectiveStatus:
        """The same status limited to the communes inside `area` (a commune leader sees their own)."""
        return DirectiveStatus(
            self.directive, [c for c in self.communes if c.commune is not None and _inside(c.commune, area)]
        )


async def directive_status(session: AsyncSession, directive: Directive) -> DirectiveStatus:
    """Delivered, failed (with reason) and acknowledged per commune, groups and people reached privately apart."""
    targets = await store.targets_of(session, directive.id or 0)
    acks = await store.acks_of(session, directive.id or 0)
    units = await store.units_by_id(session, {t.commune_id for t, _row in targets})
    private = await org_store.people_of_private_chats(session, {(t.platform, t.chat_id) for t, _row in targets})
    per: dict[int, CommuneStatus] = {}
    for target, row in targets:
        status = per.setdefault(target.commune_id, CommuneStatus(target.commune_id, units.get(target.commune_id)))
        person = private.get((target.platform, target.chat_id))
        if person is not None:
            status.people.append(person)
        else:
            status.groups += 1
        state = row.state if row else OutboxState.FAILED
        if state == OutboxState.SENT:
            if person is not None:
                status.people_delivered += 1
            else:
                status.delivered += 1
        elif state == OutboxState.FAILED:
            status.failures.append((row.last_error if row else None) or "lỗi không rõ")
        else:
            status.pending += 1
    for view in acks:
        counted = per.get(view.ack.commune_id or 0)
        if counted is not None:
            counted.acks.append(view)
            counted.ack = counted.ack or view
    ordered = sorted(per.values(), key=lambda c: c.commune.code if c.commune else "")
    return DirectiveStatus(directive, ordered)
