"""Chat commands of the foundation: /ketnoi, /thamgia, /vaitro, /huongdan and permissions."""

from __future__ import annotations

import unicodedata
from datetime import timedelta

import pytest
from sqlmodel import select

from tests.factories import ChatHarness, FakeClock, Tree, build_tree, join_code
from tocns.app import BotApp, build_registry
from tocns.core.messages import Mention
from tocns.core.permissions import GUEST
from tocns.core.roles import Level, Role
from tocns.db.audit import AuditLog, audit_trail
from tocns.db.errors import Conflict
from tocns.features.org import store as org_store
from tocns.features.org.models import ChatBinding, Membership, OrgUnit, Person


async def _tree(app: BotApp) -> Tree:
    async with app.db.session() as session:
        return await build_tree(session)


async def _code(app: BotApp, unit: OrgUnit, role: Role, clock: FakeClock, ttl: timedelta = timedelta(days=7)) -> str:
    async with app.db.session() as session:
        return await join_code(session, unit, role, clock(), ttl)


async def _membership(app: BotApp, user_id: str) -> list[tuple[str, str]]:
    async with app.db.session() as session:
        person = await org_store.get_person(session, "console", user_id)
        if person is None:
            return []
        return [(u.name, m.role) for m, u in await org_store.memberships_of(session, person.id or 0)]


async def test_ketnoi_binds_chat_and_grants_role(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    tree = await _tree(app)
    code = await _code(app, tree.commune, Role.COMMUNE_LEADER, clock)
    reply = await chat.text(f"/ketnoi {code.lower()}", user="10", name="Chủ tịch Hùng")
    assert "Đã kết nối nhóm này với Xã Tân Lập" in reply
    assert "Lãnh đạo xã/phường" in reply
    async with app.db.session() as session:
        binding = await org_store.get_binding(session, "console", "group-1")
        assert binding is not None and binding.org_unit_id == tree.commune.id
    assert await _membership(app, "10") == [("Xã Tân Lập", "commune_leader")]


async def test_join_code_works_once(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    tree = await _tree(app)
    code = await _code(app, tree.commune, Role.COMMUNE_LEADER, clock)
    assert "Đã kết nối" in await chat.text(f"/ketnoi {code}", chat="g1")
    reply = await chat.text(f"/ketnoi {code}", chat="g2", user="2")
    assert "đã được sử dụng" in reply
    async with app.db.session() as session:
        assert await org_store.get_binding(session, "console", "g2") is None
    assert await _membership(app, "2") == []


async def test_join_code_expires(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    tree = await _tree(app)
    code = await _code(app, tree.commune, Role.COMMUNE_LEADER, clock, ttl=timedelta(hours=2))
    clock.advance(hours=2, seconds=1)
    reply = await chat.text(f"/ketnoi {code}")
    assert "đã hết hạn" in reply
    async with app.db.session() as session:
        assert await org_store.get_binding(session, "console", "group-1") is None


async def test_unknown_join_code(chat: ChatHarness, app: BotApp) -> None:
    await _tree(app)
    assert "không đúng" in await chat.text("/ketnoi ZZZZ9999")
    assert "Thiếu mã kết nối" in await chat.text("/ketnoi")


async def test_second_ketnoi_in_bound_chat_is_refused(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    tree = await _tree(app)
    first = await _code(app, tree.commune, Role.COMMUNE_LEADER, clock)
    second = await _code(app, tree.other_commune, Role.COMMUNE_LEADER, clock)
    await chat.text(f"/ketnoi {first}")
    reply = await chat.text(f"/ketnoi {second}", user="2")
    assert "đã được kết nối với Xã Tân Lập" in reply
    assert "chưa bị dùng" in reply and "tin nhắn riêng" in reply  # where the code does work
    async with app.db.session() as session:
        binding = await org_store.get_binding(session, "console", "group-1")
        assert binding is not None and binding.org_unit_id == tree.commune.id
        unused = (await session.exec(select(org_store.JoinCode).where(org_store.JoinCode.code == second))).one()
        assert unused.used_at is None


async def _bound(app: BotApp, chat: ChatHarness, clock: FakeClock) -> Tree:
    tree = await _tree(app)
    code = await _code(app, tree.commune, Role.COMMUNE_LEADER, clock)
    await chat.text(f"/ketnoi {code}", user="leader", name="Chủ tịch Hùng")
    return tree


async def test_thamgia_without_diacritics(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await _bound(app, chat, clock)
    reply = await chat.text("/thamgia thon 3", user="1", name="Lan")
    assert "Lan đã tham gia Thôn 3" in reply
    assert await _membership(app, "1") == [("Thôn 3", "member")]


async def test_thamgia_by_code_upper_case_and_moving(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await _bound(app, chat, clock)
    assert "Bản Nà Hin" in await chat.text("/THAMGIA BAN NA HIN", user="1")
    reply = await chat.text("/thamgia X1-T01", user="1")
    assert "Thôn 1" in reply and "đã rời Bản Nà Hin" in reply
    assert await _membership(app, "1") == [("Thôn 1", "member")]


async def test_thamgia_ambiguous_lists_choices(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await _bound(app, chat, clock)
    reply = await chat.text("/thamgia thon", user="1")
    assert "Bạn chọn tổ nào?" in reply
    assert "/thamgia X1-T01" in reply and "/thamgia X1-T02" in reply
    assert await _membership(app, "1") == []


async def test_thamgia_unknown_team_lists_teams(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await _bound(app, chat, clock)
    reply = await chat.text("/thamgia khu pho 9", user="1")
    assert "Không tìm thấy tổ" in reply and "Bản Nà Hin" in reply
    assert await _membership(app, "1") == []


async def test_thamgia_needs_a_bound_chat(app: BotApp, chat: ChatHarness) -> None:
    await _tree(app)
    assert "chưa kết nối" in await chat.text("/thamgia thon 3")


async def test_nfd_input_behaves_like_nfc(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await _bound(app, chat, clock)
    nfd = unicodedata.normalize("NFD", "/thamgia Bản Nà Hin")
    assert "đã tham gia Bản Nà Hin" in await chat.text(nfd, user="1")
    nfd_help = unicodedata.normalize("NFD", "/hướngdẫn")
    assert "Các lệnh bạn dùng được" in await chat.text(nfd_help, user="1")


async def test_unknown_command_suggests_closest(chat: ChatHarness) -> None:
    reply = await chat.text("/huongdna")
    assert "Không có lệnh /huongdna" in reply and "/huongdan" in reply


async def test_vaitro_by_leader_within_unit(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await _bound(app, chat, clock)
    await chat.text("/thamgia thon 3", user="1", name="Lan")
    reply = await chat.text("/vaitro @Lan to truong", user="leader")
    assert "Đã giao vai trò Tổ trưởng của Thôn 3" in reply
    assert await _membership(app, "1") == [("Thôn 3", "team_leader")]
    async with app.db.session() as session:
        rows = (await session.exec(select(AuditLog).where(AuditLog.action == "set_role"))).all()
        assert len(rows) == 1 and '"member"' in (rows[0].before or "") and '"team_leader"' in (rows[0].after or "")


async def test_vaitro_refused_for_member(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await _bound(app, chat, clock)
    await chat.text("/thamgia thon 3", user="1", name="Lan")
    await chat.text("/thamgia thon 1", user="2", name="Mai")
    reply = await chat.text("/vaitro @Mai to truong", user="1")
    assert "không có quyền" in reply
    assert await _membership(app, "2") == [("Thôn 1", "member")]


async def test_team_leader_acts_only_in_own_team(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await _bound(app, chat, clock)
    await chat.text("/thamgia thon 3", user="1", name="Lan")
    await chat.text("/thamgia thon 3", user="2", name="Mai")
    await chat.text("/thamgia thon 1", user="3", name="Hoa")
    await chat.text("/vaitro @Lan to truong", user="leader")
    assert "Đã giao vai trò Tổ trưởng" in await chat.text("/vaitro @Mai to truong", user="1")
    refused = await chat.text("/vaitro @Hoa to truong", user="1")
    assert "không có quyền" in refused
    cannot_raise = await chat.text("/vaitro @Mai lanh dao xa", user="1")
    assert "không có quyền" in cannot_raise
    assert await _membership(app, "3") == [("Thôn 1", "member")]


async def test_vaitro_by_mention_user_id(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await _bound(app, chat, clock)
    await chat.text("/thamgia thon 1", user="77", name="Nguyễn Văn Nam")
    reply = await chat.text("/vaitro Nam to truong", user="leader", mentions=[Mention(user_id="77")])
    assert "cho Nguyễn Văn Nam" in reply


async def test_vaitro_bad_usage(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await _bound(app, chat, clock)
    assert "Cách dùng: /vaitro" in await chat.text("/vaitro @Lan", user="leader")
    assert "Không tìm thấy người" in await chat.text("/vaitro @Ai Do to truong", user="leader")


ROLE_HOLDERS = [GUEST, *[r.value for r in Role]]


@pytest.mark.parametrize("role", ROLE_HOLDERS)
async def test_every_command_refuses_roles_it_does_not_allow(
    app: BotApp, chat: ChatHarness, clock: FakeClock, role: str
) -> None:
    tree = await _bound(app, chat, clock)
    async with app.db.session() as session:
        person = await org_store.upsert_person(session, platform="console", user_id="p", display_name="P")
        units = {
            "member": tree.teams[1],
            "team_leader": tree.teams[1],
            "commune_leader": tree.commune,
            "staff": tree.province,
            "admin": tree.province,
        }
        if role != GUEST:
            await org_store.set_membership(session, person=person, unit=units[role], role=Role(role))
    refused = [c for c in build_registry().all() if role not in c.roles]
    for cmd in refused:
        reply = await chat.text(f"/{cmd.name}", user="p", name="P")
        assert f"Bạn không có quyền dùng lệnh /{cmd.name}" in reply, cmd.name
    if role == GUEST:
        assert any(role not in c.roles for c in build_registry().all())


async def test_duplicate_delivery_processed_once(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    tree = await _tree(app)
    code = await _code(app, tree.commune, Role.COMMUNE_LEADER, clock)
    first = await chat.send(f"/ketnoi {code}", message_id="m-1")
    again = await chat.send(f"/ketnoi {code}", message_id="m-1")
    assert "Đã kết nối" in first[0].text
    assert again == []


async def test_audit_log_records_binding_and_join(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await _bound(app, chat, clock)
    await chat.text("/thamgia thon 3", user="1")
    async with app.db.session() as session:
        binding = (await session.exec(select(ChatBinding))).one()
        assert [a.action for a in await audit_trail(session, "chat_binding", binding.id)] == ["bind"]
        person = (await session.exec(select(Person).where(Person.user_id == "1"))).one()
        membership = (await session.exec(select(Membership).where(Membership.person_id == person.id))).one()
        assert [a.action for a in await audit_trail(session, "membership", membership.id)] == ["join"]


async def test_long_message_is_refused_clearly(chat: ChatHarness) -> None:
    reply = await chat.text("/thamgia " + "a" * 5000)
    assert "Tin nhắn quá dài" in reply


async def test_staff_role_goes_on_the_groups_province_under_a_national_root(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    """With a unit above the provinces, /vaitro gives staff on the group's province, never on the whole country."""
    async with app.db.session() as session:
        nation = await org_store.create_unit(session, code="VN", name="Cả nước", level="nation")
        province = await org_store.create_unit(
            session, code="P01", name="Tỉnh Thử", level=Level.PROVINCE, parent=nation
        )
        commune = await org_store.create_unit(
            session, code="X1", name="Xã Tân Lập", level=Level.COMMUNE, parent=province
        )
        await org_store.add_team(session, "X1", "Thôn 1")
        staff = await org_store.upsert_person(session, platform="console", user_id="s", display_name="Cán bộ Mai")
        await org_store.set_membership(session, person=staff, unit=province, role=Role.STAFF)
        await org_store.bind_chat(session, platform="console", chat_id="group-1", unit=commune, person=None)
    await chat.text("/thamgia thon 1", user="n", name="Nam", username="nam")
    reply = await chat.text("/vaitro @nam can bo so", user="s")
    assert reply == "Đã giao vai trò Cán bộ Sở của Tỉnh Thử (P01) cho Nam."
    assert ("Tỉnh Thử", Role.STAFF) in await _membership(app, "n")
    assert ("Cả nước", Role.STAFF) not in await _membership(app, "n")


async def test_a_staff_code_exists_only_for_a_province(app: BotApp, clock: FakeClock) -> None:
    """Staff reach every unit under theirs: no staff code on a commune or team, at issue or at use (issue 14)."""
    tree = await _tree(app)
    for unit in (tree.commune, tree.teams[0]):
        with pytest.raises(Conflict, match="Cán bộ Sở chỉ giao ở cấp tỉnh"):
            await _code(app, unit, Role.STAFF, clock)
    assert await _code(app, tree.province, Role.STAFF, clock)


async def test_a_team_leader_code_works_in_the_commune_group(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    """The import prints one code per team leader; the leader types it in the commune's group."""
    tree = await _tree(app)
    await chat.text(f"/ketnoi {await _code(app, tree.commune, Role.COMMUNE_LEADER, clock)}")
    team = tree.teams[0]
    reply = await chat.text(f"/ketnoi {await _code(app, team, Role.TEAM_LEADER, clock)}", user="7", name="Tùng")
    assert f"Tùng là Tổ trưởng của {team.name}" in reply and "Nhóm vẫn kết nối với Xã Tân Lập" in reply, reply
    async with app.db.session() as session:
        binding = await org_store.get_binding(session, "console", "group-1")
        assert binding is not None and binding.org_unit_id == tree.commune.id
