"""Dashboard pages over HTTP (no browser): sign-in links, sessions, scoping, the /web command and the CLI link."""

from __future__ import annotations

from datetime import date

import httpx

from tests.factories import ChatHarness, FakeClock, build_tree, make_logger
from tests.features.reports.test_service import local
from tocns.app import BotApp
from tocns.core.roles import Role
from tocns.features.dashboard import service
from tocns.features.org import store as org_store
from tocns.web.app import create_app


def _client(app: BotApp) -> httpx.AsyncClient:
    web = create_app(app.settings, bot_app=app, channels=[])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://testserver")


async def _staff_link(app: BotApp) -> str:
    async with app.db.session() as session:
        tree = await build_tree(session)
        logger = await make_logger(session, app.clock())
        await logger.log(tree.teams[0], date(2026, 11, 17), {"vneid": 12, "dvc": 2}, local(date(2026, 11, 17)))
        await logger.log(tree.other_teams[0], date(2026, 11, 23), {"vneid": 3}, local(date(2026, 11, 23)))
        staff = await org_store.upsert_person(
            session,
            platform="console",
            user_id="s1",
            display_name="Cán bộ Sở",
            username=None,
            private_chat_id="s1",
            now=app.clock(),
        )
        await org_store.set_membership(session, person=staff, unit=tree.province, role=Role.STAFF)
        return await service.link_for_person(session, staff, app.clock())


async def _sign_in(client: httpx.AsyncClient, token: str) -> httpx.Response:
    page = await client.get(f"/dashboard/vao/{token}")
    assert page.status_code == 200 and "Đăng nhập" in page.text
    return await client.post(f"/dashboard/vao/{token}")


async def test_sign_in_overview_and_refusals(app: BotApp, clock: FakeClock) -> None:
    token = await _staff_link(app)
    async with _client(app) as client:
        assert (await client.get("/dashboard/")).status_code == 401
        signed = await _sign_in(client, token)
        assert signed.status_code == 303
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=43200" in cookie
        page = await client.get("/dashboard/")
        assert page.status_code == 200, page.text
        assert "Tỉnh Thử" in page.text and "Xã Tân Lập" in page.text
        last = await client.get("/dashboard/", params={"ky": "tuần trước"})
        assert "Kích hoạt VNeID" in last.text
        # The link was used: a second use is refused in Vietnamese.
        again = await client.post(f"/dashboard/vao/{token}")
        assert again.status_code == 410 and "đã được dùng" in again.text
        wrong = await client.get("/dashboard/", params={"ky": "2026-13"})
        assert wrong.status_code == 422 and "không có thật" in wrong.text
        xlsx = await client.get("/dashboard/tai/P01", params={"ky": "tuần trước", "dang": "xlsx"})
        assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
        assert (await client.post("/dashboard/thoat")).status_code == 200
        assert (await client.get("/dashboard/")).status_code == 401


async def test_expired_link_refused(app: BotApp, clock: FakeClock) -> None:
    token = await _staff_link(app)
    clock.advance(minutes=16)
    async with _client(app) as client:
        page = await client.get(f"/dashboard/vao/{token}")
        assert page.status_code == 410 and "hết hạn" in page.text
        assert (await client.post(f"/dashboard/vao/{token}")).status_code == 410
        assert (await client.get("/dashboard/")).status_code == 401


async def test_web_command_only_in_private_and_for_leaders(app: BotApp, chat: ChatHarness) -> None:
    async with app.db.session() as session:
        tree = await build_tree(session)
        staff = await org_store.upsert_person(
            session,
            platform="console",
            user_id="s1",
            display_name="Cán bộ Sở",
            username=None,
            private_chat_id="s1",
            now=app.clock(),
        )
        await org_store.set_membership(session, person=staff, unit=tree.province, role=Role.STAFF)
    reply = await chat.text("/web", user="s1", chat="s1", private=True)
    assert "http://testserver/dashboard/vao/" in reply and "15 phút" in reply
    token = reply.rsplit("/", 1)[-1].strip()
    async with _client(app) as client:
        assert (await _sign_in(client, token)).status_code == 303
        assert "Tỉnh Thử" in (await client.get("/dashboard/")).text
    assert "tin nhắn riêng" in await chat.text("/web", user="s1", chat="group-9")
    assert "http" not in await chat.text("/web", user="nobody", chat="nobody", private=True)


async def test_operator_link_from_the_cli_reads_but_sends_nothing(app: BotApp, db_url: str) -> None:
    from tests.cli.test_cli import run_cli

    await _staff_link(app)
    env = {"LINK_SIGNING_SECRET": app.settings.link_signing_secret, "PUBLIC_BASE_URL": "http://testserver"}
    done = run_cli(["dashboard", "link", "X1"], db_url, extra_env=env)
    assert done.returncode == 0, done.stderr
    url = done.stdout.strip().splitlines()[-1]
    assert url.startswith("http://testserver/dashboard/vao/")
    async with _client(app) as client:
        assert (await _sign_in(client, url.rsplit("/", 1)[-1])).status_code == 303
        page = await client.get("/dashboard/")
        # Scoped to the commune: its figures, none of the other commune's or the province's.
        assert "Xã Tân Lập" in page.text and "Xã Hòa Bình" not in page.text
        assert (await client.get("/dashboard/don-vi/P01")).status_code == 404
        assert (await client.get("/dashboard/chi-dao/moi")).status_code == 403
    unknown = run_cli(["dashboard", "link", "KHONGCO"], db_url, extra_env=env)
    assert unknown.returncode != 0 and "KHONGCO" in unknown.stderr


async def test_trend_agrees_with_the_weekly_reports(app: BotApp) -> None:
    """Queried weeks (a month's overview draws all eight from the trend query) equal the report of each week."""
    from tocns.core.period import parse_period
    from tocns.features.reports.service import unit_report

    await _staff_link(app)
    async with app.db.session() as session:
        province = await org_store.get_unit_by_code(session, "P01")
        assert province is not None
        today = app.clock().astimezone(app.settings.tz).date()
        month = parse_period("tháng này", today)
        report = await unit_report(session, province, month, app.settings, app.clock())
        trends = {t.code: t for t in await service.trends(session, province, report, month)}
        for week, value in trends["vneid"].weeks:
            weekly = await unit_report(session, province, week, app.settings, app.clock())
            assert value == next(t.quantity for t in weekly.totals if t.code == "vneid")
        # The month's last week (30/11-06/12) is drawn too: 12 in the week of 17/11, 3 in the week of 23/11, then 0.
        assert [v for _w, v in trends["vneid"].weeks[-3:]] == [12, 3, 0]


async def test_without_a_signing_secret_nobody_signs_in(app: BotApp, chat: ChatHarness) -> None:
    token = await _staff_link(app)
    app.settings.link_signing_secret = ""
    assert "LINK_SIGNING_SECRET" in await chat.text("/web", user="s1", chat="s1", private=True)
    async with _client(app) as client:
        assert (await client.post(f"/dashboard/vao/{token}")).status_code == 503
        assert (await client.get("/dashboard/")).status_code == 401
