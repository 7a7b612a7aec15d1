"""Report test helpers: the default indicators and direct inserts of activity records and items."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.features.activity.models import ActivityItem, ActivityRecord, Indicator
from tocns.features.org import store as org_store
from tocns.features.org.models import OrgUnit, Person

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
