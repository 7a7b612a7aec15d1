"""Sample records for `tocns demo`: a few weeks of logging by the demo teams' members."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.config import get_settings
from tocns.core.clock import utcnow
from tocns.features.activity import store as activity_store

if TYPE_CHECKING:
    from tocns.demo import DemoResult


DEMO_WEEKS = 3


async def demo_activity(session: AsyncSession, result: DemoResult) -> list[str]:
    """Sample records for the demo: a few weeks of logging by the demo teams' members."""
    rows = await activity_store.indicators(session)
    common = [r for r in rows if r.code in ("vneid", "dvc", "thanhtoan", "bhxh", "suckhoe", "attt")] or rows
    tz = get_settings().tz
    today = utcnow().astimezone(tz).date()
    rng = random.Random(11)
    count = 0
    for teams in result.teams.values():
        for team in teams:
            for person in result.members.get(team.code, []):
                for back in range(DEMO_WEEKS * 7):
                    if rng.random() > 0.15:
                        continue
                    day = today - timedelta(days=back)
                    picked = rng.sample(common, k=rng.randint(1, 3))
                    items = [(ind, rng.randint(1, 12)) for ind in picked]
                    text = "/ghi " + ", ".join(f"{ind.code} {q}" for ind, q in items)
                    created = datetime.combine(day, time(17, 30), tzinfo=tz).astimezone(UTC)
                    await activity_store.create_record(
                        session,
                        person=person,
                        team=team,
                        activity_date=day,
                        items=items,
                        note=None,
                        message_text=text,
                        photo=None,
                        platform="console",
                        chat_id=result.chat_ids.get(team.code, "demo"),
                        message_id=None,
                        now=min(created, utcnow()),
                    )
                    count += 1
    return [
        f"Nhật ký mẫu: {count} phiếu ghi kết quả trong {DEMO_WEEKS} tuần qua (xem bằng /cuatoi, xuất bằng "
        "tocns export activities)."
    ]
