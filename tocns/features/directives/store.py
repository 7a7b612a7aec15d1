"""Directives: creating one with its target groups, acknowledgements, status and reminders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.core.messages import Button
from tocns.core.roles import Level
from tocns.core.text import fold
from tocns.db import job_done
from tocns.features.directives.models import (
    Directive,
    DirectiveAck,
    DirectiveApiRequest,
    DirectiveState,
    DirectiveTarget,
)
from tocns.features.org import store as org_store
from tocns.features.org.models import ChatBinding, OrgUnit, Person
from tocns.features.org.reach import load_reach
from tocns.outbox import store as outbox_store
from tocns.outbox.models import OutboxMessage, OutboxState

# Reminders are only looked for on directives younger than this, so old directives cost nothing.
REMINDER_HORIZON = timedelta(days=7)
# The job_done rows of directives whose reminders have all been queued (one reminder per group and directive).
REMINDERS_JOB = "directive_reminders"
REMINDERS_SENT = "sent"


async def find_units(session: AsyncSession, text: str) -> list[OrgUnit]:
    """Units whose code is `text`, or whose name matches it without diacritics ("tan lap" for "Xã Tân Lập")."""
    by_code = await org_store.get_unit_by_code(session, text)
    if by_code is not None:
        return [by_code]
    folded = fold(text).strip()
    if not folded:
        return []
    result = await session.exec(
        select(OrgUnit).where(
            OrgUnit.active == True,  # noqa: E712
            col(OrgUnit.level) != Level.TEAM,
            or_(OrgUnit.name_folded == folded, col(OrgUnit.name_folded).endswith(" " + folded)),
        )
    )
    return list(result.all())


async def communes_under(session: AsyncSession, unit: OrgUnit) -> list[OrgUnit]:
    """The communes a unit stands for: itself if it is one, else every commune below it."""
    if unit.level == Level.COMMUNE:
        return [unit]
    return await org_store.descendants(session, unit, level=Level.COMMUNE)


async def all_communes(session: AsyncSession) -> list[OrgUnit]:
    """Every active commune of the tree (the scope "toàn tỉnh")."""
    result = await session.exec(
        select(OrgUnit).where(OrgUnit.level == Level.COMMUNE, OrgUnit.active == True)  # noqa: E712
    )
    return sorted(result.all(), key=lambda u: u.code)


async def named_units(session: AsyncSession) -> list[OrgUnit]:
    """Every active unit a scope may name (all but teams), to suggest the closest names to a misspelt one."""
    result = await session.exec(
        select(OrgUnit).where(OrgUnit.active == True, col(OrgUnit.level) != Level.TEAM)  # noqa: E712
    )
    return list(result.all())


async def create_directive(
    session: AsyncSession,
    *,
    text: str,
    scope_label: str,
    person: Person | None,
    now: datetime,
    urgent: bool = False,
    state: str = DirectiveState.SENT,
    pending_communes: str | None = None,
) -> Directive:
    """Save a directive (its number is its id)."""
    directive = Directive(
        text=text,
        scope_label=scope_label[:500],
        created_by_person_id=person.id if person else None,
        created_at=now,
        urgent=urgent,
        state=state,
        pending_communes=pending_communes,
    )
    session.add(directive)
    await session.flush()
    return directive


async def groups_of(session: AsyncSession, communes: list[OrgUnit]) -> list[tuple[OrgUnit, list[ChatBinding]]]:
    """Each commune with the active groups a directive to it reaches: its own and those of the units below it."""
    found = await org_store.bindings_under(session, communes)
    return [(commune, found[commune.id or 0]) for commune in communes]


async def queue_targets(
    session: AsyncSession,
    directive: Directive,
    communes: list[OrgUnit],
    *,
    now: datetime,
    message: str,
    buttons: Sequence[Button] = (),
) -> list[tuple[DirectiveTarget, Person | None]]:
    """Queue a directive to every active group of the communes (and of the units below them) and, on a platform
    where a commune has no group, to the private chat of each person holding a role there (`org.reach`).

    Each chat gets it once (dedupe key per directive and chat), counted for the first commune that reaches it;
    the person is given for a private chat.
    """
    reach = await load_reach(session)
    targets: list[tuple[DirectiveTarget, Person | None]] = []
    for commune in communes:
        for chat in reach.chats_of(commune):
            row = await outbox_store.enqueue(
                session,
                platform=chat.platform,
                chat_id=chat.chat_id,
                text=message,
                # An urgent directive goes out even in quiet hours (outbox.store.IMMEDIATE_KINDS).
                kind="directive_urgent" if directive.urgent else "directive",
                dedupe_key=f"directive:{directive.id}:{chat.platform}:{chat.chat_id}",
                now=now,
                buttons=buttons,
            )
            if row is None:  # the same chat under two communes of the scope: once is enough
                continue
            target = DirectiveTarget(
                directive_id=directive.id or 0,
                commune_id=commune.id or 0,
                org_unit_id=chat.unit_id,
                platform=chat.platform,
                chat_id=chat.chat_id,
                outbox_id=row.id,
            )
            session.add(target)
            targets.append((target, chat.person))
    await session.flush()
    return targets


async def recall_targets(session: AsyncSession, directive: Directive, now: datetime) -> tuple[int, int]:
    """Cancel the directive's unsent messages and queue a recall notice where it was (or is being) delivered.

    Returns (cancelled, notified). A message the sender has already claimed counts as delivered: the notice
    may then reach a group that never saw the directive, which is harmless; the reverse would not be.
    """
    rows = await targets_of(session, directive.id or 0)
    cancelled = await outbox_store.cancel_pending(session, [t.outbox_id for t, _row in rows if t.outbox_id])
    notified = 0
    for target, row in rows:
        if target.outbox_id in cancelled or row is None or row.state in (OutboxState.FAILED, OutboxState.CANCELLED):
            continue
        queued = await outbox_store.enqueue(
            session,
            platform=target.platform,
            chat_id=target.chat_id,
            text=f"⚠️ Chỉ đạo số {directive.id} đã được thu hồi. Không thực hiện chỉ đạo này.",
            kind="directive_recall",
            dedupe_key=f"directive-recall:{directive.id}:{target.platform}:{target.chat_id}",
            now=now,
        )
        notified += queued is not None
    return len(cancelled), notified


async def get_directive(session: AsyncSession, directive_id: int) -> Directive | None:
    """Load a directive by id."""
    return await session.get(Directive, directive_id)


async def targets_of(session: AsyncSession, directive_id: int) -> list[tuple[DirectiveTarget, OutboxMessage | None]]:
    """A directive's target groups with their outbox rows (delivery state)."""
    result = await session.exec(
        select(DirectiveTarget, OutboxMessage)
        .join(OutboxMessage, col(OutboxMessage.id) == col(DirectiveTarget.outbox_id), isouter=True)
        .where(DirectiveTarget.directive_id == directive_id)
        .order_by(col(DirectiveTarget.id))
    )
    return [(t, o) for t, o in result.all()]


async def record_ack(
    session: AsyncSession,
    directive: Directive,
    person: Person,
    commune_id: int | None,
    now: datetime,
    role: str | None = None,
) -> bool:
    """Record a person's acknowledgement; False when they had already acknowledged."""
    ack = DirectiveAck(
        directive_id=directive.id or 0, person_id=person.id or 0, commune_id=commune_id, acked_at=now, role=role
    )
    try:
        async with session.begin_nested():
            session.add(ack)
    except IntegrityError:
        return False
    return True


@dataclass
class AckView:
    """An acknowledgement with who gave it."""

    ack: DirectiveAck
    person: Person


async def acks_of(session: AsyncSession, directive_id: int) -> list[AckView]:
    """Every acknowledgement of a directive, oldest first."""
    result = await session.exec(
        select(DirectiveAck, Person)
        .join(Person, col(Person.id) == col(DirectiveAck.person_id))
        .where(DirectiveAck.directive_id == directive_id)
        .order_by(col(DirectiveAck.acked_at))
    )
    return [AckView(a, p) for a, p in result.all()]


async def units_by_id(session: AsyncSession, ids: set[int]) -> dict[int, OrgUnit]:
    """Load several units at once."""
    if not ids:
        return {}
    result = await session.exec(select(OrgUnit).where(col(OrgUnit.id).in_(list(ids))))
    return {u.id or 0: u for u in result.all()}


@dataclass(frozen=True)
class DueTarget:
    """A group still to be reminded of a directive: its commune has not acknowledged, its delivery did not fail."""

    directive_id: int
    platform: str
    chat_id: str


async def unacked_targets(
    session: AsyncSession, now: datetime, after: timedelta
) -> tuple[list[int], list[tuple[Directive, DueTarget]]]:
    """The directives due for reminders whose reminders have not all gone yet (`REMINDERS_JOB`'s rows: an idle
    minute reads no target), and their target groups to remind; three queries.

    A group whose commune acknowledged is left out, and so is one whose delivery failed (the bot was removed: a
    reminder would fail the same way). The groups come as plain rows filtered in SQL: a directive to every commune
    has thousands of targets, and loading them as objects held the event loop ~100 ms (bench/RESULTS.md).
    """
    directives = (
        await session.exec(
            select(Directive)
            .where(
                col(Directive.created_at) <= now - after,
                col(Directive.created_at) > now - after - REMINDER_HORIZON,
                Directive.state == DirectiveState.SENT,
            )
            .order_by(col(Directive.id))
        )
    ).all()
    done = await job_done.finished_scopes(session, REMINDERS_JOB, REMINDERS_SENT, [d.id or 0 for d in directives])
    by_id = {d.id or 0: d for d in directives if d.id not in done}
    if not by_id:
        return [], []
    target, ack, outbox = DirectiveTarget, DirectiveAck, OutboxMessage
    acked = select(ack.id).where(ack.directive_id == target.directive_id, ack.commune_id == target.commune_id)
    rows = await session.exec(
        select(target.directive_id, target.platform, target.chat_id)
        .outerjoin(outbox, col(outbox.id) == col(target.outbox_id))
        .where(
            col(target.directive_id).in_(list(by_id)),
            ~acked.exists(),
            or_(col(outbox.id).is_(None), col(outbox.state) != OutboxState.FAILED),
        )
        .order_by(col(target.directive_id), col(target.id))
    )
    due = [(by_id[row[0]], DueTarget(*row)) for row in rows]
    return list(by_id), due


async def move_chat(session: AsyncSession, platform: str, old_chat_id: str, new_chat_id: str) -> None:
    """Follow a chat whose id changed, so acknowledgements typed there still find their directives."""
    result = await session.exec(
        select(DirectiveTarget).where(DirectiveTarget.platform == platform, DirectiveTarget.chat_id == old_chat_id)
    )
    for target in result.all():
        target.chat_id = new_chat_id
        session.add(target)


async def find_api_request(session: AsyncSession, token_id: int, key: str) -> DirectiveApiRequest | None:
    """The earlier POST of this token with this Idempotency-Key, if any."""
    result = await session.exec(
        select(DirectiveApiRequest).where(
            DirectiveApiRequest.api_token_id == token_id, DirectiveApiRequest.idempotency_key == key
        )
    )
    return result.first()


async def save_api_request(
    session: AsyncSession,
    token_id: int,
    key: str,
    request_hash: str,
    directive_id: int,
    response: str,
    now: datetime,
) -> None:
    """Remember a POST's Idempotency-Key; IntegrityError at flush when a concurrent POST saved it first."""
    session.add(
        DirectiveApiRequest(
            api_token_id=token_id,
            idempotency_key=key,
            request_hash=request_hash,
            directive_id=directive_id,
            response=response,
            created_at=now,
        )
    )
    await session.flush()
