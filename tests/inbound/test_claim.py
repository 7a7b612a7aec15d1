"""The loop's claim takes each chat's oldest pending update, the oldest first, once, whoever claims at once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlmodel import select

from tests.factories import FakeClock
from tocns.db.engine import Database
from tocns.inbound import store as inbound_store
from tocns.inbound.models import InboundUpdate


async def _store(db: Database, clock: FakeClock, *chats: str | None, platform: str = "telegram") -> list[int]:
    """Store one update per chat given, in this order; their ids."""
    ids = []
    async with db.session() as session:
        for chat in chats:
            row = await inbound_store.store_update(
                session, platform, f"{platform}-{len(ids)}-{chat}", {}, now=clock(), chat=chat
            )
            assert row is not None and row.id is not None
            ids.append(row.id)
    return ids


async def _claim(
    db: Database, clock: FakeClock, owner: str = "w1", limit: int = 32, platforms: tuple[str, ...] = ("telegram",)
) -> list[InboundUpdate]:
    async with db.session() as session:
        return await inbound_store.claim_updates(
            session, owner=owner, platforms=list(platforms), now=clock(), lease_seconds=60, limit=limit
        )


async def _finish(db: Database, row_id: int, error: str | None = None) -> None:
    async with db.session() as session:
        assert await inbound_store.finish_update(session, row_id, error)


async def test_the_oldest_heads_are_claimed_first_whatever_their_chats_are_called(
    db: Database, clock: FakeClock
) -> None:
    # Chats whose names sort the other way round from their arrival: the claim goes by arrival, not by name.
    c3, b3, a3, c4, b4, a4 = await _store(db, clock, "c", "b", "a", "c", "b", "a")
    first = await _claim(db, clock, limit=2)
    assert [row.id for row in first] == [c3, b3]
    assert [(row.claimed_by, row.attempts) for row in first] == [("w1", 1), ("w1", 1)]
    assert [row.id for row in await _claim(db, clock, owner="w2")] == [a3]  # c and b are held by w1
    for row_id in (c3, b3, a3):
        await _finish(db, row_id)
    assert [row.id for row in await _claim(db, clock)] == [c4, b4, a4]


async def test_updates_of_no_chat_are_each_claimable_and_hold_nobody(db: Database, clock: FakeClock) -> None:
    # Updates stored before migration 0012 have no chat: each is independent, of the others and of every chat.
    n1, g1, n2, g2, n3 = await _store(db, clock, None, "-1001", None, "-1001", None)
    assert [row.id for row in await _claim(db, clock)] == [n1, g1, n2, n3]
    assert await _claim(db, clock) == []  # g2 waits behind g1, which is claimed
    await _finish(db, g1)
    assert [row.id for row in await _claim(db, clock)] == [g2]


async def test_a_chat_is_one_per_platform_and_a_worker_takes_only_its_platforms(db: Database, clock: FakeClock) -> None:
    [tg] = await _store(db, clock, "-1001")
    [zalo1, zalo2] = await _store(db, clock, "-1001", "-1001", platform="zalo")
    assert [row.id for row in await _claim(db, clock)] == [tg]  # a Telegram worker: the Zalo chat is not its own
    assert [row.id for row in await _claim(db, clock, platforms=("telegram", "zalo"))] == [zalo1]
    await _finish(db, zalo1)
    assert [row.id for row in await _claim(db, clock, platforms=("zalo",))] == [zalo2]


async def test_a_head_waiting_out_a_retry_holds_its_chat_and_a_parked_one_releases_it(
    db: Database, clock: FakeClock
) -> None:
    a1, a2, b1, b2 = await _store(db, clock, "-1", "-1", "-2", "-2")
    assert [row.id for row in await _claim(db, clock)] == [a1, b1]
    async with db.session() as session:
        assert await inbound_store.release_update(session, a1, "w1", "boom", clock() + timedelta(seconds=30), 1)
    await _finish(db, b1, error="boom")  # parked: the operator decides; its chat goes on
    assert [row.id for row in await _claim(db, clock)] == [b2]  # a2 waits behind a1's retry
    await _finish(db, b2)
    clock.advance(seconds=31)
    assert [row.id for row in await _claim(db, clock)] == [a1]
    clock.advance(seconds=61)  # a1's claim lapsed (its worker died): taken again, a2 still waits
    [again] = await _claim(db, clock, owner="w2")
    assert (again.id, again.attempts) == (a1, 3)
    await _finish(db, a1)
    assert [row.id for row in await _claim(db, clock)] == [a2]


async def _claim_listed(db: Database, clock: FakeClock, ids: list[int], owner: str = "w2") -> list[int]:
    async with db.session() as session:
        rows = await inbound_store.claim_listed(session, ids, owner=owner, now=clock(), lease_seconds=60)
    assert all(row.claimed_by == owner for row in rows)
    return [row.id or 0 for row in rows]


async def test_listed_updates_are_claimed_only_in_their_chats_turn(db: Database, clock: FakeClock) -> None:
    """The follow-up of updates a worker stored behind another worker's: of the ids it lists, only those that are
    now their chat's oldest pending update, due and unclaimed, are claimed; never one behind its chat's head."""
    a1, a2, a3, b1, b2, c1 = await _store(db, clock, "-1", "-1", "-1", "-2", "-2", "-3")
    assert [row.id for row in await _claim(db, clock)] == [a1, b1, c1]  # w1 holds each chat's head
    listed = [a2, a3, b2]
    assert await _claim_listed(db, clock, listed) == []  # every chat is busy at w1
    await _finish(db, a1)
    assert await _claim_listed(db, clock, listed) == [a2]  # a3 waits behind a2, b2 behind b1
    assert await _claim_listed(db, clock, listed) == []  # a2 is held now (by w2 itself: once, in order)
    await _finish(db, a2)
    async with db.session() as session:  # b1 failed: back to waiting out its retry, which holds its chat
        assert await inbound_store.release_update(session, b1, "w1", "boom", clock() + timedelta(seconds=30), 1)
    assert await _claim_listed(db, clock, listed) == [a3]
    await _finish(db, a3)
    assert await _claim_listed(db, clock, [a3, b2]) == []  # a3 is done; b2 still waits behind b1's retry
    clock.advance(seconds=31)
    [b1_again] = await _claim(db, clock, owner="w3")  # due again: the walk takes b1; b2 still waits
    assert b1_again.id == b1 and await _claim_listed(db, clock, [b2]) == []
    await _finish(db, b1)
    [b2_row] = await _claim(db, clock, owner="w3")  # the walk may take a listed update first: it is then held
    assert b2_row.id == b2 and await _claim_listed(db, clock, [b2]) == []


async def test_workers_claiming_at_once_never_hold_two_updates_of_a_chat(
    db: Database, clock: FakeClock, settings: Any
) -> None:
    chats = [f"-{100 + n}" for n in range(8)]
    await _store(db, clock, *(chats[n % 8] for n in range(48)))  # six updates in each of 8 chats, interleaved
    held: dict[str, int] = {}  # chat -> the update of it some worker holds now
    done: dict[str, list[int]] = {chat: [] for chat in chats}
    claims: list[int] = []
    engines = [Database(settings.database_url) for _ in range(3)]

    async def worker(name: str, own: Database) -> None:
        idle = 0
        while idle < 3:
            rows = await _claim(own, clock, owner=name, limit=3)
            idle = 0 if rows else idle + 1
            for row in rows:
                assert row.chat_key is not None and row.id is not None
                assert row.chat_key not in held, f"{name} took {row.id} while {held.get(row.chat_key)} was held"
                held[row.chat_key] = row.id
                claims.append(row.id)
            await asyncio.sleep(0)
            for row in rows:
                assert row.chat_key is not None and row.id is not None
                del held[row.chat_key]  # before the done-mark commits: only then may the next one be claimed
                done[row.chat_key].append(row.id)
                await _finish(own, row.id)

    try:
        await asyncio.gather(*(worker(f"w{n}", own) for n, own in enumerate(engines)))
    finally:
        for own in engines:
            await own.dispose()
    assert sorted(claims) == sorted(set(claims)) and len(claims) == 48  # each once
    assert all(ids == sorted(ids) and len(ids) == 6 for ids in done.values())  # each chat in arrival order


async def test_the_webhooks_write_claims_what_claim_stored_would(db: Database, clock: FakeClock) -> None:
    """`store_new_updates` (on PostgreSQL one statement that stores and claims) follows `claim_stored`'s rule: an
    update is claimed for the storing worker unless its chat has a pending update another worker holds or nobody
    does; the worker's own pending updates and the batch's own rows do not hold it back. A claimable update refused
    so is held for its worker's follow-up, briefly, not claimed."""
    mine, theirs, _loose = await _store(db, clock, "mine", "theirs", "loose")
    async with db.session() as session:
        assert await inbound_store.claim_stored(session, [mine], ("w1", clock() + timedelta(minutes=1)))
        assert await inbound_store.claim_stored(session, [theirs], ("w2", clock() + timedelta(minutes=1)))
    chats = ["mine", "theirs", "loose", "new", "new", "quiet", None]
    updates = [("telegram", f"k-{n}", {"n": n}) for n in range(len(chats))] + [("telegram", "k-0", {"n": 0})]
    stored = await inbound_store.store_new_updates(
        db,
        updates,
        chats=[*chats, "mine"],
        claimable=[True, True, True, True, True, False, True, True],
        claim=("w1", clock() + timedelta(minutes=1)),
        now=clock(),
        hold_until=clock() + timedelta(seconds=2),
    )
    assert [row[1] if row else None for row in stored] == [True, False, False, True, True, False, True, None]
    async with db.session() as session:
        rows = {row.update_key: row for row in (await session.exec(select(InboundUpdate))).all()}
    assert {key: rows[key].claimed_by for key in ("k-0", "k-1", "k-3", "k-5")} == {
        "k-0": "w1",
        "k-1": "w1",  # held for its turn
        "k-3": "w1",
        "k-5": None,
    }
    assert rows["k-0"].claimed_until == clock() + timedelta(minutes=1)
    assert rows["k-1"].claimed_until == rows["k-2"].claimed_until == clock() + timedelta(seconds=2)
    assert {rows[key].attempts for key in rows} == {0}
    assert rows["k-6"].chat_key is None and rows["k-2"].state == "pending"


async def test_an_update_held_for_its_turn_is_left_to_its_worker_until_the_hold_ends(
    db: Database, clock: FakeClock
) -> None:
    """Stored behind another worker's update, an update is held for the worker that stored it (and read it): once
    its turn comes, that worker claims it by id and no other worker's walk takes it first; if the worker never
    does (it stopped), the hold ends and any worker's walk takes it."""
    a1, b1 = await _store(db, clock, "-1", "-2")
    assert [row.id for row in await _claim(db, clock)] == [a1, b1]  # w1 processes both chats' first updates

    async def behind(n: int, chat: str) -> int:
        [stored] = await inbound_store.store_new_updates(
            db,
            [("telegram", f"behind-{n}", {})],
            chats=[chat],
            claimable=[True],
            claim=("w2", clock() + timedelta(minutes=1)),
            now=clock(),
            hold_until=clock() + timedelta(seconds=2),
        )
        assert stored is not None and stored[1] is False  # refused: w1 holds the chat
        return stored[0]

    a2, b2 = await behind(1, "-1"), await behind(2, "-2")
    await _finish(db, a1)
    await _finish(db, b1)
    assert await _claim(db, clock, owner="w3") == []  # both held for w2
    assert await _claim_listed(db, clock, [a2]) == [a2]  # w2's follow-up takes its own
    clock.advance(seconds=3)  # w2 never came back for b2: the hold is over
    assert [row.id for row in await _claim(db, clock, owner="w3")] == [b2]
    assert await _claim_listed(db, clock, [b2]) == []
