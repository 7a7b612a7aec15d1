"""Reports: figures checked against sums computed independently from generated data, and /baocao in chat."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from openpyxl import load_workbook

from tests.factories import (
    DEFAULT_INDICATORS,
    VN,
    ChatHarness,
    FakeClock,
    Tree,
    build_tree,
    count_statements,
    make_logger,
)
from tocns.app import BotApp
from tocns.core.period import parse_period, week_of
from tocns.core.roles import Role
from tocns.features.org import store as org_store
from tocns.features.org.models import OrgUnit
from tocns.features.reports.render import render_text
from tocns.features.reports.service import unit_report
from tocns.features.reports.store import build_report

WEEK = week_of(date(2026, 11, 16))  # Monday 16/11 to Sunday 22/11/2026


def local(day: date, hour: int = 12, minute: int = 0) -> datetime:
    """A local time in Asia/Ho_Chi_Minh as an aware UTC datetime."""
    return datetime.combine(day, time(hour, minute), tzinfo=VN).astimezone(UTC)


@dataclass
class Row:
    team: OrgUnit
    day: date
    items: dict[str, int]
    created: datetime
    deleted: bool


async def _generate(app: BotApp, seed: int = 7) -> tuple[Tree, list[Row]]:
    """A tree plus random records over three weeks around WEEK, some deleted, some logged late."""
    rnd = random.Random(seed)
    rows: list[Row] = []
    async with app.db.session() as session:
        tree = await build_tree(session)
        logger = await make_logger(session, app.clock())
        teams = tree.teams[:2] + tree.other_teams  # tree.teams[2] (Bản Nà Hin) never reports
        codes = [c for c, _, _ in DEFAULT_INDICATORS]
        for _ in range(60):
            team = rnd.choice(teams)
            day = WEEK.start + timedelta(days=rnd.randint(-9, 9))
            items = {c: rnd.randint(1, 20) for c in rnd.sample(codes, rnd.randint(1, 3))}
            created = local(day + timedelta(days=rnd.choice([0, 0, 1, 2, 3, 5])), rnd.randint(6, 23))
            deleted = rnd.random() < 0.15
            await logger.log(team, day, items, created, deleted_at=created + timedelta(hours=1) if deleted else None)
            rows.append(Row(team, day, items, created, deleted))
    return tree, rows


def _expected(rows: list[Row], unit: OrgUnit, start: date, end: date) -> dict[str, int]:
    sums: dict[str, int] = {}
    for row in rows:
        if not row.deleted and start <= row.day <= end and row.team.path.startswith(unit.path):
            for code, qty in row.items.items():
                sums[code] = sums.get(code, 0) + qty
    return sums


async def test_province_report_matches_independent_sums(app: BotApp, clock: FakeClock) -> None:
    tree, rows = await _generate(app)
    async with app.db.session() as session:
        report = await unit_report(session, tree.province, WEEK, app.settings, clock())
    got = {t.code: t.quantity for t in report.totals if t.quantity}
    assert got == _expected(rows, tree.province, WEEK.start, WEEK.end)
    previous = WEEK.previous()
    assert {t.code: t.previous for t in report.totals if t.previous} == _expected(
        rows, tree.province, previous.start, previous.end
    )
    # Per commune.
    by_code = {c.code: c for c in report.children}
    for commune in (tree.commune, tree.other_commune):
        expected = _expected(rows, commune, WEEK.start, WEEK.end)
        assert by_code[commune.code].by_indicator == expected
        assert by_code[commune.code].quantity == sum(expected.values())
    live = [r for r in rows if not r.deleted and WEEK.start <= r.day <= WEEK.end]
    reporting = {r.team.id for r in live}
    assert report.teams == 4
    assert report.reporting_teams == len(reporting)
    assert report.records == len(live)
    timely = [r for r in live if r.created.astimezone(VN).date() <= r.day + timedelta(days=2)]
    assert report.timely_records == len(timely)
    assert {t.code for t in report.silent_teams} == {
        t.code for t in [*tree.teams, *tree.other_teams] if t.id not in reporting
    }
    assert report.tasks is not None and (report.tasks.due, report.tasks.done, report.tasks.overdue) == (0, 0, 0)


async def test_period_boundaries_sunday_night_against_monday_morning(app: BotApp, clock: FakeClock) -> None:
    async with app.db.session() as session:
        tree = await build_tree(session)
        logger = await make_logger(session, clock())
        sunday, monday = date(2026, 11, 22), date(2026, 11, 23)
        await logger.log(tree.teams[0], sunday, {"vneid": 5}, local(sunday, 23, 59))
        await logger.log(tree.teams[0], monday, {"vneid": 7}, local(monday, 0, 0))
    # Sunday 23:59 local: "this week" is 16-22/11 and holds only Sunday's record.
    clock.set_local("2026-11-22 23:59")
    this_week = parse_period("tuan", clock().astimezone(VN).date())
    assert (this_week.start, this_week.end) == (date(2026, 11, 16), date(2026, 11, 22))
    async with app.db.session() as session:
        report = await unit_report(session, tree.commune, this_week, app.settings, clock())
    assert {t.code: t.quantity for t in report.totals if t.quantity} == {"vneid": 5}
    # Monday 00:00 local (still Sunday in UTC): the new week holds only Monday's record.
    clock.set_local("2026-11-23 00:00")
    assert clock().astimezone(UTC).date() == sunday
    next_week = parse_period("tuần", clock().astimezone(VN).date())
    async with app.db.session() as session:
        report = await unit_report(session, tree.commune, next_week, app.settings, clock())
    assert {t.code: t.quantity for t in report.totals if t.quantity} == {"vneid": 7}
    assert {t.code: t.previous for t in report.totals if t.previous} == {"vneid": 5}


async def test_timeliness_counts_local_days(app: BotApp, clock: FakeClock) -> None:
    day = date(2026, 11, 18)
    async with app.db.session() as session:
        tree = await build_tree(session)
        logger = await make_logger(session, clock())
        # 2 days later at 23:59 local is on time; 3 days later at 00:00 local (17:00 UTC the day before) is late.
        await logger.log(tree.teams[0], day, {"dvc": 1}, local(day + timedelta(days=2), 23, 59))
        await logger.log(tree.teams[0], day, {"dvc": 1}, local(day + timedelta(days=3), 0, 0))
        report = await unit_report(session, tree.commune, WEEK, app.settings, clock())
    assert (report.timely_records, report.records) == (1, 2)


async def test_deleted_and_edited_records(app: BotApp, clock: FakeClock) -> None:
    from sqlmodel import select

    from tocns.features.activity.models import ActivityItem

    day = date(2026, 11, 17)
    async with app.db.session() as session:
        tree = await build_tree(session)
        logger = await make_logger(session, clock())
        await logger.log(tree.teams[0], day, {"vneid": 10}, local(day), deleted_at=local(day, 13))
        edited = await logger.log(tree.teams[1], day, {"vneid": 4, "dvc": 3}, local(day))
        # An edit replaces the record's items: vneid 4 -> 6, dvc removed.
        items = (await session.exec(select(ActivityItem).where(ActivityItem.record_id == edited.id))).all()
        for item in items:
            if item.indicator_id == logger.indicators["dvc"].id:
                await session.delete(item)
            else:
                item.quantity = 6
        edited.updated_at = local(day, 15)
        await session.flush()
        report = await unit_report(session, tree.commune, WEEK, app.settings, clock())
    assert {t.code: t.quantity for t in report.totals if t.quantity} == {"vneid": 6}
    assert report.records == 1 and report.reporting_teams == 1 and report.teams == 3
    assert {c.name: c.reporting_teams for c in report.children} == {"Thôn 1": 0, "Thôn 3": 1, "Bản Nà Hin": 0}


async def _bind(app: BotApp, unit: OrgUnit, chat_id: str, user: str, role: Role) -> None:
    async with app.db.session() as session:
        person = await org_store.upsert_person(session, platform="console", user_id=user, display_name="Anh Hùng")
        await org_store.set_membership(session, person=person, unit=unit, role=role)
        await org_store.bind_chat(session, platform="console", chat_id=chat_id, unit=unit, person=person)


async def test_baocao_in_commune_group(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    async with app.db.session() as session:
        tree = await build_tree(session)
        logger = await make_logger(session, clock())
        await logger.log(tree.teams[0], date(2026, 11, 17), {"vneid": 12, "dvc": 3}, local(date(2026, 11, 17)))
        await logger.log(tree.teams[0], date(2026, 11, 10), {"vneid": 8}, local(date(2026, 11, 10)))
    await _bind(app, tree.commune, "xa-group", "10", Role.COMMUNE_LEADER)
    clock.set_local("2026-11-23 09:00")
    sent = await chat.send("/BaoCao tuần trước", chat="xa-group", user="10")
    # A commune leader also gets the workbook, as a document with the last message.
    files = [a for r in sent for a in r.attachments]
    assert [f.filename for f in files] == ["bao-cao-X1-2026-W47.xlsx"] and sent[-1].attachments == files
    book = load_workbook(io.BytesIO(files[0].content))
    assert [r[3] for r in book["Tổ chưa báo cáo"].iter_rows(min_row=2, values_only=True)] == ["Bản Nà Hin", "Thôn 3"]
    reply = "\n".join(r.text for r in sent)
    assert "BÁO CÁO XÃ TÂN LẬP" in reply
    assert "tuần 16/11/2026 - 22/11/2026" in reply
    assert "Kích hoạt VNeID: 12 tài khoản (8, ▲4)" in reply
    assert "Tổ có báo cáo: 1/3 (33%)" in reply
    # Each team once: the silent ones by name, in Vietnamese order (Bản before Thôn), not twice.
    assert reply.split("Tổ chưa báo cáo (2):")[1].split("\n")[1:3] == ["• Bản Nà Hin", "• Thôn 3"]
    assert reply.count("Thôn 3") == 1 and "chưa báo cáo\n" not in reply.split("Tổ chưa báo cáo")[0]
    # Per team: what it did per indicator, never 12 accounts + 3 files added up to "15".
    assert "• Thôn 1: 1 lượt ghi — vneid 12 tài khoản, dvc 3 hồ sơ" in reply
    assert ": 15" not in reply
    # The alias, no diacritics, a date range across the month.
    reply = await chat.text("/report 10/11-17/11", chat="xa-group", user="10")
    assert "từ 10/11/2026 đến 17/11/2026" in reply
    assert "Kích hoạt VNeID: 20 tài khoản" in reply


async def test_baocao_bad_input_and_unbound_chat(app: BotApp, chat: ChatHarness) -> None:
    async with app.db.session() as session:
        tree = await build_tree(session)
    await _bind(app, tree.commune, "xa-group", "10", Role.COMMUNE_LEADER)
    reply = await chat.text("/baocao hom qua", chat="xa-group", user="10")
    assert "Không hiểu khoảng thời gian 'hom qua'" in reply and "Traceback" not in reply
    assert "không có thật" in await chat.text("/baocao 31/02-05/03", chat="xa-group", user="10")
    assert "trước ngày bắt đầu" in await chat.text("/baocao 20/11/2026-01/11/2026", chat="xa-group", user="10")
    assert "chưa bắt đầu" in await chat.text("/baocao 01/12-05/12", chat="xa-group", user="10")
    assert "nhóm đã kết nối" in await chat.text("/baocao", chat="nowhere", user="10")


async def test_long_province_report_fits_one_message(app: BotApp, chat: ChatHarness) -> None:
    async with app.db.session() as session:
        province = await org_store.create_unit(session, code="P9", name="Tỉnh Lớn", level="province")
        for i in range(40):
            commune = await org_store.create_unit(
                session, code=f"C{i:02d}", name=f"Xã Số {i:02d} Có Tên Khá Dài", level="commune", parent=province
            )
            for j in range(4):
                await org_store.add_team(session, commune.code, f"Thôn {j + 1}")
        await make_logger(session, app.clock())
    await _bind(app, province, "so-group", "20", Role.STAFF)
    replies = await chat.send("/baocao", chat="so-group", user="20")
    assert len(replies) == 1 and len(replies[0].text) <= 1900
    joined = replies[0].text
    assert "Tổ có báo cáo: 0/160 (0%)" in joined
    # Nothing to count is "—", not 0%; 40 silent communes are one line, not 40.
    assert "Ghi đúng hạn (≤2 ngày): 0/0 lượt ghi (—)" in joined
    assert "Chưa đơn vị nào có tổ báo cáo (40 đơn vị có tổ)." in joined and "Xã Số 07" not in joined
    assert "… và 150 tổ khác (xem trang Tổ chưa báo cáo trong tệp Excel)." in joined


async def test_ha_noi_sized_province_best_worst_and_empty_communes(app: BotApp, clock: FakeClock) -> None:
    """126 communes, 60 with teams, 8 teams logging: totals, best and worst five, the rest counted, one line."""
    empty_names = ["Xã Zin", "Xã Bình Minh", "Xã Ấp Bắc", "Xã An Khánh"] + [f"Phường Số {i}" for i in range(62)]
    async with app.db.session() as session:
        province = await org_store.create_unit(session, code="01", name="Thành phố Hà Nội", level="province")
        teams = []
        for i in range(60):
            commune = await org_store.create_unit(
                session, code=f"C{i:03d}", name=f"Xã Có Tổ {i}", level="commune", parent=province
            )
            teams += [await org_store.add_team(session, commune.code, f"Thôn {j + 1}") for j in range(2)]
        for i, name in enumerate(empty_names):
            await org_store.create_unit(session, code=f"E{i:03d}", name=name, level="commune", parent=province)
        logger = await make_logger(session, clock())
        day = date(2026, 11, 17)
        for n, team in enumerate(teams[:8]):
            await logger.log(team, day, {"vneid": n + 1}, local(day))
        report = await unit_report(session, province, WEEK, app.settings, clock())
    text = render_text(report, VN)
    assert len(text) <= 1900
    assert "Kích hoạt VNeID: 36 tài khoản" in text and "Tổ có báo cáo: 8/120 (7%)" in text
    best = text.split("5 đơn vị báo cáo đầy đủ nhất:\n")[1].split("\n\n")[0].split("\n")
    assert best[0] == "• Xã Có Tổ 0: 2/2 tổ (100%), 2 lượt ghi, đúng hạn 100%" and len(best) == 4 + 1
    worst = text.split("5 đơn vị báo cáo ít nhất:\n")[1].split("\n")[:5]
    assert all("0/2 tổ (0%), 0 lượt ghi" in line for line in worst)
    assert "… và 50 đơn vị khác (xem trang Theo đơn vị trong tệp Excel)." in text
    # 66 communes without a team: one line, names in Vietnamese order (Ấp after An, before Bình; Z last).
    assert "Chưa có tổ: 66 đơn vị (Phường Số 0, Phường Số 1, Phường Số 2, …)." in text
    assert [c.name for c in report.children if not c.teams][62:] == [
        "Xã An Khánh",
        "Xã Ấp Bắc",
        "Xã Bình Minh",
        "Xã Zin",
    ]


async def test_baocao_in_team_chat_by_a_member(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    async with app.db.session() as session:
        tree = await build_tree(session)
        logger = await make_logger(session, clock())
        await logger.log(tree.teams[1], date(2026, 11, 24), {"suckhoe": 4}, local(date(2026, 11, 24)))
        await logger.log(tree.teams[0], date(2026, 11, 24), {"suckhoe": 9}, local(date(2026, 11, 24)))
    await _bind(app, tree.teams[1], "thon3", "30", Role.MEMBER)
    clock.set_local("2026-11-25 10:00")
    statements, stop = count_statements(app)
    try:
        sent = await chat.send("/baocao", chat="thon3", user="30")
    finally:
        stop()
    assert all(not r.attachments for r in sent)  # a member reads the text; the workbook is for leaders
    # ... so every team's figures (the workbook's team sheet, aggregated into one text per team) are not read.
    assert statements and not any("group_concat" in s or "string_agg" in s for s in statements)
    reply = "\n".join(r.text for r in sent)
    assert "BÁO CÁO THÔN 3 (mã X1-T02)" in reply
    assert "tuần 23/11/2026 - 29/11/2026" in reply
    assert "Sổ sức khỏe điện tử: 4 người (0, ▲4)" in reply  # Thôn 1's 9 are not counted
    assert "Tổ có báo cáo: 1/1 (100%)" in reply and "Theo" not in reply
    # Someone who holds no role in the group's unit may not read its report.
    assert "không có quyền" in await chat.text("/baocao", chat="thon3", user="99")


async def test_figures_are_one_statement_and_team_rows_only_when_asked(app: BotApp, clock: FakeClock) -> None:
    tree, rows = await _generate(app)
    previous = WEEK.previous()
    dates = (WEEK.start, WEEK.end, previous.start, previous.end)
    async with app.db.session() as session:
        statements, stop = count_statements(app)
        try:
            summary, _tasks, _targets = await build_report(session, tree.province, dates, clock(), team_rows=False)
            figures_statements = len(statements)
            full, _tasks, _targets = await build_report(session, tree.province, dates, clock())
        finally:
            stop()
    # The sums per commune and indicator, the totals and the silent teams come from one statement; every team's
    # figures (the workbook's team sheet) come in it too, and only when asked for.
    assert figures_statements == 1
    assert len(statements) - figures_statements == 1
    assert summary.team_rows == []
    assert {**full.to_dict(), "team_rows": []} == summary.to_dict()
    by_team = {t.code: t for t in full.team_rows}
    assert set(by_team) == {t.code for t in [*tree.teams, *tree.other_teams]}
    for team in [*tree.teams, *tree.other_teams]:
        assert by_team[team.code].by_indicator == _expected(rows, team, WEEK.start, WEEK.end)


async def test_every_commune_reads_through_the_same_statement(app: BotApp, clock: FakeClock) -> None:
    """The unit is bound, not written into the SQL: PostgreSQL prepares and plans a report's statement once per
    connection, not once per unit (planning cost a commune's report as much as its work)."""
    tree, rows = await _generate(app)
    previous = WEEK.previous()
    dates = (WEEK.start, WEEK.end, previous.start, previous.end)
    reports = []
    async with app.db.session() as session:
        statements, stop = count_statements(app)
        try:
            for commune in (tree.commune, tree.other_commune):
                for team_rows in (False, True):
                    reports.append(await build_report(session, commune, dates, clock(), team_rows=team_rows))
        finally:
            stop()
    assert len(statements) == 4
    assert statements[0] == statements[2] and statements[1] == statements[3]
    # Each commune's figures are its own (the shared text still reads only the bound unit's teams).
    for (report, _tasks, _targets), commune, teams in zip(
        reports[1::2], (tree.commune, tree.other_commune), (tree.teams, tree.other_teams), strict=True
    ):
        assert {t.code for t in report.team_rows} == {t.code for t in teams}
        assert {t.code: t.quantity for t in report.totals if t.quantity} == _expected(rows, commune, *dates[:2])
