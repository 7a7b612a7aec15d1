"""The outbox store: keyed messages enqueued many at a time."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import col, select

from tocns.db.engine import Database
from tocns.outbox import store as outbox_store
from tocns.outbox.models import OutboxMessage, OutboxState

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def _message(n: int, key: str) -> dict[str, object]:
    return dict(platform="telegram", chat_id=f"-{n}", text=f"Bản tin {n}", kind="digest", dedupe_key=key, now=NOW)


async def test_enqueue_many_stores_each_new_key_once_and_skips_used_ones(db: Database) -> None:
    async with db.session() as session:
        assert await outbox_store.enqueue(session, **_message(0, "k0")) is not None  # type: ignore[arg-type]
    # More than one INSERT's worth, one key already used, one key twice in the same call.
    messages = [_message(n, f"k{n}") for n in range(outbox_store.ENQUEUE_MANY_ROWS + 5)] + [_message(9, "k3")]
    async with db.session() as session:
        stored = await outbox_store.enqueue_many(session, messages)
    assert stored == {f"k{n}" for n in range(1, outbox_store.ENQUEUE_MANY_ROWS + 5)}
    async with db.session() as session:
        rows = list((await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all())
    assert len(rows) == outbox_store.ENQUEUE_MANY_ROWS + 5
    assert [r.dedupe_key for r in rows[:4]] == ["k0", "k1", "k2", "k3"]
    third = rows[3]
    assert (third.chat_id, third.text, third.kind, third.state) == ("-3", "Bản tin 3", "digest", OutboxState.PENDING)
    assert third.next_attempt_at is not None and third.attachments is None
    # Enqueued again (a retried tick): nothing new.
    async with db.session() as session:
        assert await outbox_store.enqueue_many(session, messages) == set()
