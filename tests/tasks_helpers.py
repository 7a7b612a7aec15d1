"""Helpers for task tests: a commune with a leader, team leaders and members, and outbox reading."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import col, select

from tests.helpers import ChatHarness, FakeClock, Tree, build_tree, join_code
from tocns.app import BotApp
from tocns.core.roles import Role
from tocns.features.activity.models import ActivityRecord
from tocns.features.org import store as org_store
from tocns.outbox.models import OutboxMessage
from tocns.scheduler import run_due_jobs


@dataclass
class Commune:
    """Xã Tân Lập bound to group-1: leader 10 (@hung), team leader 20 of Thôn 1, members 21 (Thôn 1), 31 (Thôn 3)."""

    tree: Tree


async def setup_commune(app: BotApp, chat: ChatHarness, clock: FakeClock) -> Commune:
    """Bind group-1 to the commune and create its people through the chat, as users would."""
    async with app.db.session() as session:
        tree = await build_tree(session)
        code = await join_code(session, tree.commune, Role.COMMUNE_LEADER, clock())
    await chat.send(f"/ketnoi {code}", user="10", name="Chủ tịch Hùng", username="hung")
    await chat.send("/thamgia thon 1", user="20", name="Tổ trưởng Minh", username="minh")
    await chat.send("/thamgia thon 1", user="21", name="Lan")
    await chat.send("/thamgia thon 3", user="31", name="Bình", username="binh")
    await chat.send("/vaitro @minh to truong", user="10")
    return Commune(tree)


async def tick(app: BotApp, clock: FakeClock, local: str) -> list[str]:
    """Move the clock to a local time and run every job, as `tocns tick --at` does."""
    clock.set_local(local)
    return await run_due_jobs(app, clock(), wait=True)


async def outbox_rows(app: BotApp, kind: str | None = None) -> list[OutboxMessage]:
    """Every outbox row (optionally of one kind), oldest first."""
    async with app.db.session() as session:
        query = select(OutboxMessage).order_by(col(OutboxMessage.id))
        if kind is not None:
            query = query.where(OutboxMessage.kind == kind)
        return list((await session.exec(query)).all())


async def log_activity(app: BotApp, person_user_id: str, team_id: int, day: date, deleted: bool = False) -> None:
    """Insert an activity record for a team, as /ghi would."""
    async with app.db.session() as session:
        person = await org_store.get_person(session, "console", person_user_id)
        assert person is not None
        from tocns.core.clock import utcnow

        session.add(
            ActivityRecord(
                person_id=person.id or 0,
                org_unit_id=team_id,
                activity_date=day,
                platform="console",
                chat_id="group-1",
                deleted_at=utcnow() if deleted else None,
            )
        )
