"""Concurrent processing on PostgreSQL and the per-session caches of the hot path staying correct."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from sqlmodel import func, select

from tests.factories import MEMBER, ChatHarness, FakeClock, build_tree, setup_group
from tocns.app import BotApp
from tocns.core.messages import ChatType, IncomingMessage
from tocns.core.roles import Role
from tocns.core.router import INTERNAL_ERROR_TEXT
from tocns.core.updates import Checked
from tocns.features.activity.models import ActivityRecord
from tocns.features.org import store as org_store
from tocns.features.org.models import Person
from tocns.inbound import store as inbound_store
from tocns.inbound.models import InboundUpdate, ProcessedMessage
from tocns.outbox import store as storage_outbox
from tocns.outbox.models import OutboxMessage


def _message(user: str, chat: str, message_id: str) -> IncomingMessage:
    return IncomingMessage(
        platform="telegram",
        chat_id=chat,
        user_id=user,
        display_name="Nguyễn Thị Lan",
        text="/huongdan",
        message_id=message_id,
        chat_type=ChatType.GROUP,
    )


async def test_first_two_messages_of_new_person_in_two_chats_both_answered(app: BotApp, is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE): the race only exists on PostgreSQL")
    failure = INTERNAL_ERROR_TEXT.format(name="huongdan")
    # Several new people, each writing in two chats at once, so the race is hit rather than hoped for.
    for n in range(8):
        user = f"7{n:03d}"
        first, second = await asyncio.gather(
            app.pipeline.handle(_message(user, "-1001", f"{n}1")),
            app.pipeline.handle(_message(user, "-1002", f"{n}2")),
        )
        for replies in (first, second):
            assert len(replies) == 1
            assert replies[0].text != failure
            assert "/huongdan" in replies[0].text
    async with app.db.session() as session:
        count = await session.scalar(select(func.count()).select_from(Person))
        names = set((await session.exec(select(Person.display_name))).all())
    assert count == 8
    assert names == {"Nguyễn Thị Lan"}


async def test_membership_cache_follows_changes_in_the_same_session(app: BotApp) -> None:
    async with app.db.session() as session:
        tree = await build_tree(session)
        person = await org_store.upsert_person(session, platform="telegram", user_id="42", display_name="Lan")
        assert await org_store.memberships_of(session, person.id or 0) == []
        await org_store.set_membership(session, person=person, unit=tree.teams[1], role=Role.MEMBER)
        assert [u.name for _m, u in await org_store.memberships_of(session, person.id or 0)] == ["Thôn 3"]
        assert await org_store.roles_in_context(session, person.id or 0, tree.commune) == {"member"}
        await org_store.set_membership(session, person=person, unit=tree.teams[1], role=Role.TEAM_LEADER)
        assert await org_store.roles_in_context(session, person.id or 0, tree.commune) == {"team_leader"}
        membership, _unit = (await org_store.memberships_of(session, person.id or 0))[0]
        await org_store.remove_membership(session, membership)
        assert await org_store.memberships_of(session, person.id or 0) == []
        assert await org_store.team_of(session, person.id or 0) is None


async def test_membership_cache_forgets_a_rolled_back_change(app: BotApp) -> None:
    async with app.db.session() as session:
        tree = await build_tree(session)
        person = await org_store.upsert_person(session, platform="telegram", user_id="43", display_name="Hùng")
        nested = await session.begin_nested()
        await org_store.set_membership(session, person=person, unit=tree.teams[0], role=Role.MEMBER)
        assert len(await org_store.memberships_of(session, person.id or 0)) == 1
        await nested.rollback()
        assert await org_store.memberships_of(session, person.id or 0) == []


async def test_record_and_receipt_commit_together(
    app: BotApp, chat: ChatHarness, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await setup_group(app, chat, clock)
    calls: list[str] = []

    keyed_params = storage_outbox.keyed_params

    def params_failing_once(**kwargs: Any) -> Any:
        # Every keyed message passes here (the receipt folded into the done-mark on PostgreSQL, or enqueued).
        calls.append(kwargs["text"])
        if len(calls) == 1:
            raise ConnectionError("outbox unavailable")
        return keyed_params(**kwargs)

    monkeypatch.setattr(storage_outbox, "keyed_params", params_failing_once)
    msg = IncomingMessage(
        platform="console", chat_id="group-1", user_id=MEMBER, display_name="Lan", text="/ghi vneid 5", message_id="77"
    )

    async def as_checked(checked: Checked) -> Checked:
        return checked

    channel = SimpleNamespace(platform="console", refresh=as_checked)
    checked = Checked(body={"text": msg.text}, key="77", chat="group-1", event=msg)
    # One attempt only: the failed update is parked at once (retries have their own tests in tests/inbound).
    app = BotApp.build(app.settings.model_copy(update={"inbound_max_attempts": 1}), app.db, app.clock)
    row_id = await app.pipeline.store(channel, checked)  # type: ignore[arg-type]
    assert row_id is not None
    await app.pipeline.process(channel, row_id, checked)  # type: ignore[arg-type]
    # The receipt could not be queued, so the record was not kept either; the member is told to retry.
    async with app.db.session() as session:
        assert (await session.exec(select(ActivityRecord))).all() == []
        queued = [m.text for m in (await session.exec(select(OutboxMessage))).all()]
        update = await session.get(InboundUpdate, row_id)
    assert queued[-1] == INTERNAL_ERROR_TEXT.format(name="ghi")
    assert update is not None and update.state == "failed" and "outbox unavailable" in (update.error or "")


async def test_a_failure_after_the_last_statement_keeps_nothing_and_the_retry_records_once(
    app: BotApp, chat: ChatHarness, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On PostgreSQL the mark with the sender's refresh, the record and the receipt with the done-mark run on the
    # session's asyncpg connection (tocns.db.raw): still one transaction with the rest. The connection lost after
    # the last of them keeps nothing, not even the processed-mark (the retry is not taken for a redelivery), and
    # the retry records the work once.
    await setup_group(app, chat, clock)
    finish = inbound_store.finish_with_messages
    failed: list[bool] = []

    async def finish_then_fail(*args: Any, **kwargs: Any) -> bool:
        done = await finish(*args, **kwargs)
        if not failed:
            failed.append(done)
            raise ConnectionError("connection lost before COMMIT")
        return done

    monkeypatch.setattr(inbound_store, "finish_with_messages", finish_then_fail)
    msg = IncomingMessage(
        platform="console",
        chat_id="group-1",
        user_id=MEMBER,
        display_name="Lan Mới",
        text="/ghi vneid 5",
        message_id="78",
    )

    async def as_checked(checked: Checked) -> Checked:
        return checked

    channel = SimpleNamespace(platform="console", refresh=as_checked)
    checked = Checked(body={"text": msg.text}, key="78", chat="group-1", event=msg)
    row_id = await app.pipeline.store(channel, checked)  # type: ignore[arg-type]
    assert row_id is not None
    assert not await app.pipeline.process(channel, row_id, checked)  # type: ignore[arg-type]
    assert failed == [True]  # the failure came after the done-mark's statement had run
    async with app.db.session() as session:
        assert (await session.exec(select(ActivityRecord))).all() == []
        assert (await session.exec(select(ProcessedMessage).where(ProcessedMessage.message_id == "78"))).all() == []
        assert [m.text for m in (await session.exec(select(OutboxMessage))).all() if "Đã ghi" in m.text] == []
        person = await org_store.get_person(session, "console", MEMBER)
        assert person is not None and person.display_name == "Lan"
    clock.advance(minutes=5)
    assert await app.pipeline.process(channel, row_id, checked)  # type: ignore[arg-type]
    async with app.db.session() as session:
        assert len((await session.exec(select(ActivityRecord))).all()) == 1
        receipts = [m.text for m in (await session.exec(select(OutboxMessage))).all() if "Đã ghi" in m.text]
        person = await org_store.get_person(session, "console", MEMBER)
    assert len(receipts) == 1 and "vneid" in receipts[0]
    assert person is not None and person.display_name == "Lan Mới"
