"""The commune digests read province by province: the same texts as each commune's own report, and a number of
statements that does not grow with the communes."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import event
from sqlmodel import col, select

from tests.factories import FakeClock, build_tree, make_logger
from tests.features.reports.test_service import local
from tocns.app import BotApp
from tocns.core.roles import Level, Role
from tocns.features.org import store as org_store
from tocns.features.org.models import OrgUnit
from tocns.features.reports import jobs as report_jobs
from tocns.features.reports.render import render_text
from tocns.features.reports.service import unit_report
from tocns.features.targets import store as target_store
from tocns.features.tasks import store as task_store
from tocns.features.tasks.models import TaskScope
from tocns.outbox.models import OutboxMessage


async def _country(app: BotApp) -> None:
    """Two provinces: X1 with records (both weeks), tasks and silent teams' leaders, X2, X3 whose team sits under a
    unit between (read alone), X4 under P02 with a target of the year, X5 with no team at all."""
    async with app.db.session() as session:
        tree = await build_tree(session)
        now = local(date(2026, 11, 23), 6)
        logger = await make_logger(session, now)
        p02 = await org_store.create_unit(session, code="P02", name="Tỉnh Hai", level=Level.PROVINCE)
        x3 = await org_store.create_unit(
            session, code="X3", name="Phường Ấp Bắc", level=Level.COMMUNE, parent=tree.province
        )
        block = await org_store.create_unit(session, code="KP1", name="Khu phố 1", level=Level.DISTRICT, parent=x3)
        nested = await org_store.add_team(session, "KP1", "Tổ 10")
        x4 = await org_store.create_unit(session, code="X4", name="Xã Đông Hà", level=Level.COMMUNE, parent=p02)
        await org_store.create_unit(session, code="X5", name="Xã Trống", level=Level.COMMUNE, parent=p02)
        x4_teams = [await org_store.add_team(session, "X4", name) for name in ("Thôn 2", "Thôn 10", "Ấp Mới")]
        thon1, thon3, na_hin = tree.teams
        week, before = date(2026, 11, 16), date(2026, 11, 9)
        await logger.log(thon1, week, {"vneid": 12, "dvc": 3}, local(week))
        await logger.log(thon1, week + timedelta(days=2), {"vneid": 5}, local(week + timedelta(days=6)))
        await logger.log(thon3, before + timedelta(days=1), {"vneid": 7}, local(before + timedelta(days=1)))
        await logger.log(tree.other_teams[0], week + timedelta(days=6), {"dvc": 5}, local(week + timedelta(days=6)))
        await logger.log(nested, week + timedelta(days=3), {"vneid": 1}, local(week + timedelta(days=3)))
        for team, qty in zip(x4_teams, (4, 9, 1), strict=True):
            await logger.log(team, week + timedelta(days=1), {"vneid": qty, "dvc": qty}, local(week))
        for number, team in enumerate((thon3, na_hin, x4_teams[2])):
            leader = await org_store.upsert_person(
                session, platform="telegram", user_id=f"tl{number}", display_name=f"Tổ trưởng {number}"
            )
            await org_store.set_membership(session, person=leader, unit=team, role=Role.TEAM_LEADER)
        creator = await org_store.upsert_person(session, platform="console", user_id="boss", display_name="Hùng")
        for title, due, teams in (("Rà soát hộ", week + timedelta(days=2), [thon1, thon3]),
                                  ("Tuyên truyền", week + timedelta(days=5), [na_hin])):  # fmt: skip
            _task, assignees = await task_store.create_task(
                session, commune=tree.commune, title=title, due_date=due, scope=TaskScope.TEAM, platform="console",
                chat_id="g", creator=creator, teams=teams, now=local(before),
            )  # fmt: skip
        await task_store.complete(session, assignees[0], creator, "xong", local(week))
        await target_store.set_target(
            session, unit=x4, indicator=logger.indicators["vneid"], year=2026, month=0, value=400, actor=None, now=now
        )
        units = (await session.exec(select(OrgUnit).where(OrgUnit.level == Level.COMMUNE))).all()
        for unit in units:
            await org_store.bind_chat(session, platform="telegram", chat_id=f"g-{unit.code}", unit=unit, person=None)
        assert block.id and len(units) == 5


async def test_each_digest_is_the_communes_own_report(app: BotApp, clock: FakeClock) -> None:
    await _country(app)
    clock.set_local("2026-11-23 07:00")
    lines = await report_jobs.commune_digest(app, clock())
    assert len(lines) == 5
    period = report_jobs.digest_period(clock(), app)
    assert period is not None
    async with app.db.session() as session:
        digests = {
            row.chat_id: row.text
            for row in (await session.exec(select(OutboxMessage).where(OutboxMessage.kind == "digest"))).all()
        }
        communes = (await session.exec(select(OrgUnit).where(OrgUnit.level == Level.COMMUNE))).all()
        for commune in communes:
            report = await unit_report(session, commune, period, app.settings, clock(), team_rows=False)
            assert digests[f"g-{commune.code}"] == render_text(report, app.settings.tz), commune.code
    x1, x4 = digests["g-X1"], digests["g-X4"]
    # What a leader reads: the teams that logged, the silent ones, the tasks, and (X4) progress to the target.
    assert "Thôn 1: 2 lượt ghi" in x1 and "Bản Nà Hin" in x1 and "#" in x1 and "Rà soát hộ" in x1
    assert "Kích hoạt VNeID: 17" in x1 and "(7, ▲10)" in x1
    assert "vneid" in x4 and "400" in x4
    assert "Khu phố 1: 1 lượt ghi" in digests["g-X3"]  # a unit between the commune and its team: read alone


async def test_the_digests_statements_do_not_grow_with_the_communes(app: BotApp, clock: FakeClock) -> None:
    async with app.db.session() as session:
        tree = await build_tree(session)
        for unit in (tree.commune, tree.other_commune):
            await org_store.bind_chat(session, platform="telegram", chat_id=f"g-{unit.code}", unit=unit, person=None)
    counts = []
    for monday in ("2026-11-23", "2026-11-30"):
        clock.set_local(f"{monday} 07:00")
        seen: list[str] = []

        def record(*_args: object, seen: list[str] = seen) -> None:
            seen.append("")

        event.listen(app.db.engine.sync_engine, "before_cursor_execute", record)
        try:
            sent = await report_jobs.commune_digest(app, clock())
        finally:
            event.remove(app.db.engine.sync_engine, "before_cursor_execute", record)
        counts.append((len(sent), len(seen)))
        if len(counts) == 2:
            break
        # Four more communes, each with two teams and a group, before the next Monday.
        async with app.db.session() as session:
            for number in range(3, 7):
                unit = await org_store.create_unit(
                    session, code=f"X{number}", name=f"Xã {number}", level=Level.COMMUNE, parent=tree.province
                )
                for name in ("Thôn 1", "Thôn 2"):
                    await org_store.add_team(session, unit.code, name)
                await org_store.bind_chat(session, platform="telegram", chat_id=f"g-X{number}", unit=unit, person=None)
    (two, before), (six, after) = counts
    assert (two, six) == (2, 6)
    assert after == before, counts


async def test_digest_of_a_commune_without_a_province(app: BotApp, clock: FakeClock) -> None:
    async with app.db.session() as session:
        root = await org_store.create_unit(session, code="XR", name="Xã Gốc", level=Level.COMMUNE)
        await org_store.add_team(session, "XR", "Thôn 1")
        await org_store.bind_chat(session, platform="telegram", chat_id="g-XR", unit=root, person=None)
    clock.set_local("2026-11-23 07:00")
    assert len(await report_jobs.commune_digest(app, clock())) == 1
    async with app.db.session() as session:
        rows = (await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all()
    assert "BÁO CÁO XÃ GỐC" in rows[0].text and "Thôn 1" in rows[0].text
