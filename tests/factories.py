"""Test factories: a fake clock, a chat harness, org trees, bound groups, logged records and scheduled ticks."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import event
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.app import BotApp
from tocns.core.clock import CLOCK_START_ENV
from tocns.core.mentions import render_plain
from tocns.core.messages import ChatType, IncomingMessage, Mention, Reply
from tocns.core.roles import Level, Role
from tocns.db.engine import Database
from tocns.features.activity.models import ActivityItem, ActivityRecord, Indicator
from tocns.features.org import service as org_service
from tocns.features.org import store as org_store
from tocns.features.org.models import OrgUnit, Person
from tocns.outbox import store as outbox_store
from tocns.outbox.models import OutboxMessage
from tocns.scheduler import run_due_jobs

VN = ZoneInfo("Asia/Ho_Chi_Minh")


class FakeClock:
    """A clock tests move by hand; always timezone-aware UTC."""

    def __init__(self, start: datetime) -> None:
        self.now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now

    def set_local(self, text: str) -> None:
        """Set the time from a local 'YYYY-MM-DD HH:MM' string (Asia/Ho_Chi_Minh)."""
        self.now = datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=VN).astimezone(UTC)

    def advance(self, **kwargs: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(**kwargs)


class RunningClock:
    """A fake clock's time moving on at real speed (so a sender really waits out a retry_after)."""

    def __init__(self, base: Callable[[], datetime]) -> None:
        self.base = base
        self.start = time.monotonic()

    def __call__(self) -> datetime:
        return self.base() + timedelta(seconds=time.monotonic() - self.start)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now (for a server a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clock_env(clock: Callable[[], datetime]) -> dict[str, str]:
    """Environment for a `tocns` subprocess whose clock starts where `clock` is now (then runs at real speed)."""
    return {CLOCK_START_ENV: clock().isoformat()}


class ChatHarness:
    """Sends neutral messages through the router, as any channel would."""

    def __init__(self, app: BotApp, platform: str = "console") -> None:
        self.app = app
        self.platform = platform
        self._next_id = 1000
        self.names: dict[str, str] = {"1": "Lan"}

    async def send(
        self,
        text: str,
        *,
        user: str = "1",
        name: str | None = None,
        chat: str = "group-1",
        private: bool = False,
        message_id: str | None = None,
        mentions: list[Mention] | None = None,
        photo: str | None = None,
        addressed: bool = False,
        username: str | None = None,
    ) -> list[Reply]:
        """Send one message and return every reply."""
        if name is None:
            name = self.names.get(user, f"Người {user}")
        self.names[user] = name
        if message_id is None:
            self._next_id += 1
            message_id = str(self._next_id)
        msg = IncomingMessage(
            platform=self.platform,
            chat_id=chat,
            user_id=user,
            display_name=name,
            text=text,
            message_id=message_id,
            chat_type=ChatType.PRIVATE if private else ChatType.GROUP,
            mentions=mentions or [],
            photo=photo,
            addressed_to_bot=addressed,
            username=username,
        )
        return await self.app.pipeline.handle(msg)

    async def text(self, text: str, **kwargs: object) -> str:
        """Send one message and return the replies' text joined by newlines."""
        replies = await self.send(text, **kwargs)  # type: ignore[arg-type]
        return "\n".join(r.text for r in replies)


@dataclass
class Tree:
    """A small org tree for tests: one province, two communes, teams."""

    province: OrgUnit
    commune: OrgUnit
    other_commune: OrgUnit
    teams: list[OrgUnit]
    other_teams: list[OrgUnit]


async def build_tree(session: AsyncSession) -> Tree:
    """Create province P01 with communes X1 (Thôn 1, Thôn 3, Bản Nà Hin) and X2 (Thôn 1)."""
    province = await org_store.create_unit(session, code="P01", name="Tỉnh Thử", level=Level.PROVINCE)
    commune = await org_store.create_unit(session, code="X1", name="Xã Tân Lập", level=Level.COMMUNE, parent=province)
    other = await org_store.create_unit(session, code="X2", name="Xã Hòa Bình", level=Level.COMMUNE, parent=province)
    teams = [await org_store.add_team(session, "X1", n) for n in ("Thôn 1", "Thôn 3", "Bản Nà Hin")]
    other_teams = [await org_store.add_team(session, "X2", "Thôn 1")]
    return Tree(province, commune, other, teams, other_teams)


async def member_in_bound_group(app: BotApp, group: int) -> Tree:
    """The tree, Telegram group `group` bound to commune X1 and MEMBER ("Lan") in its first team (served tests)."""
    async with app.db.session() as session:
        tree = await build_tree(session)
        await org_store.bind_chat(session, platform="telegram", chat_id=str(group), unit=tree.commune, person=None)
        person = await org_store.upsert_person(session, platform="telegram", user_id=MEMBER, display_name="Lan")
        await org_store.set_membership(session, person=person, unit=tree.teams[0], role=Role.MEMBER)
    return tree


async def join_code(
    session: AsyncSession, unit: OrgUnit, role: Role, now: datetime, ttl: timedelta = timedelta(days=7)
) -> str:
    """Issue a join code in a test."""
    code = await org_service.create_join_code(session, unit=unit, role=role, ttl=ttl, now=now)
    return code.code


# The one set of people of the test scenarios, as platform user ids (strings, as stored; int(...) where a platform's
# JSON carries a number): the commune leader who binds group-1, and two members of Thôn 3.
LEADER = "9"
MEMBER = "1"
OTHER_MEMBER = "2"


async def setup_group(app: BotApp, chat: ChatHarness, clock: FakeClock) -> Tree:
    """Bind group-1 to commune X1 (user 9 leads it); Lan (1) and Hùng (2) join Thôn 3."""
    async with app.db.session() as session:
        tree = await build_tree(session)
        code = await join_code(session, tree.commune, Role.COMMUNE_LEADER, clock())
    assert "Đã kết nối" in await chat.text(f"/ketnoi {code}", user=LEADER, name="Chủ tịch Bình")
    assert "đã tham gia" in await chat.text("/thamgia thon 3", user=MEMBER, name="Lan")
    assert "đã tham gia" in await chat.text("/thamgia thon 3", user=OTHER_MEMBER, name="Hùng")
    return tree


def record_id(reply: str) -> int:
    """The record id echoed in a /ghi receipt."""
    match = re.search(r"Đã ghi #(\d+)", reply)
    assert match, reply
    return int(match.group(1))


def echoed_quantities(reply: str) -> list[int]:
    """The quantities listed in a receipt ('- name (code): 5 người')."""
    return [int(q) for q in re.findall(r"^- .+\(\w+\): (\d+) ", reply, re.MULTILINE)]


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
    """Every outbox row (optionally of one kind), oldest first, its text as the console shows it (mentions plain)."""
    async with app.db.session() as session:
        query = select(OutboxMessage).order_by(col(OutboxMessage.id))
        if kind is not None:
            query = query.where(OutboxMessage.kind == kind)
        rows = list((await session.exec(query)).all())
        session.expunge_all()
    for row in rows:
        row.text = render_plain(row.text)
    return rows


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


DEFAULT_INDICATORS = [
    ("dvc", "Dịch vụ công trực tuyến", "hồ sơ"),
    ("vneid", "Kích hoạt VNeID", "tài khoản"),
    ("thanhtoan", "Thanh toán không dùng tiền mặt", "tài khoản"),
    ("tmdt", "Thương mại điện tử", "hộ"),
    ("nentang", "Nền tảng số", "lượt"),
    ("suckhoe", "Sổ sức khỏe điện tử", "người"),
    ("bhxh", "VssID - BHXH số", "tài khoản"),
    ("attt", "An toàn thông tin", "lượt"),
    ("taphuan", "Tập huấn", "buổi"),
    ("khac", "Khác", "lượt"),
]


async def add_indicators(session: AsyncSession) -> dict[str, Indicator]:
    """Insert the ten default indicators; return them by code."""
    out: dict[str, Indicator] = {}
    for order, (code, name, unit) in enumerate(DEFAULT_INDICATORS):
        ind = Indicator(code=code, name=name, unit=unit, sort_order=order)
        session.add(ind)
        out[code] = ind
    await session.flush()
    return out


@dataclass
class Logger:
    """Inserts records for one person, as /ghi would."""

    session: AsyncSession
    person: Person
    indicators: dict[str, Indicator]
    counter: int = 0

    async def log(
        self,
        team: OrgUnit,
        day: date,
        items: dict[str, int],
        created_at: datetime,
        deleted_at: datetime | None = None,
    ) -> ActivityRecord:
        """Insert one record with its items."""
        self.counter += 1
        record = ActivityRecord(
            person_id=self.person.id or 0,
            org_unit_id=team.id or 0,
            activity_date=day,
            platform="console",
            chat_id="g",
            message_id=f"m{self.counter}",
            created_at=created_at,
            deleted_at=deleted_at,
        )
        self.session.add(record)
        await self.session.flush()
        for code, qty in items.items():
            self.session.add(
                ActivityItem(record_id=record.id or 0, indicator_id=self.indicators[code].id or 0, quantity=qty)
            )
        await self.session.flush()
        return record


async def make_logger(session: AsyncSession, now: datetime) -> Logger:
    """The indicators plus a person to log with."""
    indicators = await add_indicators(session)
    person = await org_store.upsert_person(
        session,
        platform="console",
        user_id="logger",
        display_name="Chị Lan",
        username=None,
        private_chat_id=None,
        now=now,
    )
    return Logger(session, person, indicators)


async def bound_groups(db: Database, count: int, platform: str = "telegram") -> list[str]:
    """Create a province with `count` communes, each with a group bound to it; return the chat ids."""
    chats = []
    async with db.session() as session:
        province = await org_store.create_unit(session, code="P01", name="Tỉnh Thử", level=Level.PROVINCE)
        for i in range(count):
            commune = await org_store.create_unit(
                session, code=f"{i + 1:05d}", name=f"Xã Số {i + 1}", level=Level.COMMUNE, parent=province
            )
            chat_id = str(-1000 - i)
            await org_store.bind_chat(session, platform=platform, chat_id=chat_id, unit=commune, person=None)
            chats.append(chat_id)
    return chats


async def queue(
    db: Database,
    chats: list[str],
    text: str = "Chỉ đạo số {i}",
    kind: str = "directive",
    now: datetime | None = None,
) -> None:
    """Queue one message per chat, due at `now` (default: the wall clock, for senders on the wall clock)."""
    async with db.session() as session:
        for i, chat in enumerate(chats):
            await outbox_store.enqueue(
                session, platform="telegram", chat_id=chat, text=text.format(i=i), kind=kind, now=now
            )


def count_statements(app: BotApp) -> tuple[list[str], Callable[[], None]]:
    """Start recording every SQL statement `app` runs: (the list they go to, the function that stops recording).
    SQLite's BEGIN (the session opening its write transaction) is not counted: the counts compare across databases."""
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if not statement.startswith("BEGIN"):
            seen.append(statement)

    event.listen(app.db.engine.sync_engine, "before_cursor_execute", record)
    return seen, lambda: event.remove(app.db.engine.sync_engine, "before_cursor_execute", record)
