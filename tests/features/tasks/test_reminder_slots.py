"""The bulk lookups the scheduled jobs rely on to stay cheap on a large province."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from tocns.db.engine import Database
from tocns.features.tasks.jobs import current_slot, reminder_slots
from tocns.outbox import store as outbox


async def test_used_keys_finds_exactly_the_keys_already_enqueued(db: Database) -> None:
    now = datetime(2026, 11, 23, 1, tzinfo=UTC)
    async with db.session() as session:
        for n in range(0, 3000, 3):
            await outbox.enqueue(
                session, platform="telegram", chat_id="-1", text="x", dedupe_key=f"nhắc:Xã Đông:{n}", now=now
            )
    # More keys than SQLite's old 999-parameter limit, with diacritics and one key asked twice.
    asked = [f"nhắc:Xã Đông:{n}" for n in range(3000)] + ["nhắc:Xã Đông:0", "nhac:Xa Dong:3"]
    async with db.session() as session:
        used = await outbox.used_keys(session, asked)
        assert await outbox.used_keys(session, []) == set()
    assert used == {f"nhắc:Xã Đông:{n}" for n in range(0, 3000, 3)}


def test_a_task_overdue_for_a_year_still_gets_todays_overdue_reminder() -> None:
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    slots = reminder_slots(date(2025, 11, 3), [3, 1, 0], date(2026, 11, 25))
    slot = current_slot(slots, datetime(2026, 11, 25, 8, 0, tzinfo=tz), 8)
    assert slot is not None and (slot.kind, slot.day) == ("overdue", date(2026, 11, 25))
    # Before 08:00 nothing new goes out: today's reminder is due at 08:00.
    early = current_slot(slots, datetime(2026, 11, 25, 7, 59, tzinfo=tz), 8)
    assert early is None
