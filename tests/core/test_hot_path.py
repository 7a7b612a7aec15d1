"""The per-message path (person, chat binding, roles, /ghi) as a member sees it, after it was made leaner."""

from __future__ import annotations

import json

from sqlalchemy import func
from sqlmodel import select

from tests.factories import MEMBER, ChatHarness, FakeClock, record_id, setup_group
from tocns.app import BotApp
from tocns.core.roles import Role
from tocns.db.audit import audit_trail
from tocns.features.org import store as org_store
from tocns.features.org.models import Membership, Person


async def _person(app: BotApp, user: str) -> Person:
    async with app.db.session() as session:
        person = await org_store.get_person(session, "console", user)
        assert person is not None
        return person


async def test_membership_changed_elsewhere_is_seen_on_the_next_message(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    tree = await setup_group(app, chat, clock)
    assert "Thôn 3 (Xã Tân Lập)" in await chat.text("/ghi vneid 5", user=MEMBER)
    assert "không có quyền dùng lệnh /caidat" in await chat.text("/caidat", user=MEMBER)
    person = await _person(app, MEMBER)
    # Another process (the CLI) moves Lan to Thôn 1 and makes her a commune leader.
    async with app.db.session() as session:
        (membership,) = (await session.exec(select(Membership).where(Membership.person_id == person.id))).all()
        await org_store.remove_membership(session, membership)
        await org_store.set_membership(session, person=person, unit=tree.teams[0], role=Role.MEMBER)
        await org_store.set_membership(session, person=person, unit=tree.commune, role=Role.COMMUNE_LEADER)
    assert "Thôn 1 (Xã Tân Lập)" in await chat.text("/ghi vneid 2", user=MEMBER)
    assert "Nhắc việc của Xã Tân Lập:" in await chat.text("/caidat", user=MEMBER)
    async with app.db.session() as session:
        for membership in (await session.exec(select(Membership).where(Membership.person_id == person.id))).all():
            await org_store.remove_membership(session, membership)
    assert "Bạn chưa ở tổ nào trong Xã Tân Lập" in await chat.text("/ghi vneid 2", user=MEMBER)


async def test_unbinding_elsewhere_is_seen_on_the_next_message(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    await setup_group(app, chat, clock)
    assert "Đã ghi #" in await chat.text("/ghi vneid 5", user=MEMBER)
    async with app.db.session() as session:
        await org_store.deactivate_binding(session, "console", "group-1", reason="test")
    # Unbound chat: every role Lan holds counts, and her only team is Thôn 3.
    assert "Thôn 3 (Xã Tân Lập)" in await chat.text("/ghi vneid 6", user=MEMBER)


async def test_profile_refresh_keeps_one_person_and_known_details(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    await setup_group(app, chat, clock)
    await chat.text("/huongdan", user=MEMBER, name="Lan", private=True, chat="dm-lan", username="lan_a")
    before = await _person(app, MEMBER)
    assert before.username == "lan_a" and before.private_chat_id == "dm-lan"
    clock.advance(minutes=5)
    # A group message without a username changes neither the username nor the private chat.
    reply = await chat.text("/ghi vneid 5", user=MEMBER, name="  Nguyễn Thị Lan  ")
    assert "người ghi Nguyễn Thị Lan:" in reply
    after = await _person(app, MEMBER)
    assert after.id == before.id
    assert (after.display_name, after.username, after.private_chat_id) == ("Nguyễn Thị Lan", "lan_a", "dm-lan")
    assert after.last_seen_at == clock()
    await chat.text("/ghi vneid 5", user=MEMBER, username="lan_b")
    assert (await _person(app, MEMBER)).username == "lan_b"
    async with app.db.session() as session:
        count = await session.scalar(select(func.count()).select_from(Person).where(Person.user_id == MEMBER))
    assert count == 1


async def test_new_person_gets_a_row_and_a_name(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_group(app, chat, clock)
    await chat.text("/huongdan", user="555", name="   ")
    person = await _person(app, "555")
    assert person.display_name == "Người dùng 555"
    assert person.created_at == person.last_seen_at


async def test_ghi_with_several_items_stores_and_audits_each(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_group(app, chat, clock)
    first = record_id(await chat.text("/ghi vneid 5", user=MEMBER))
    rid = record_id(await chat.text("/ghi vneid 4, dvc 3", user=MEMBER))
    assert rid == first + 1
    async with app.db.session() as session:
        (entry,) = await audit_trail(session, "activity_record", rid)
        earlier = await audit_trail(session, "activity_record", first)
    assert entry.action == "create" and entry.before is None
    assert (entry.id or 0) > (earlier[0].id or 0)
    after = json.loads(entry.after or "{}")
    assert after["id"] == rid and after["deleted_at"] is None
    items = {i["indicator"]: i["quantity"] for i in after["items"]}
    assert items == {"vneid": 4, "dvc": 3}
    async with app.db.session() as session:
        from tocns.features.activity.store import get_record

        view = await get_record(session, rid)
        assert view is not None
        stored = [(ind.code, item.quantity) for item, ind in view.items]
    assert stored == [("vneid", 4), ("dvc", 3)]


async def test_a_retried_delivery_changes_nothing_not_even_the_senders_name(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    # On PostgreSQL the processed-mark and the sender's refresh are one statement: a retried delivery must still
    # be quiet, record nothing and leave the person as the first delivery did.
    await setup_group(app, chat, clock)
    reply = await chat.text("/ghi vneid 5", user=MEMBER, name="Lan", message_id="m-7")
    rid = record_id(reply)
    first_seen = (await _person(app, MEMBER)).last_seen_at
    clock.advance(minutes=1)
    assert await chat.send("/ghi vneid 5", user=MEMBER, name="Lan Đổi Tên", message_id="m-7") == []
    person = await _person(app, MEMBER)
    assert (person.display_name, person.last_seen_at) == ("Lan", first_seen)
    # A new message of the same sender is processed and refreshes them.
    assert record_id(await chat.text("/ghi vneid 6", user=MEMBER, name="Lan Đổi Tên")) == rid + 1
    assert (await _person(app, MEMBER)).display_name == "Lan Đổi Tên"


async def test_first_message_of_a_new_sender_in_a_bound_group_is_answered_once(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    # The sender is not known yet: the mark is taken in the combined statement, then the person is created.
    await setup_group(app, chat, clock)
    assert "/ghi" in await chat.text("/huongdan", user="777", name="Mai", message_id="m-9")
    assert await chat.send("/huongdan", user="777", name="Mai Đổi Tên", message_id="m-9") == []
    assert (await _person(app, "777")).display_name == "Mai"
