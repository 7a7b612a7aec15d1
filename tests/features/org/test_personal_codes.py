"""Personal join codes printed by the team import: one per person, usable in the commune group or privately,
making the account that imported person (never a second one) without rebinding the group (issue 27)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from tests.cli.test_cli import run_cli
from tests.factories import ChatHarness, build_tree, join_code
from tests.features.org.test_import_teams import _import, _xlsx
from tocns.app import BotApp
from tocns.core.roles import Role
from tocns.features.org import store as org_store
from tocns.features.org.models import ChatBinding, JoinCode, Membership, OrgUnit, Person

SHEET = [
    ["X1", "Thôn 5", "Hoàng Văn Tùng", "0912 345 678", "", "", "tổ trưởng"],
    ["X1", "Thôn 5", "Bế Thị Hoa", "0987654321", "", "", ""],
    ["X1", "Thôn 5", "Lò Văn Páo", "", "123456789", "", ""],
]


async def _codes(app: BotApp, tmp_path: Path) -> dict[str, str]:
    """Build the tree, import the sheet; the personal code of each imported name."""
    async with app.db.session() as session:
        await build_tree(session)
    problems, outcome = await _import(app, _xlsx(tmp_path / "to.xlsx", SHEET))
    assert outcome is not None, problems
    return {p.name: p.join_code or "" for p in outcome.personal}


async def _team_people(app: BotApp) -> dict[str, tuple[str, str]]:
    """Thôn 5's people: name -> (platform, role)."""
    async with app.db.session() as session:
        team = (await session.exec(select(OrgUnit).where(OrgUnit.name == "Thôn 5"))).one()
        rows = await session.exec(
            select(Person, Membership)
            .join(Membership, col(Membership.person_id) == col(Person.id))
            .where(Membership.org_unit_id == team.id)
        )
        return {p.display_name: (p.platform, m.role) for p, m in rows.all()}


@pytest.mark.parametrize("platform", ["telegram", "zalo", "console"])
async def test_a_personal_code_in_the_commune_group_makes_the_account_that_person(
    app: BotApp, tmp_path: Path, platform: str
) -> None:
    codes = await _codes(app, tmp_path)
    async with app.db.session() as session:
        commune = await org_store.require_unit(session, "X1")
        group_code = await join_code(session, commune, Role.COMMUNE_LEADER, app.clock())
    chat = ChatHarness(app, platform=platform)
    assert "Đã kết nối" in await chat.text(f"/ketnoi {group_code}", user="1", name="Chủ tịch")
    reply = await chat.text(f"/ketnoi {codes['Bế Thị Hoa']}", user="78", name="Hoa Bế")
    assert "Hoa Bế là Thành viên tổ của Thôn 5" in reply and "Bạn là Bế Thị Hoa trong danh sách đã nhập" in reply, reply
    assert "Nhóm vẫn kết nối với Xã Tân Lập (X1)" in reply
    # Privately, the leader's own code gives the leader's role; the roster entries are gone, nobody is twice.
    reply = await chat.text(f"/ketnoi {codes['Hoàng Văn Tùng']}", user="77", name="Tùng", chat="77", private=True)
    assert "Tùng là Tổ trưởng của Thôn 5" in reply and "Bạn là Hoàng Văn Tùng" in reply, reply
    people = await _team_people(app)
    assert people == {
        "Hoa Bế": (platform, "member"),
        "Tùng": (platform, "team_leader"),
        "Lò Văn Páo": ("telegram", "member"),
    }
    async with app.db.session() as session:
        binding = await org_store.get_binding(session, platform, "group-1")
        assert binding is not None and binding.org_unit_id == commune.id  # the group was not rebound
    assert "đã được sử dụng" in await chat.text(f"/ketnoi {codes['Bế Thị Hoa']}", user="79", name="Người khác")
    # She logs at once, as Thôn 5's member (the imported person's team).
    assert "Đã ghi #" in await chat.text("/ghi vneid 2", user="78", name="Hoa Bế")


async def test_a_personal_code_never_binds_a_group_and_another_account_cannot_take_it(
    app: BotApp, tmp_path: Path
) -> None:
    codes = await _codes(app, tmp_path)
    chat = ChatHarness(app, platform="telegram")
    # Páo was imported with his Telegram ID: another Telegram account typing his code is refused, the code kept.
    refused = await chat.text(f"/ketnoi {codes['Lò Văn Páo']}", user="555", name="Kẻ lạ", chat="555", private=True)
    assert "là mã riêng của Lò Văn Páo" in refused and "Chưa giao vai trò nào" in refused, refused
    # In a group nobody connected yet, his own account uses it: his role is granted, the group stays unbound.
    reply = await chat.text(f"/ketnoi {codes['Lò Văn Páo']}", user="123456789", name="Páo", chat="group-9")
    assert "Páo là Thành viên tổ của Thôn 5" in reply and "Nhóm này chưa kết nối" in reply, reply
    async with app.db.session() as session:
        assert (await session.exec(select(ChatBinding).where(ChatBinding.chat_id == "group-9"))).first() is None
        used = (await session.exec(select(JoinCode).where(JoinCode.code == codes["Lò Văn Páo"]))).one()
        assert used.used_at is not None
    assert (await _team_people(app))["Páo"] == ("telegram", "member")


async def test_the_import_prints_a_personal_code_per_person(app: BotApp, db_url: str, tmp_path: Path) -> None:
    async with app.db.session() as session:
        await build_tree(session)
    done = run_cli(["org", "import-teams", str(_xlsx(tmp_path / "to.xlsx", SHEET))], db_url)
    assert done.returncode == 0, done.stderr
    lines = [line.split("\t") for line in done.stdout.splitlines()]
    personal = {cells[0]: cells for cells in lines if len(cells) == 6 and cells[1] == "X1-T04"}
    assert set(personal) == {"Hoàng Văn Tùng", "Bế Thị Hoa", "Lò Văn Páo"}
    assert personal["Hoàng Văn Tùng"][3] == "Tổ trưởng" and len(personal["Hoàng Văn Tùng"][4]) == 8
    async with app.db.session() as session:
        stored = (await session.exec(select(JoinCode).where(col(JoinCode.person_id).is_not(None)))).all()
        assert {c.code for c in stored} == {cells[4] for cells in personal.values()}
        assert all(c.expires_at - c.created_at == timedelta(days=30) for c in stored)
