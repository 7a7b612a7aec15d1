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


async def test_a_retried_message_holds_back_the_later_ones_of_its_chat_and_kind(db: Database) -> None:
    # A summary's text and then its files, to one group; another group's summary and the same group's digest.
    summary = dict(platform="telegram", chat_id="-1", kind="summary", now=NOW)
    async with db.session() as session:
        await outbox_store.enqueue(session, text="Báo cáo tuần", dedupe_key="s-text", **summary)  # type: ignore[arg-type]
        await outbox_store.enqueue(session, text="Tệp", dedupe_key="s-files", **summary)  # type: ignore[arg-type]
        await outbox_store.enqueue(session, **{**_message(2, "other-chat"), "kind": "summary"})  # type: ignore[arg-type]
        await outbox_store.enqueue(session, **{**_message(1, "other-kind")})  # type: ignore[arg-type]
    async with db.session() as session:
        first = await outbox_store.claim(session, owner="s", platforms=["telegram"], now=NOW, lease_seconds=60, limit=1)
    assert [r.dedupe_key for r in first] == ["s-text"]
    retry = datetime(2026, 11, 23, 1, 5, tzinfo=UTC)
    async with db.session() as session:
        await outbox_store.reschedule(session, [first[0].id or 0], "s", retry, "500")
    async with db.session() as session:
        due = await outbox_store.claim(session, owner="s", platforms=["telegram"], now=NOW, lease_seconds=3600, limit=9)
    # The files wait for the text; the other chat's summary and the same chat's digest go now.
    assert sorted(r.dedupe_key or "" for r in due) == ["other-chat", "other-kind"]
    async with db.session() as session:
        later = await outbox_store.claim(
            session, owner="s", platforms=["telegram"], now=retry, lease_seconds=60, limit=9
        )
    assert [r.dedupe_key for r in later] == ["s-text", "s-files"]
