"""A unit with no group on a platform is reached through its people's private chats (issue 16 item 1).

Directives (chat and API), directive reminders, task reminders, nudges and the weekly summary each follow the one
rule of `tocns.features.org.reach`; a platform where the unit has a group keeps getting the group only.
"""

from __future__ import annotations

from tests.factories import ChatHarness, FakeClock, Tree, build_tree, join_code, outbox_rows, tick
from tests.features.directives.test_api import _client, _tokens
from tocns.app import BotApp
from tocns.core.roles import Role
from tocns.features.org import store as org_store
from tocns.features.org.models import OrgUnit

LEADER_ID, MEMBER_ID, OTHER, STAFF = "10", "31", "32", "99"


async def _code(app: BotApp, unit: OrgUnit, role: Role) -> str:
    async with app.db.session() as session:
        return await join_code(session, unit, role, app.clock())


async def _private_commune(app: BotApp, chat: ChatHarness) -> Tree:
    """Xã Tân Lập with no group: its leader and two members of Thôn 3 joined from private chats; staff too."""
    async with app.db.session() as session:
        tree = await build_tree(session)
    people = [
        (LEADER_ID, "Chủ tịch Hùng", tree.commune, Role.COMMUNE_LEADER),
        (MEMBER_ID, "Lan", tree.teams[1], Role.MEMBER),
        (OTHER, "Bình", tree.teams[1], Role.MEMBER),
        (STAFF, "Sở KH&CN", tree.province, Role.STAFF),
    ]
    for user, name, unit, role in people:
        code = await _code(app, unit, role)
        assert "Đã ghi nhận" in await chat.text(f"/ketnoi {code}", user=user, name=name, chat=f"p{user}", private=True)
    return tree


def _say(chat: ChatHarness, user: str, text: str) -> object:
    return chat.text(text, user=user, chat=f"p{user}", private=True)


async def test_a_directive_reaches_each_person_privately_and_counts_their_acks(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    await _private_commune(app, chat)
    receipt = await _say(chat, STAFF, "/chidao X1: Họp giao ban thứ Sáu")
    assert "tới 0 nhóm và 3 người (tin nhắn riêng) của 1 xã/phường" in str(receipt)
    sent = [r.chat_id for r in await outbox_rows(app, "directive")]
    assert sorted(sent) == ["p10", "p31", "p32"]
    assert "Đã ghi nhận: Lan (Thành viên tổ, Xã Tân Lập)" in str(await _say(chat, MEMBER_ID, "/danhan 1"))
    status = str(await _say(chat, STAFF, "/tinhtrang 1"))
    assert "Tin riêng: 0/3 người đã nhận, 1/3 người đã xác nhận." in status
    assert "1/3 người đã xác nhận, chưa: Chủ tịch Hùng, Bình" in status
    # A day later the commune has acknowledged (Lan did): nobody is reminded.
    assert not [line for line in await tick(app, clock, "2026-11-24 10:00") if "nhắc chỉ đạo" in line]


async def test_a_directive_reminder_reaches_the_people_privately(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    await _private_commune(app, chat)
    await _say(chat, STAFF, "/chidao X1: Rà soát VNeID")
    await tick(app, clock, "2026-11-24 10:00")
    reminded = sorted(r.chat_id for r in await outbox_rows(app, "directive_reminder"))
    assert reminded == ["p10", "p31", "p32"]


async def test_the_api_sends_to_a_commune_reachable_only_privately(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    tree = await _private_commune(app, chat)
    province, _commune = await _tokens(app, tree)
    async with _client(app) as client:
        created = await client.post("/api/v1/directives", json={"text": "Họp", "scope": "X1"}, headers=province)
        assert created.status_code == 201, created.text
        assert (created.json()["targets"], created.json()["people"]) == (3, 3)
        await _say(chat, LEADER_ID, "/danhan 1")
        status = (await client.get("/api/v1/directives/1", headers=province)).json()
    (x1,) = status["communes"]
    assert (x1["groups"], x1["people"], x1["people_acknowledged"]) == (0, 3, 1)
    assert x1["acknowledged"]["by"] == "Chủ tịch Hùng"


async def test_a_group_on_the_platform_keeps_the_people_out_of_private_copies(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    tree = await _private_commune(app, chat)
    async with app.db.session() as session:
        await org_store.bind_chat(session, platform="console", chat_id="g-x1", unit=tree.commune, person=None)
        # A Zalo member of the same commune, with no Zalo group: reached privately.
        zalo = await org_store.upsert_person(
            session, platform="zalo", user_id="z1", display_name="Hoa", private_chat_id="z1", now=clock()
        )
        await org_store.set_membership(session, person=zalo, unit=tree.teams[0], role=Role.MEMBER)
    await _say(chat, STAFF, "/chidao X1: Họp")
    sent = sorted((r.platform, r.chat_id) for r in await outbox_rows(app, "directive"))
    assert sent == [("console", "g-x1"), ("zalo", "z1")]


async def test_a_task_set_privately_is_reminded_to_its_team_privately(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    await _private_commune(app, chat)
    assert "Đã giao việc #1" in str(await _say(chat, LEADER_ID, "/giaoviec 25/11 Hướng dẫn VNeID tổ Thôn 3"))
    await tick(app, clock, "2026-11-24 08:00")
    rows = await outbox_rows(app, "reminder")
    assert sorted(r.chat_id for r in rows) == ["p31", "p32"]
    assert all("⏰ Nhắc việc #1" in r.text for r in rows)
    # Once Lan's team is done, nobody is reminded any more.
    await _say(chat, MEMBER_ID, "/xong 1")
    await tick(app, clock, "2026-11-25 08:00")
    assert len(await outbox_rows(app, "reminder")) == 2


async def test_silent_teams_are_nudged_privately_once_a_week(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await _private_commune(app, chat)
    await tick(app, clock, "2026-11-27 16:00")
    await tick(app, clock, "2026-11-27 16:05")
    nudges = await outbox_rows(app, "nudge")
    assert sorted(r.chat_id for r in nudges) == ["p10", "p31", "p32"]
    assert all("Thôn 3" in r.text for r in nudges)


async def test_the_weekly_summary_reaches_staff_privately_without_a_department_group(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    await _private_commune(app, chat)
    await tick(app, clock, "2026-11-30 07:30")
    await tick(app, clock, "2026-11-30 07:35")
    summaries = await outbox_rows(app, "summary")
    assert [r.chat_id for r in summaries] == ["p99", "p99"]  # the text, then the files
    assert "BÁO CÁO TỈNH THỬ" in summaries[0].text and summaries[1].attachments
