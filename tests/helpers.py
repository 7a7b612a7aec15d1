"""Test helpers: a fake clock, a chat harness and org-tree builders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.app import BotApp
from tocns.core.messages import ChatType, IncomingMessage, Mention, Reply
from tocns.core.roles import Level, Role
from tocns.features.org import store as org_store
from tocns.features.org.models import OrgUnit

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


class ChatHarness:
    """Sends neutral messages through the router, as any adapter would."""

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


async def join_code(
    session: AsyncSession, unit: OrgUnit, role: Role, now: datetime, ttl: timedelta = timedelta(days=7)
) -> str:
    """Issue a join code in a test."""
    code = await org_store.create_join_code(session, unit=unit, role=role, ttl=ttl, now=now)
    return code.code
