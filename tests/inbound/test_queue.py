"""The durable inbound queue: claims under a lease, retries with backoff, parking, one error reply, chat order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.factories import FakeClock
from tests.fakes.platforms import (
    TG_HEADER,
    TG_SECRET,
    channels_for,
    inbound_rows,
    outbox,
    platform_app,
    platform_settings,
    tg_message_update,
    web,
)
from tests.fakes.zalo_api import FakeZaloApi
from tocns.app import BotApp
from tocns.config import Settings
from tocns.core.messages import IncomingMessage
from tocns.core.router import INTERNAL_ERROR_TEXT
from tocns.db.engine import Database
from tocns.inbound import pipeline as pipeline_module
from tocns.inbound import store as inbound_store
from tocns.inbound.jobs import inbound_retention
from tocns.web.app import create_app

OK = {TG_HEADER: TG_SECRET}
HELP = "Các lệnh bạn dùng được"
FAILED_HELP = INTERNAL_ERROR_TEXT.format(name="huongdan")


def _queue_settings(settings: Settings, tmp_path: Path, **changes: Any) -> Settings:
    return platform_settings(settings, tmp_path).model_copy(
        update={"inbound_max_attempts": 3, "inbound_retry_seconds": 30.0, "inbound_lease_seconds": 60.0, **changes}
    )


@pytest.fixture
def qapp(app: BotApp, settings: Settings, tmp_path: Path) -> BotApp:
    """The bot with both platforms, 3 attempts, 30 s before the first retry (the fake clock decides when)."""
    return platform_app(app, _queue_settings(settings, tmp_path))


@pytest.fixture
def channels(qapp: BotApp) -> list[Any]:
    """Telegram and Zalo channels on the fakes."""
    return list(channels_for(qapp, None, FakeZaloApi()))


def failing(app: BotApp, times: int | None) -> list[str]:
    """Make commands raise a database error `times` times (None: always), inside the router's work on them (who
    is asking); returns the texts it was asked."""
    seen: list[str] = []
    original, combined = app.router.identify, app.router.mark_and_identify
    asked_with_mark: set[int] = set()  # the message's sender is being read in the mark's statement already

    def ask(msg: Any) -> None:
        seen.append(msg.text)
        if times is None or len(seen) <= times:
            raise ConnectionError("database went away")

    async def flaky(session: Any, msg: Any, now: Any) -> Any:
        if id(msg) in asked_with_mark:
            asked_with_mark.discard(id(msg))
        else:
            ask(msg)
        return await original(session, msg, now)

    async def flaky_with_mark(session: Any, msg: Any, message_id: str, now: Any) -> Any:
        # On PostgreSQL a known sender is read with the processed-mark: the work on them starts there.
        ask(msg)
        asked_with_mark.add(id(msg))
        return await combined(session, msg, message_id, now) if combined is not None else None

    app.router.identify = flaky
    app.router.mark_and_identify = flaky_with_mark
    return seen


def hold_commands(app: BotApp) -> tuple[asyncio.Event, asyncio.Event]:
    """Make the app's commands wait at the door: (gate, started), `started` set when one is waiting, `gate` to let
    them go on."""
    gate, started = asyncio.Event(), asyncio.Event()
    original = app.router.handle

    async def held(session: Any, msg: Any) -> Any:
        started.set()
        await gate.wait()
        return await original(session, msg)

    app.router.handle = held  # type: ignore[method-assign]
    return gate, started


async def post(app: BotApp, channels: list[Any], *bodies: dict[str, Any]) -> None:
    """Deliver updates through the real webhook route (each acknowledged) and let the fast path finish."""
    async with web(app, channels) as (client, _):
        for body in bodies:
            assert (await client.post("/webhook/telegram", json=body, headers=OK)).status_code == 200


async def test_a_failed_update_is_retried_after_its_backoff_and_processed_once(
    qapp: BotApp, channels: list[Any], clock: FakeClock
) -> None:
    asked = failing(qapp, times=1)
    await post(qapp, channels, tg_message_update("/huongdan"))
    [row] = await inbound_rows(qapp)
    # The attempt failed: no reply yet (not even the error), the update waits for its retry.
    assert (row.state, row.attempts, row.claimed_by) == ("pending", 1, None)
    assert row.error == "ConnectionError: database went away"
    assert await outbox(qapp) == []
    assert await qapp.pipeline.recover() == 0  # the backoff is not over
    clock.advance(seconds=31)
    assert await qapp.pipeline.recover() == 1
    [row] = await inbound_rows(qapp)
    assert (row.state, row.attempts, row.error) == ("done", 2, None)
    replies = [m.text for m in await outbox(qapp)]
    assert len(replies) == 1 and HELP in replies[0]
    assert asked == ["/huongdan", "/huongdan"]
    assert await qapp.pipeline.recover() == 0  # done is done


async def test_retries_exhausted_park_the_update_and_the_sender_hears_once(
    qapp: BotApp, channels: list[Any], clock: FakeClock
) -> None:
    asked = failing(qapp, times=None)
    await post(qapp, channels, tg_message_update("/huongdan"))
    for _ in range(5):
        clock.advance(minutes=5)
        await qapp.pipeline.recover()
    [row] = await inbound_rows(qapp)
    assert (row.state, row.attempts, row.error) == ("failed", 3, "ConnectionError: database went away")
    assert len(asked) == 3  # INBOUND_MAX_ATTEMPTS, then no more
    assert [m.text for m in await outbox(qapp)] == [FAILED_HELP]
    # The operator puts it back; it fails three more times and is parked again: the sender is not told twice.
    async with qapp.db.session() as session:
        assert await inbound_store.retry_parked(session) == [row.id]
    for _ in range(5):
        clock.advance(minutes=5)
        await qapp.pipeline.recover()
    assert [r.state for r in await inbound_rows(qapp)] == ["failed"] and len(asked) == 6
    assert [m.text for m in await outbox(qapp)] == [FAILED_HELP]
    # Retention deletes processed updates only: the parked one stays for the operator.
    assert await inbound_retention(qapp, clock() + timedelta(days=400)) == []
    assert len(await inbound_rows(qapp)) == 1


async def test_a_parked_update_put_back_by_the_operator_is_processed(
    qapp: BotApp, channels: list[Any], clock: FakeClock
) -> None:
    asked = failing(qapp, times=3)
    await post(qapp, channels, tg_message_update("/huongdan"))
    for _ in range(3):
        clock.advance(minutes=5)
        await qapp.pipeline.recover()
    [row] = await inbound_rows(qapp)
    assert row.state == "failed"
    async with qapp.db.session() as session:
        assert await inbound_store.retry_parked(session, [row.id or 0, 999]) == [row.id]
    assert await qapp.pipeline.recover() == 1
    [row] = await inbound_rows(qapp)
    assert (row.state, row.attempts) == ("done", 1)
    # The error reply went out when it was parked; the real answer follows now, with its own key.
    texts = [m.text for m in await outbox(qapp)]
    assert texts[0] == FAILED_HELP and HELP in texts[1] and len(texts) == 2 and len(asked) == 4


async def test_one_chat_waits_for_its_earlier_update_while_other_chats_go_on(
    qapp: BotApp, channels: list[Any], clock: FakeClock
) -> None:
    asked = failing(qapp, times=1)
    first = tg_message_update("/huongdan", chat_id=-1001)
    later = tg_message_update("/help", chat_id=-1001)
    elsewhere = tg_message_update("/huongdan", chat_id=-2002)
    await post(qapp, channels, first)
    await post(qapp, channels, later, elsewhere)
    # The first update failed and waits out its backoff; the chat's next update waits behind it, unclaimed.
    assert [(r.chat_key, r.state, r.attempts) for r in await inbound_rows(qapp)] == [
        ("-1001", "pending", 1),
        ("-1001", "pending", 0),
        ("-2002", "done", 0),  # attempts count the ones recorded: failures and claims by the loop
    ]
    assert [m.chat_id for m in await outbox(qapp)] == ["-2002"]
    clock.advance(seconds=31)
    await qapp.pipeline.recover()
    assert asked == ["/huongdan", "/huongdan", "/huongdan", "/help"]
    assert {r.state for r in await inbound_rows(qapp)} == {"done"}
    assert [m.chat_id for m in await outbox(qapp)] == ["-2002", "-1001", "-1001"]
    assert HELP in (await outbox(qapp))[1].text  # /huongdan's answer before /help's


async def _second_worker(qapp: BotApp, channels: list[Any]) -> AsyncIterator[BotApp]:
    """Another worker on the same database: its own engine, pipeline and claim owner."""
    db = Database(qapp.settings.database_url)
    other = BotApp.build(qapp.settings, db, qapp.clock)
    for channel in channels:
        other.pipeline.add(channel)
    try:
        yield other
    finally:
        await db.dispose()


@pytest.fixture
async def worker2(qapp: BotApp, channels: list[Any]) -> AsyncIterator[BotApp]:
    """A second worker process, as `tocns serve --workers 2` runs."""
    async for other in _second_worker(qapp, channels):
        yield other


async def test_two_workers_claiming_at_once_never_take_the_same_update(
    qapp: BotApp, channels: list[Any], worker2: BotApp
) -> None:
    telegram = channels[0]
    for n in range(30):
        for text in ("/huongdan", "/help"):  # two updates in each of 30 chats
            await qapp.pipeline.store(telegram, telegram.check(tg_message_update(text, chat_id=-5000 - n)))

    async def claim(app: BotApp) -> list[int]:
        async with app.db.session() as session:
            rows = await inbound_store.claim_updates(
                session, owner=app.pipeline.owner, platforms=["telegram"], now=app.clock(), lease_seconds=60, limit=3
            )
        return [r.id or 0 for r in rows]

    # Twelve claims of at most 3 (36 > 30), six by each worker: neither can take everything alone.
    results = await asyncio.gather(*(claim(app) for _ in range(6) for app in (qapp, worker2)))
    taken = [row_id for ids in results for row_id in ids]
    assert len(taken) == len(set(taken)) == 30  # each chat's first update, once; the second waits behind it
    rows = {r.id: r for r in await inbound_rows(qapp)}
    assert {rows[i].chat_key for i in taken} == {str(-5000 - n) for n in range(30)}
    assert all(rows[i].id % 2 == 1 for i in taken)  # the earlier of each chat's two
    owners = {rows[i].claimed_by for i in taken}
    assert owners == {qapp.pipeline.owner, worker2.pipeline.owner}


async def test_two_workers_draining_one_backlog_process_each_update_once(
    qapp: BotApp, channels: list[Any], worker2: BotApp
) -> None:
    telegram = channels[0]
    bodies = [tg_message_update(f"/huongdan {n}", chat_id=-6000 - n % 12) for n in range(60)]
    for body in bodies:
        await qapp.pipeline.store(telegram, telegram.check(body))
    handled: list[tuple[str, str]] = []
    for app in (qapp, worker2):
        original = app.router.handle

        async def counting(session: Any, msg: Any, original: Any = original) -> Any:
            handled.append((msg.chat_id, msg.text))
            await asyncio.sleep(0)  # let the other worker run in between
            return await original(session, msg)

        app.router.handle = counting  # type: ignore[method-assign]
    counts = await asyncio.gather(qapp.pipeline.recover(), worker2.pipeline.recover())
    assert sum(counts) == 60
    assert sorted(handled) == sorted((str(b["message"]["chat"]["id"]), b["message"]["text"]) for b in bodies)
    # Each chat's updates were handled in the order they arrived, whichever worker took them.
    for chat in {c for c, _ in handled}:
        texts = [t for c, t in handled if c == chat]
        assert texts == sorted(texts, key=lambda t: int(t.split()[1]))
    assert {r.state for r in await inbound_rows(qapp)} == {"done"}
    assert len(await outbox(qapp)) == 60


async def test_the_webhook_fast_path_holds_its_claim_while_it_processes(
    qapp: BotApp, channels: list[Any], worker2: BotApp
) -> None:
    gate = asyncio.Event()
    original = qapp.router.handle

    async def slow(session: Any, msg: Any) -> Any:
        await gate.wait()
        return await original(session, msg)

    qapp.router.handle = slow  # type: ignore[method-assign]
    async with web(qapp, channels) as (client, _):
        assert (await client.post("/webhook/telegram", json=tg_message_update("/huongdan"), headers=OK)).is_success
        while not (rows := await inbound_rows(qapp)) or rows[0].claimed_by is None:
            await asyncio.sleep(0.01)
        assert rows[0].claimed_by == qapp.pipeline.owner
        assert await worker2.pipeline.recover() == 0  # the other worker leaves it alone
        gate.set()
    assert [r.state for r in await inbound_rows(qapp)] == ["done"]
    assert len(await outbox(qapp)) == 1
    assert await worker2.pipeline.recover() == 0


async def test_an_update_behind_another_workers_is_taken_as_soon_as_that_one_is_done(
    qapp: BotApp, channels: list[Any], settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers: a member's second message lands on the worker that is not processing their first. It cannot be
    claimed then; it must not wait for that worker's next poll (a minute here) once the first is done. Refused at
    store, it is not claimed again right away (that claim would be refused too: one transaction for nothing). Its
    worker keeps it as read: the follow-up polls claim it by id, without walking over every chat, and process it
    without reading its stored body again."""
    slow_poll = _queue_settings(settings, tmp_path, inbound_poll_seconds=60.0)
    first_app = platform_app(qapp, slow_poll)
    workers = _second_worker(first_app, channels)
    second_app = await anext(workers)
    try:
        gate, started = hold_commands(first_app)
        sweeps: list[int] = []
        sweep = second_app.pipeline.sweep

        async def counted_sweep(walk: bool = True) -> int:
            taken = await sweep(walk)
            sweeps.append(taken)
            return taken

        second_app.pipeline.sweep = counted_sweep  # type: ignore[method-assign]
        telegram = channels[0]
        one = telegram.check(tg_message_update("/huongdan", chat_id=-1001))
        row_id = await first_app.pipeline.store(telegram, one)
        assert row_id is not None
        first = asyncio.create_task(first_app.pipeline.process(telegram, row_id, one))
        async with asyncio.timeout(20):
            await started.wait()  # the first worker holds the first update (claimed before the other loop runs)
        stop_loop = second_app.pipeline.start()  # its first sweep finds nothing; then it would sleep 60 s
        claims_of_one: list[int] = []
        claim_update = inbound_store.claim_update

        async def counted_claim(session: Any, update_id: int, **kwargs: Any) -> Any:
            claims_of_one.append(update_id)
            return await claim_update(session, update_id, **kwargs)

        monkeypatch.setattr(inbound_store, "claim_update", counted_claim)
        walks: list[int] = []
        claim_updates = inbound_store.claim_updates

        async def counted_walk(session: Any, **kwargs: Any) -> Any:
            walks.append(1)
            return await claim_updates(session, **kwargs)

        monkeypatch.setattr(inbound_store, "claim_updates", counted_walk)
        reads: list[Any] = []
        check = telegram.check

        def counted_check(body: Any) -> Any:
            reads.append(body)
            return check(body)

        try:
            assert await second_app.pipeline.accept(telegram, telegram.check(tg_message_update("/help", chat_id=-1001)))
            monkeypatch.setattr(telegram, "check", counted_check)
            await second_app.pipeline.drain()  # its fast path was refused: the first update is still pending
            assert [r.state for r in await inbound_rows(first_app)] == ["pending", "pending"]
            assert claims_of_one == []
            swept = len(sweeps)
            async with asyncio.timeout(20):  # the loop has looked again since, and found the chat still busy
                while len(sweeps) < swept + 2:
                    await asyncio.sleep(0.01)
            walked = len(walks)  # the loop's first sweep walks over the chats
            gate.set()
            assert await first
            await _all_done(first_app, within=20)  # far less than the 60 s poll
            assert reads == []  # processed as the webhook read it
            assert len(walks) == walked  # the follow-up polls looked at that update alone
        finally:
            await stop_loop()
    finally:
        await workers.aclose()
    texts = [m.text for m in await outbox(first_app)]
    assert len(texts) == 2 and HELP in texts[0]  # the first message's answer, then the second's


async def _all_done(app: BotApp, within: float) -> None:
    """Wait until every stored update is done; TimeoutError after `within` seconds."""
    async with asyncio.timeout(within):
        while {r.state for r in await inbound_rows(app)} != {"done"}:
            await asyncio.sleep(0.02)


async def _first_worker_busy(app: BotApp, telegram: Any, *chats: int) -> tuple[asyncio.Event, list[Any], list[Any]]:
    """The first worker takes one message in each chat and holds them at the door: (the gate that lets them go
    on, the messages as read, their processing tasks), once one of them is waiting there."""
    gate, started = hold_commands(app)
    busy = [telegram.check(tg_message_update("/huongdan", chat_id=chat)) for chat in chats]
    tasks = []
    for checked in busy:
        row_id = await app.pipeline.store(telegram, checked)
        assert row_id is not None
        tasks.append(asyncio.create_task(app.pipeline.process(telegram, row_id, checked)))
    async with asyncio.timeout(20):
        await started.wait()
    return gate, busy, tasks


async def test_a_kept_update_is_not_overtaken_by_the_next_message_of_its_chat(
    qapp: BotApp, channels: list[Any], settings: Settings, tmp_path: Path
) -> None:
    """The second worker keeps a message refused at store (the first worker was busy with the chat) for its turn.
    Once the first is done, the chat's next message also reaches the second worker and is claimed at store; it
    must still go after the kept one, so the group's answers come in the order its members typed."""
    first_app = platform_app(qapp, _queue_settings(settings, tmp_path, inbound_poll_seconds=60.0))
    workers = _second_worker(first_app, channels)
    second_app = await anext(workers)
    try:
        telegram = channels[0]
        gate, [one], [first] = await _first_worker_busy(first_app, telegram, -1001)
        kept, later = (telegram.check(tg_message_update("/huongdan", chat_id=-1001)) for _ in range(2))
        assert await second_app.pipeline.accept(telegram, kept)  # refused at store: kept for its turn
        await second_app.pipeline.drain()
        gate.set()
        assert await first
        assert await second_app.pipeline.accept(telegram, later)  # nothing of the chat is held elsewhere now
        await second_app.pipeline.drain()
        assert [r.state for r in await inbound_rows(first_app)] == ["done", "pending", "pending"]
        stop_loop = second_app.pipeline.start()
        try:
            await _all_done(first_app, within=20)
        finally:
            await stop_loop()
    finally:
        await workers.aclose()
    answered = [m.dedupe_key for m in await outbox(first_app)]
    assert answered == [f"reply:telegram:{checked.key}:0" for checked in (one, kept, later)]


async def test_updates_kept_past_the_memory_limit_are_still_claimed_in_their_turn(
    qapp: BotApp, channels: list[Any], settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A burst can leave more updates waiting for their turn than a worker keeps as read (MAX_WAITING): the oldest
    are then kept as ids alone. They are still held for that worker, so it must still claim them in their turn (by
    id, reading their bodies again), not leave their chats waiting for the hold to end."""
    monkeypatch.setattr(pipeline_module, "MAX_WAITING", 1)
    # Held for an hour: the test passes only if the ids are claimed in their turn, never because a hold ended.
    monkeypatch.setattr(pipeline_module, "FOLLOW_UP_SECONDS", 3600.0)
    first_app = platform_app(qapp, _queue_settings(settings, tmp_path, inbound_poll_seconds=60.0))
    workers = _second_worker(first_app, channels)
    second_app = await anext(workers)
    try:
        telegram = channels[0]
        gate, _, held = await _first_worker_busy(first_app, telegram, -1001, -1002)
        kept = [telegram.check(tg_message_update("/huongdan", chat_id=chat)) for chat in (-1001, -1002)]
        for checked in kept:  # both refused at store: the first worker holds both chats
            assert await second_app.pipeline.accept(telegram, checked)
        await second_app.pipeline.drain()
        reads: list[Any] = []
        check = telegram.check

        def counted_check(body: Any) -> Any:
            reads.append(body)
            return check(body)

        monkeypatch.setattr(telegram, "check", counted_check)
        stop_loop = second_app.pipeline.start()
        try:
            gate.set()
            assert all(await asyncio.gather(*held))
            await _all_done(first_app, within=30)
        finally:
            await stop_loop()
    finally:
        await workers.aclose()
    assert [body["update_id"] for body in reads] == [int(kept[0].key)]  # the older one, kept as its id alone


async def test_an_attempt_whose_lease_was_taken_over_keeps_nothing(
    qapp: BotApp, channels: list[Any], worker2: BotApp, clock: FakeClock
) -> None:
    gate, started = hold_commands(qapp)
    telegram = channels[0]
    checked = telegram.check(tg_message_update("/huongdan"))
    row_id = await qapp.pipeline.store(telegram, checked)
    assert row_id is not None
    slow = asyncio.create_task(qapp.pipeline.process(telegram, row_id, checked))
    await started.wait()
    clock.advance(seconds=61)  # the lease lapsed: the worker looks dead
    assert await worker2.pipeline.recover() == 1
    gate.set()
    assert await slow is False  # its work was rolled back: the other worker's run is the one that counts
    [row] = await inbound_rows(qapp)
    assert (row.state, row.attempts) == ("done", 2)
    assert len(await outbox(qapp)) == 1


async def test_the_serve_loop_processes_what_is_stored_while_it_runs(qapp: BotApp, channels: list[Any]) -> None:
    app = platform_app(qapp, qapp.settings.model_copy(update={"inbound_poll_seconds": 0.02}))
    web_app = create_app(app.settings, bot_app=app, channels=channels[:1])
    telegram = channels[0]
    async with web_app.router.lifespan_context(web_app):
        await asyncio.sleep(0.1)  # started, idle: this is not the start-up recovery
        # Stored and acknowledged, then its processing never happened (the database went away after the INSERT).
        await app.pipeline.store(telegram, telegram.check(tg_message_update("/huongdan")))
        async with asyncio.timeout(20):
            while not await outbox(app):
                await asyncio.sleep(0.02)
    assert [r.state for r in await inbound_rows(app)] == ["done"]
    assert HELP in (await outbox(app))[0].text


async def test_metrics_show_the_backlog_and_the_parked_updates(
    qapp: BotApp, channels: list[Any], clock: FakeClock
) -> None:
    failing(qapp, times=None)
    await post(qapp, channels, tg_message_update("/huongdan", chat_id=-1001))
    for _ in range(3):
        clock.advance(minutes=5)
        await qapp.pipeline.recover()
    telegram = channels[0]
    for n in range(2):  # stored, not processed yet (the database went away right after, say)
        await qapp.pipeline.store(telegram, telegram.check(tg_message_update("/huongdan", chat_id=-3000 - n)))
    async with web(qapp, channels) as (client, _):
        body = (await client.get("/metrics")).text
    assert "tocns_inbound_backlog 2.0" in body
    assert "tocns_inbound_parked 1.0" in body


async def test_an_update_whose_worker_died_on_its_last_attempt_is_parked_not_run_again(
    qapp: BotApp, channels: list[Any], worker2: BotApp, clock: FakeClock
) -> None:
    telegram = channels[0]
    await qapp.pipeline.store(telegram, telegram.check(tg_message_update("/huongdan")))
    asked = failing(worker2, times=None)
    for dead in range(3):  # three workers took it and died mid-way (their leases lapse): the claims alone count
        async with qapp.db.session() as session:
            assert (
                len(
                    await inbound_store.claim_updates(
                        session, owner=f"dead-{dead}", platforms=["telegram"], now=clock(), lease_seconds=60, limit=5
                    )
                )
                == 1
            )
        clock.advance(seconds=61)
    assert await worker2.pipeline.recover() == 1
    [row] = await inbound_rows(qapp)
    assert (row.state, row.attempts, row.error) == ("failed", 4, "tiến trình xử lý đã dừng giữa chừng")
    assert asked == []  # a poison update that kills its workers is not run a fourth time
    assert [m.text for m in await outbox(qapp)] == [FAILED_HELP]


async def test_an_unreadable_stored_body_is_parked_at_once(qapp: BotApp, channels: list[Any]) -> None:
    async with qapp.db.session() as session:
        await inbound_store.store_update(session, "telegram", "broken", {"update_id": "x"}, chat="-1001")
    qapp.pipeline.add(channels[0])
    assert await qapp.pipeline.recover() == 1
    [row] = await inbound_rows(qapp)
    assert row.state == "failed" and (row.error or "").startswith("unreadable: ")
    assert await outbox(qapp) == []  # nobody to tell


async def test_the_console_has_no_queue_and_answers_a_failure_at_once(qapp: BotApp) -> None:
    failing(qapp, times=1)
    msg = IncomingMessage(platform="console", chat_id="c-1", user_id="1", display_name="Lan", text="/huongdan")
    assert [r.text for r in await qapp.pipeline.handle(msg)] == [FAILED_HELP]
    assert HELP in (await qapp.pipeline.handle(msg))[0].text  # typed again, answered
