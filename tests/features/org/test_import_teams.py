"""`tocns org import-teams`: a sheet of teams and members, checked first, applied all or nothing, twice safe."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy import func
from sqlmodel import col, select

from tests.cli.test_cli import run_cli
from tests.factories import build_tree
from tocns.app import BotApp
from tocns.db.audit import AuditLog
from tocns.features.org import service as org_service
from tocns.features.org import store as org_store
from tocns.features.org.models import JoinCode, Membership, OrgUnit, Person
from tocns.features.org.sheet import SheetError, read_sheet

HEAD = ["Xã/phường (mã hoặc tên)", "Tổ", "Thành viên", "Điện thoại", "Telegram ID", "Zalo ID", "Vai trò"]
GOOD = [
    ["X1", "Thôn 5", "Nguyễn Văn An", "0912 345 678", "", "", "tổ trưởng"],
    ["X1", "thon 5", "Trần Thị Bình", "+84987654321", "", "", "thành viên"],
    ["xa tan lap", "Ấp Mới", "Lê Văn Cường", "", "123456789", "", ""],
    ["Hòa Bình", "Thôn 1", "Phạm Thị Dung", "", "", "zalo-4455667788", "to truong"],  # an existing team
    ["X2", "Tổ dân phố 7", "", "", "", "", ""],
]


def _xlsx(path: Path, rows: list[list[Any]], head: list[str] = HEAD) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(head)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


async def _counts(app: BotApp) -> dict[str, int]:
    async with app.db.session() as session:
        out = {}
        for model in (OrgUnit, Person, Membership, JoinCode, AuditLog):
            out[model.__name__] = int(await session.scalar(select(func.count()).select_from(model)) or 0)
        return out


async def _import(app: BotApp, path: Path) -> tuple[list[str], org_service.ImportOutcome | None]:
    rows = read_sheet(path)
    async with app.db.session() as session:
        plans, problems = await org_service.plan_team_import(session, rows)
        if problems:
            return [str(p) for p in problems], None
        return [], await org_service.apply_team_import(session, plans, app.clock(), timedelta(days=30))


async def test_import_creates_teams_members_and_codes_then_changes_nothing(app: BotApp, tmp_path: Path) -> None:
    async with app.db.session() as session:
        await build_tree(session)
    sheet = _xlsx(tmp_path / "to.xlsx", GOOD)
    problems, outcome = await _import(app, sheet)
    assert problems == [] and outcome is not None
    assert (outcome.teams_created, outcome.teams_existing) == (3, 1)
    assert (outcome.people_created, outcome.memberships_created) == (4, 4)
    codes = {c.team_name: c for c in outcome.codes}
    # "Thôn 5" and "thon 5" are one team; the new teams get the next free codes and a join code each.
    assert codes["Thôn 5"].team_code == "X1-T04" and codes["Ấp Mới"].team_code == "X1-T05"
    assert codes["Tổ dân phố 7"].team_code == "X2-T02" and codes["Tổ dân phố 7"].join_code
    assert codes["Thôn 1"].created is False and codes["Thôn 1"].join_code is None
    async with app.db.session() as session:
        team = await org_store.require_unit(session, "X1-T04")
        commune = await org_store.require_unit(session, "X1")
        assert team.path == f"{commune.path}{team.id}/" and team.depth == commune.depth + 1
        held = await session.exec(
            select(Person, Membership)
            .join(Membership, col(Membership.person_id) == col(Person.id))
            .where(Membership.org_unit_id == team.id)
        )
        members = {p.display_name: (p.platform, p.user_id, m.role) for p, m in held.all()}
        assert members == {
            "Nguyễn Văn An": ("phone", "0912345678", "team_leader"),
            "Trần Thị Bình": ("phone", "0987654321", "member"),
        }
        leader_codes = select(JoinCode).where(JoinCode.org_unit_id == team.id, col(JoinCode.person_id).is_(None))
        join = (await session.exec(leader_codes)).one()
        assert join.code == codes["Thôn 5"].join_code and join.role == "team_leader"
    # One personal code per imported person, with their own team and role (issue 27).
    personal = {p.name: p for p in outcome.personal}
    assert set(personal) == {"Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường", "Phạm Thị Dung"}
    assert len({p.join_code for p in personal.values()}) == 4
    assert (personal["Trần Thị Bình"].team_code, personal["Trần Thị Bình"].role) == ("X1-T04", "member")
    assert personal["Phạm Thị Dung"].role == "team_leader" and personal["Phạm Thị Dung"].team_name == "Thôn 1"
    before = await _counts(app)
    # Again: nothing new, nothing changed; the new teams show the join codes they already have.
    problems, again = await _import(app, sheet)
    assert problems == [] and again is not None
    assert (again.teams_created, again.people_created, again.memberships_created, again.roles_changed) == (0, 0, 0, 0)
    assert await _counts(app) == before
    assert {c.team_name: c.join_code for c in again.codes}["Thôn 5"] == codes["Thôn 5"].join_code
    assert {p.name: p.join_code for p in again.personal} == {n: p.join_code for n, p in personal.items()}


async def test_every_bad_row_named_and_nothing_imported(app: BotApp, tmp_path: Path) -> None:
    async with app.db.session() as session:
        await build_tree(session)
    before = await _counts(app)
    rows = [
        ["X1", "Thôn 5", "Nguyễn Văn An", "0912345678", "", "", "tổ trưởng"],  # row 2: fine
        ["Xã Tân Lạp Mới", "Thôn 6", "", "", "", "", ""],  # row 3: no such commune
        ["X2", "Thôn 8", "", "", "", "", ""],  # row 4: fine
        ["X2", "thôn 8", "", "", "", "", ""],  # row 5: the same team again
        ["X1", "Thôn 5", "", "0911111111", "", "", ""],  # row 6: a member without a name
        ["X1", "Thôn 5", "Lò Văn Páo", "0922222222", "", "", "trưởng thôn"],  # row 7: unknown role
        ["X1", "=A2", "Lò Thị Mai", "0933333333", "", "", ""],  # row 8: a formula
        ["X1", "", "Hà Văn Sơn", "0944444444", "", "", ""],  # row 9: no team
        ["X1", "Thôn 5", "Vi Văn Tú", "0912345678", "", "", ""],  # row 10: same phone as row 2
        ["X1", "Thôn 5", "Đinh Văn Út", "12345", "", "", ""],  # row 11: not a phone number
        ["X1", "Thôn 5", "Mã Văn Vũ", "", "@vuma", "", ""],  # row 12: a Telegram @name, not an id
    ]
    problems, outcome = await _import(app, _xlsx(tmp_path / "sai.xlsx", rows))
    assert outcome is None
    assert problems == [
        "Dòng 3: không có xã/phường 'Xã Tân Lạp Mới' (mã hoặc tên). Có phải: Xã Tân Lập?",
        "Dòng 5: trùng tổ 'thôn 8' của Xã Hòa Bình với dòng 4.",
        "Dòng 6: thiếu họ tên thành viên.",
        "Dòng 7: vai trò 'trưởng thôn' không có; dùng 'thành viên' hoặc 'tổ trưởng'.",
        "Dòng 8: ô Tổ là công thức; hãy dán giá trị (Paste Values).",
        "Dòng 9: thiếu tên tổ.",
        "Dòng 10: trùng người với dòng 2 (cùng số điện thoại 0912345678).",
        "Dòng 11: số điện thoại '12345' không hợp lệ (10 chữ số, bắt đầu bằng 0).",
        "Dòng 12: Telegram ID '@vuma' phải là dãy số (không phải @tên).",
    ]
    assert await _counts(app) == before


async def test_not_a_sheet_is_refused(tmp_path: Path) -> None:
    for name, content, reason in (
        ("to.pdf", b"%PDF-1.4", "không phải bảng tính"),
        ("to.xlsx", b"this is text renamed to xlsx", "không phải bảng tính .xlsx hợp lệ"),
        ("to.xls", b"\xd0\xcf\x11\xe0", "Excel 97-2003"),
        ("to.csv", "Tổ;Xã\n".encode("cp1258", errors="replace") + b"\xff\xfe", "không phải UTF-8"),
    ):
        path = tmp_path / name
        path.write_bytes(content)
        try:
            read_sheet(path)
        except SheetError as exc:
            assert reason in str(exc), name
        else:
            raise AssertionError(f"{name} was read as a sheet")
    no_heading = _xlsx(tmp_path / "khong-tieu-de.xlsx", [["X1", "Thôn 5"]], head=["Mã", "Tên"])
    try:
        read_sheet(no_heading)
    except SheetError as exc:
        assert "Không thấy cột 'Xã/phường (mã hoặc tên)' và 'Tổ'" in str(exc)
    else:
        raise AssertionError("a sheet without headings was read")


async def test_csv_from_vietnamese_excel(app: BotApp, tmp_path: Path) -> None:
    """Semicolons, a BOM, headings without diacritics, a phone that lost its leading zero."""
    async with app.db.session() as session:
        await build_tree(session)
    path = tmp_path / "to.csv"
    path.write_text("\ufeffxa phuong;to;ho ten;sdt;vai tro\nX1;Thôn 9;Hà Thị Én;912345678;\n", encoding="utf-8")
    problems, outcome = await _import(app, path)
    assert problems == [] and outcome is not None and outcome.memberships_created == 1
    async with app.db.session() as session:
        assert await org_store.get_person(session, "phone", "0912345678") is not None


async def test_cli_template_round_trip_and_exit_codes(app: BotApp, db_url: str, tmp_path: Path) -> None:
    async with app.db.session() as session:
        province = await org_store.create_unit(session, code="01", name="Thành phố Hà Nội", level="province")
        await org_store.create_unit(session, code="00070", name="Phường Hoàn Kiếm", level="commune", parent=province)
    template = tmp_path / "mau.xlsx"
    assert run_cli(["org", "import-teams", "--template", str(template)], db_url).returncode == 0
    first = run_cli(["org", "import-teams", str(template)], db_url)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0].startswith("Mã tổ\tTổ\tXã/phường\tMã kết nối")
    assert any(line.startswith("00070-T01\tThôn 3\tPhường Hoàn Kiếm\t") for line in lines)
    assert "3 tổ mới (0 đã có), 4 người mới, 4 thành viên mới" in first.stderr
    second = run_cli(["org", "import-teams", str(template)], db_url)
    assert second.returncode == 0 and "0 tổ mới (3 đã có), 0 người mới, 0 thành viên mới" in second.stderr
    bad = tmp_path / "sai.csv"
    bad.write_text("Xã/phường,Tổ,Thành viên,Vai trò\n99999,Thôn 1,,\n00070,Thôn 2,An,phó chủ tịch\n", encoding="utf-8")
    refused = run_cli(["org", "import-teams", str(bad)], db_url)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "Dòng 2: không có xã/phường '99999'" in refused.stderr and "Dòng 3: vai trò 'phó chủ tịch'" in refused.stderr
    assert "Không nhập gì: 2/2 dòng có lỗi." in refused.stderr
    missing = run_cli(["org", "import-teams", str(tmp_path / "khong-co.xlsx")], db_url)
    assert missing.returncode == 1 and "Không có tệp" in missing.stderr


async def test_imported_people_are_never_created_twice(app: BotApp, tmp_path: Path) -> None:
    """A roster imported by phone, then the same people arrive by chat: one person each, roles and tasks kept."""
    from tests.factories import ChatHarness

    async with app.db.session() as session:
        tree = await build_tree(session)
    rows = [
        ["X1", "Thôn 5", "Hoàng Văn Tùng", "0912 345 678", "", "", "tổ trưởng"],
        ["X1", "Thôn 5", "Bế Thị Hoa", "0987654321", "", "", ""],
        ["X1", "Thôn 5", "Lò Văn Páo", "0977000111", "", "", ""],
    ]
    problems, outcome = await _import(app, _xlsx(tmp_path / "t.xlsx", rows))
    assert outcome is not None, problems
    leader_code = next(c.join_code for c in outcome.codes if c.team_name == "Thôn 5")
    async with app.db.session() as session:
        group_code = await org_store.create_join_code(
            session, unit=tree.commune, role=org_store.Role.COMMUNE_LEADER, ttl=timedelta(days=1), now=app.clock()
        )
    chat = ChatHarness(app)
    await chat.text(f"/ketnoi {group_code.code}", user="1", name="Chủ tịch")
    # The leader types the code the import printed, in the commune's group: the roster entry becomes this account.
    claimed = await chat.text(f"/ketnoi {leader_code}", user="77", name="Tùng HV")
    assert "Bạn là Hoàng Văn Tùng trong danh sách đã nhập" in claimed, claimed
    # A member joins and is offered the names nobody has claimed; the leader's is no longer among them.
    joined = await chat.text("/thamgia thon 5", user="78", name="Hoa Bế")
    assert "/toila" in joined and "1. Bế Thị Hoa" in joined and "2. Lò Văn Páo" in joined, joined
    assert "Hoàng Văn Tùng" not in joined
    assert "Đã nhận: bạn là Bế Thị Hoa" in await chat.text("/toila 1", user="78", name="Hoa Bế")
    assert "Hãy gõ /toila và số" in await chat.text("/toila 9", user="78", name="Hoa Bế")
    async with app.db.session() as session:
        team = (await session.exec(select(OrgUnit).where(OrgUnit.name == "Thôn 5"))).one()
        members = (await session.exec(select(Membership).where(Membership.org_unit_id == team.id))).all()
        people = {m.person_id: m.role for m in members}
        assert len(people) == 3  # Tùng, Hoa and the roster entry of Páo still waiting: no duplicate
        assert sorted(people.values()) == ["member", "member", "team_leader"]
        assert [p.display_name for p in await org_store.unclaimed_roster(session, team)] == ["Lò Văn Páo"]


async def test_merge_people_repairs_duplicates_that_exist(app: BotApp, tmp_path: Path, db_url: str) -> None:
    """Duplicates made before the fix: the same name in a team, once imported and once by chat; records kept."""
    from tests.factories import ChatHarness

    async with app.db.session() as session:
        tree = await build_tree(session)
        code = await org_store.create_join_code(
            session, unit=tree.commune, role=org_store.Role.COMMUNE_LEADER, ttl=timedelta(days=1), now=app.clock()
        )
    problems, outcome = await _import(
        app, _xlsx(tmp_path / "t.xlsx", [["X1", "Thôn 5", "Hoàng Văn Tùng", "0912345678", "", "", "tổ trưởng"]])
    )
    assert outcome is not None, problems
    chat = ChatHarness(app)
    await chat.text(f"/ketnoi {code.code}", user="1", name="Chủ tịch")
    await chat.text("/thamgia thon 5", user="77", name="Hoàng Văn Tùng")  # ignores the /toila offer
    assert "Đã ghi #" in await chat.text("/ghi vneid 3", user="77", name="Hoàng Văn Tùng")
    listed = run_cli(["org", "merge-people"], db_url)
    assert "Hoàng Văn Tùng (phone) → Hoàng Văn Tùng (console:77)" in listed.stdout and "--yes" in listed.stdout
    merged = run_cli(["org", "merge-people", "--yes"], db_url)
    assert "Đã gộp 1 cặp." in merged.stdout, merged.stderr
    async with app.db.session() as session:
        team = (await session.exec(select(OrgUnit).where(OrgUnit.name == "Thôn 5"))).one()
        roles = [m.role for m in (await session.exec(select(Membership).where(Membership.org_unit_id == team.id)))]
        assert roles == ["team_leader"]  # one person, with the higher of the two roles
    assert "Không có người trùng." in run_cli(["org", "merge-people"], db_url).stdout
    assert "Đã ghi #" in await chat.text("/ghi vneid 4", user="77", name="Hoàng Văn Tùng")
