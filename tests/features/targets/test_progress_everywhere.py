"""Issue 26's acceptance: a commune's yearly VNeID target split across its teams shows the same progress in chat,
workbook and API, the digest names the teams behind pace, and a correction moves progress at once."""

from __future__ import annotations

import io
from datetime import date

import httpx
from openpyxl import load_workbook

from tests.factories import ChatHarness, FakeClock, make_logger, setup_commune
from tests.features.reports.test_service import local
from tocns.app import BotApp
from tocns.core.period import week_of
from tocns.core.roles import Role
from tocns.features.activity import store as activity_store
from tocns.features.apitokens.store import create_token
from tocns.features.dashboard import service as dashboard_service
from tocns.features.org import store as org_store
from tocns.features.org.models import OrgUnit
from tocns.features.reports import jobs as report_jobs
from tocns.features.reports.service import unit_report
from tocns.features.targets.service import unit_progress
from tocns.outbox.models import OutboxMessage
from tocns.web.app import create_app

STAFF = "50"


async def _staff(app: BotApp, province: OrgUnit) -> None:
    async with app.db.session() as session:
        person = await org_store.upsert_person(
            session, platform="console", user_id=STAFF, display_name="Cán bộ Sở", private_chat_id=STAFF
        )
        await org_store.set_membership(session, person=person, unit=province, role=Role.STAFF)


async def _scenario(app: BotApp, chat: ChatHarness, clock: FakeClock) -> tuple[OrgUnit, list[OrgUnit]]:
    """X1 (Thôn 1, Thôn 3, Bản Nà Hin) with 2026 VNeID records; a 300 target split by households 200/100/300."""
    commune = await setup_commune(app, chat, clock)
    tree = commune.tree
    await _staff(app, tree.province)
    async with app.db.session() as session:
        logger = await make_logger(session, clock())
        thon1, thon3, nahin = tree.teams
        await logger.log(thon1, date(2026, 3, 10), {"vneid": 60}, local(date(2026, 3, 10)))
        await logger.log(thon1, date(2026, 11, 20), {"vneid": 35, "dvc": 4}, local(date(2026, 11, 20)))
        await logger.log(thon3, date(2026, 6, 1), {"vneid": 10}, local(date(2026, 6, 1)))
        await logger.log(thon3, date(2025, 12, 31), {"vneid": 500}, local(date(2025, 12, 31)))  # last year
        await logger.log(nahin, date(2026, 11, 23), {"vneid": 7}, local(date(2026, 11, 23)))  # after last week
        await logger.log(tree.other_teams[0], date(2026, 5, 5), {"vneid": 40}, local(date(2026, 5, 5)))
    reply = await chat.text("/muctieu 2026 xã Tân Lập vneid 300", user=STAFF, chat=STAFF, private=True)
    assert "Đã đặt mục tiêu năm 2026 của Xã Tân Lập: Kích hoạt VNeID 300" in reply, reply
    for name, households in (("Thôn 1", 200), ("Thôn 3", 100), ("Bản Nà Hin", 300)):
        assert "Đã lưu" in await chat.text(f"/caidat tổ {name} hộ {households}", user="10")
    reply = await chat.text("/muctieu 2026 vneid chia theo hộ", user="10")
    assert "Bản Nà Hin 150, Thôn 1 100, Thôn 3 50" in reply, reply
    return tree.commune, tree.teams


async def test_same_progress_in_chat_workbook_api_and_digest(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    commune, _teams = await _scenario(app, chat, clock)
    # Chat: last week's report (as of Sunday 22/11: 95 + 10; Bản Nà Hin's record of 23/11 is not yet counted).
    replies = await chat.send("/baocao tuần trước", user="10")
    text = "\n".join(r.text for r in replies)
    assert "Mục tiêu năm 2026 (tính đến 22/11/2026):" in text
    assert "Kích hoạt VNeID: 105/300" in text and "(35%)" in text
    assert "Tổ chậm tiến độ (2/3):" in text
    behind = text.split("Tổ chậm tiến độ (2/3):")[1]
    assert "Thôn 3 (vneid 10/50, 20%)" in behind and "Bản Nà Hin (vneid 0/150, 0%)" in behind
    assert "Thôn 1 (" not in behind  # 95/100 is ahead of the linear pace (89 by 22/11)
    # Workbook: the plan sheet holds the same figures.
    book = load_workbook(io.BytesIO(replies[-1].attachments[0].content))
    plan = {(r[1], r[4]): r for r in book["Kế hoạch"].iter_rows(values_only=True) if r and r[4] == "vneid"}
    assert plan[("X1", "vneid")][7:10] == (300, 105, 0.35)
    assert plan[(_teams[1].code, "vneid")][8] == 10 and plan[(_teams[1].code, "vneid")][11] == "chậm"
    # API: the report's JSON carries the same progress rows.
    async with app.db.session() as session:
        token = await create_token(session, commune, app.clock())
    web = create_app(app.settings, bot_app=app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://testserver") as client:
        got = await client.get(
            "/api/v1/reports/X1", params={"period": "tuần trước"}, headers={"Authorization": f"Bearer {token}"}
        )
    assert got.status_code == 200
    rows = {(r["unit_code"], r["indicator"]): r for r in got.json()["progress"]["rows"]}
    assert rows[("X1", "vneid")]["done"] == 105 and rows[("X1", "vneid")]["target"] == 300
    assert [code for (code, _i), r in rows.items() if not r["on_track"]] == ["X1", _teams[2].code, _teams[1].code]
    # The dashboard's read: the same function behind /api/v1/progress, as of the same day.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://testserver") as client:
        auth = {"Authorization": f"Bearer {token}"}
        dash = await client.get("/api/v1/progress/X1", params={"as_of": "2026-11-22"}, headers=auth)
        future = await client.get("/api/v1/progress/X1", params={"as_of": "2027-01-05"}, headers=auth)
        other = await client.get("/api/v1/progress/X2", headers=auth)
    assert dash.status_code == 200 and dash.json()["rows"] == got.json()["progress"]["rows"]
    assert future.status_code == 422 and other.status_code == 403
    # The dashboard page: the commune's leader signs in and reads the same figures in the targets card.
    async with app.db.session() as session:
        leader = await org_store.get_person(session, "console", "10")
        assert leader is not None
        link = await dashboard_service.link_for_person(session, leader, app.clock())
    token = link.rstrip("/").rsplit("/", 1)[-1]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://testserver") as client:
        await client.post(f"/dashboard/vao/{token}")
        page = await client.get("/dashboard/don-vi/X1", params={"ky": "tuần trước"})
    assert page.status_code == 200, page.text[:300]
    card = page.text.split('id="targets"', 1)[1].split("</section>", 1)[0]
    assert "Tiến độ so với chỉ tiêu năm 2026 (đến 22/11/2026)" in card
    row = card.split('data-code="X1" data-indicator="vneid"', 1)[1].split("</tr>", 1)[0]
    assert ">105<" in row and ">300<" in row and ">35%<" in row and "chậm" in row, row
    thon3 = card.split(f'data-code="{_teams[1].code}" data-indicator="vneid"', 1)[1].split("</tr>", 1)[0]
    assert ">10<" in thon3 and ">50<" in thon3 and ">20%<" in thon3, thon3
    # The digest (Monday 07:00, the commune's group) names the teams behind pace.
    clock.set_local("2026-11-23 07:00")
    assert await report_jobs.commune_digest(app, clock())
    async with app.db.session() as session:
        digest = (await session.exec(OutboxMessage.__table__.select())).all()  # type: ignore[attr-defined]
    texts = [row.text for row in digest if row.kind == "digest"]
    assert texts and "Thôn 3 (vneid 10/50, 20%)" in texts[0] and "Bản Nà Hin (vneid 0/150" in texts[0]


async def test_correction_moves_progress_at_once(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    commune, teams = await _scenario(app, chat, clock)
    as_of = date(2026, 11, 22)

    async def done(unit_code: str) -> int:
        async with app.db.session() as session:
            progress = await unit_progress(session, commune, as_of)
        return next(r.done for r in progress.rows if r.unit_code == unit_code and r.indicator == "vneid")

    assert await done("X1") == 105
    async with app.db.session() as session:
        person = await org_store.get_person(session, "console", "logger")
        assert person is not None and person.id is not None
        records = await activity_store.records_of_person(session, person.id, date(2026, 1, 1), date(2026, 12, 31))
        march = next(v for v in records if v.record.activity_date == date(2026, 3, 10))
        vneid = next(i for _item, i in march.items if i.code == "vneid")
        # /sua: 60 becomes 6 and moves to April; /xoa of the 20/11 record.
        await activity_store.replace_items(
            session, march, items=[(vneid, 6)], activity_date=date(2026, 4, 2), note=None, message_text="",
            actor=person, now=clock(),
        )  # fmt: skip
    assert await done("X1") == 51
    async with app.db.session() as session:
        records = await activity_store.records_of_person(session, person.id, date(2026, 11, 20), date(2026, 11, 20))
        await activity_store.soft_delete(session, records[0], actor=person, now=clock())
    assert await done("X1") == 16 and await done(teams[0].code) == 6
    # The same figure through the report service every output uses.
    async with app.db.session() as session:
        report = await unit_report(session, commune, week_of(as_of), app.settings, clock())
    assert report.progress is not None and report.progress.yearly(0)[0].done == 16
