"""The dashboard in a real browser: Playwright driving Debian's Chromium against uvicorn on a free port.

The server runs in a thread with its own event loop and database engine, on the test's database and fixed clock.
Screenshots of the overview (phone and desktop) go to $SCREENSHOT_DIR or .ci-logs/screenshots; the path is printed.
"""

from __future__ import annotations

import asyncio
import io
import os
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import uvicorn
from openpyxl import load_workbook
from playwright._impl import transport
from playwright.async_api import Browser, Page, async_playwright

from tests.factories import ChatHarness, FakeClock, build_tree, free_port, join_code, make_logger
from tests.features.reports.test_service import local
from tocns.app import BotApp
from tocns.config import Settings
from tocns.core.roles import Level, Role
from tocns.db.engine import Database
from tocns.features.dashboard import service
from tocns.features.org import store as org_store
from tocns.web.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NAMES = {"s1": "Cán bộ Sở Thử", "s2": "Cán bộ Sở Khác"}
PHONE = {"width": 412, "height": 915}
DESKTOP = {"width": 1366, "height": 900}

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Chromium is not installed at /usr/bin/chromium (apt-get install chromium)"
)


class Server(threading.Thread):
    """`create_app` served by uvicorn in a thread, with its own loop and engine, on the test's clock."""

    def __init__(self, settings: Settings, clock: FakeClock) -> None:
        super().__init__(daemon=True)
        self.settings = settings
        self.clock = clock
        self.port = free_port()
        self.server: uvicorn.Server | None = None
        self.ready = threading.Event()

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        bot = BotApp.build(self.settings, Database(self.settings.database_url), self.clock)
        web = create_app(self.settings, bot_app=bot, channels=[])
        self.server = uvicorn.Server(uvicorn.Config(web, host="127.0.0.1", port=self.port, log_level="warning"))
        serving = asyncio.create_task(self.server.serve())
        while not self.server.started and not serving.done():
            await asyncio.sleep(0.02)
        self.ready.set()
        await serving
        await bot.close()

    def stop(self) -> None:
        """Ask uvicorn to finish and wait for the thread."""
        if self.server is not None:
            self.server.should_exit = True
        self.join(timeout=10)


@pytest.fixture
def server(app: BotApp, clock: FakeClock) -> Iterator[Server]:
    """The web app on a free port; sign-in links point at it."""
    running = Server(app.settings, clock)
    app.settings.public_base_url = running.url
    running.start()
    assert running.ready.wait(15), "uvicorn did not start"
    yield running
    running.stop()


def _driver_extras(env: dict[str, str]) -> dict[str, str]:
    """What Playwright adds to the environment of its driver (its PW_ variables)."""
    return {k: v for k, v in env.items() if k.startswith("PW_")}


def _without_faked_clock() -> dict[str, str]:
    """This process's environment without libfaketime (CI runs the suite at a faked hour, see docs/installs.md).

    The browser and Playwright's driver keep the real clock: under libfaketime Chromium's and node's timers never
    fire and every page load hangs. The pages' dates come from the server, which runs on the test's clock anyway.
    """
    return {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("FAKETIME")}


@pytest.fixture
async def browser(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, with nothing fetched from the network by the browser itself."""
    clean = _without_faked_clock()
    # The driver gets the clean environment; this process's own is left alone. Deleting FAKETIME from it (as
    # this fixture once did) put the whole test process on the real clock: libfaketime re-reads FAKETIME every
    # few seconds, so the next test in the worker could start on the real date and move to the faked one midway
    # (a dashboard cookie set at one and read at the other, three days on, had expired).
    driver_env = transport.get_driver_env
    monkeypatch.setattr(transport, "get_driver_env", lambda: _without_faked_clock() | _driver_extras(driver_env()))
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, env=clean)
        yield chromium
        await chromium.close()


def _screens() -> Path:
    folder = Path(os.environ.get("SCREENSHOT_DIR", ".ci-logs/screenshots")).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Seeded:
    """Two provinces: P01 (Tỉnh Thử: X1 with three teams, X2 with one; groups bound) and P02 (Tỉnh Khác)."""

    staff_user: str = "s1"
    other_staff_user: str = "s2"


async def _seed(app: BotApp, chat: ChatHarness) -> Seeded:
    async with app.db.session() as session:
        tree = await build_tree(session)
        logger = await make_logger(session, app.clock())
        # This week (Monday 23/11): X1 Thôn 1 and X2 Thôn 1; last week: X1 Thôn 3 only.
        record = await logger.log(tree.teams[0], date(2026, 11, 23), {"vneid": 12, "dvc": 2}, app.clock())
        record.photo = "https://anh.example.invalid/thon1.jpg"
        session.add(record)
        await logger.log(tree.other_teams[0], date(2026, 11, 23), {"vneid": 3}, app.clock())
        await logger.log(tree.teams[1], date(2026, 11, 17), {"vneid": 5}, local(date(2026, 11, 17)))
        # Five weeks ago, for the trend.
        await logger.log(tree.teams[2], date(2026, 10, 20), {"vneid": 7}, local(date(2026, 10, 20)))
        other = await org_store.create_unit(session, code="P02", name="Tỉnh Khác", level=Level.PROVINCE)
        await org_store.create_unit(session, code="Y1", name="Xã Xa Xôi", level=Level.COMMUNE, parent=other)
        far_team = await org_store.add_team(session, "Y1", "Bản Mới")
        await logger.log(far_team, date(2026, 11, 23), {"vneid": 99}, app.clock())
        for user, name, unit in (("s1", "Cán bộ Sở Thử", tree.province), ("s2", "Cán bộ Sở Khác", other)):
            person = await org_store.upsert_person(
                session,
                platform="console",
                user_id=user,
                display_name=name,
                username=None,
                private_chat_id=user,
                now=app.clock(),
            )
            await org_store.set_membership(session, person=person, unit=unit, role=Role.STAFF)
        codes = [
            await join_code(session, unit, Role.COMMUNE_LEADER, app.clock())
            for unit in (tree.commune, tree.other_commune)
        ]
    assert "Đã kết nối" in await chat.text(f"/ketnoi {codes[0]}", user="10", name="Chủ tịch Hùng", chat="group-1")
    assert "Đã kết nối" in await chat.text(f"/ketnoi {codes[1]}", user="11", name="Chủ tịch Hoa", chat="group-2")
    return Seeded()


async def _link(chat: ChatHarness, user: str) -> str:
    """The sign-in URL /web answers with in a private chat."""
    reply = await chat.text("/web", user=user, chat=user, private=True, name=NAMES[user])
    return reply.strip().splitlines()[-1]


async def _sign_in(page: Page, url: str) -> None:
    await page.goto(url)
    await page.click("#sign-in")
    await page.wait_for_selector("#unit-name")


async def _cell(page: Page, table: str, code: str, css: str) -> str:
    return (await page.inner_text(f"#{table} tr[data-code='{code}'] {css}")).strip()


async def test_overview_drill_down_download_and_screens(
    app: BotApp, chat: ChatHarness, server: Server, browser: Browser, tmp_path: Path
) -> None:
    await _seed(app, chat)
    url = await _link(chat, "s1")
    assert url.startswith(f"{server.url}/dashboard/vao/")
    context = await browser.new_context(viewport=DESKTOP, accept_downloads=True)
    page = await context.new_page()
    await _sign_in(page, url)
    # This week against last week, from the report service: VNeID 12 + 3 = 15 (5 last week), 2 of 4 teams.
    assert await page.inner_text("#unit-name") == "Tỉnh Thử"
    assert await _cell(page, "totals", "vneid", ".cur") == "15"
    assert await _cell(page, "totals", "vneid", ".prev") == "5"
    assert await _cell(page, "totals", "vneid", "td:last-child") == "+10"
    assert await page.inner_text("#kpi-teams") == "2/4"
    assert "Xã Xa Xôi" not in await page.content()
    # Completeness per commune, colour-coded: X1 has 1 of 3 teams (poor), X2 1 of 1 (good).
    x1 = page.locator("#children tr[data-code='X1'] td:nth-child(3)")
    assert await x1.inner_text() == "33%" and "poor" in (await x1.get_attribute("class") or "")
    x2 = page.locator("#children tr[data-code='X2'] td:nth-child(3)")
    assert await x2.inner_text() == "100%" and "good" in (await x2.get_attribute("class") or "")
    # Sortable: a click on "Đầy đủ" puts the weakest commune first.
    await page.click("#children th:nth-child(3)")
    assert await page.locator("#children tbody tr").first.get_attribute("data-code") == "X1"
    await page.click("#children th:nth-child(3)")
    assert await page.locator("#children tbody tr").first.get_attribute("data-code") == "X2"
    silent = await page.inner_text("#silent")
    assert "Thôn 3" in silent and "Bản Nà Hin" in silent
    assert "chỉ tiêu năm" in (await page.inner_text("#targets")).lower()
    assert await page.inner_text("header .who") == "Cán bộ Sở Thử"
    assert "Tập huấn" in await page.inner_text("#idle-indicators")
    # The 8-week trend of VNeID ends with this week's 15, after last week's 5.
    label = await page.get_attribute("#trends div[data-code='vneid'] svg", "aria-label")
    assert label is not None and label.endswith("0, 0, 7, 0, 0, 0, 5, 15"), label
    shots = _screens()
    await page.screenshot(path=str(shots / "overview-desktop.png"), full_page=True)

    # The workbook of the unit and period on screen: the same figures.
    async with page.expect_download() as info:
        await page.click("#dl-xlsx")
    download = await info.value
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    assert download.suggested_filename == "bao-cao-P01-2026-W48.xlsx"
    sheet = load_workbook(io.BytesIO(saved.read_bytes()))["Tổng hợp"]
    rows = {r[0]: r[3] for r in sheet.iter_rows(values_only=True) if r and r[0]}
    assert rows["vneid"] == 15

    # Drill down: province → commune → team → records with the photo link, keeping the period.
    await page.fill("#ky", "tuần này")
    await page.click(".period button")
    await page.click("#children tr[data-code='X1'] a")
    assert await page.inner_text("#unit-name") == "Xã Tân Lập"
    assert await _cell(page, "totals", "vneid", ".cur") == "12"
    team_code = await page.locator("#children tbody tr").first.get_attribute("data-code")
    await page.click("#children a:has-text('Thôn 1')")
    assert "Thôn 1" in await page.inner_text("#unit-name") and team_code
    records = await page.inner_text("#records")
    assert "Chị Lan" in records and "Kích hoạt VNeID: 12" in records
    photo = page.locator("#records a:has-text('Xem ảnh')")
    assert await photo.get_attribute("href") == "https://anh.example.invalid/thon1.jpg"
    # The period selector takes the /baocao grammar, and refuses what it refuses.
    await page.fill("#ky", "tuần trước")
    await page.click(".period button")
    assert "16/11/2026 - 22/11/2026" in await page.inner_text("#period-label")
    await page.fill("#ky", "tháng 13")
    await page.click(".period button")
    assert "không có thật" in await page.inner_text("#period-error")

    # A phone: the overview fits 412 px without sideways scrolling.
    phone = await browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    await phone.add_cookies(await context.cookies())
    mobile = await phone.new_page()
    await mobile.goto(f"{server.url}/dashboard/")
    assert await mobile.inner_text("#kpi-teams") == "2/4"
    width = await mobile.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width}px wide on a 412px phone"
    await mobile.screenshot(path=str(shots / "overview-phone.png"), full_page=True)
    print(f"\nscreenshots: {shots / 'overview-desktop.png'} {shots / 'overview-phone.png'}")
    await phone.close()
    await context.close()


async def test_directive_with_confirmation_and_acknowledgement(
    app: BotApp, chat: ChatHarness, server: Server, browser: Browser
) -> None:
    await _seed(app, chat)
    context = await browser.new_context(viewport=DESKTOP)
    page = await context.new_page()
    await _sign_in(page, await _link(chat, "s1"))
    await page.click("text=Soạn chỉ đạo")
    # A misspelt commune refuses the whole scope and keeps what was typed.
    await page.fill("#scope", "X1, Xã Không Có")
    await page.fill("#text", "Họp giao ban lúc 14:00 thứ Sáu")
    await page.click("#preview")
    assert "Không tìm thấy" in await page.inner_text("#compose-error")
    assert await page.input_value("#text") == "Họp giao ban lúc 14:00 thứ Sáu"
    await page.fill("#scope", "X1, X2")
    await page.click("#preview")
    summary = await page.inner_text("#preview-summary")
    assert "2 nhóm" in summary and "2 xã/phường" in summary
    assert "Xã Tân Lập (X1)" in await page.inner_text("#targets")
    async with app.db.session() as session:
        held = await service.store.directives_within(session, [], None, 5)
    assert held == []  # not sent yet: no target exists before the confirmation
    await page.click("#confirm-send")
    await page.wait_for_selector("#acked-count")
    assert await page.inner_text("#acked-count") == "0/2"
    assert "chưa xác nhận" in await page.inner_text("#communes tr[data-code='X1'] .ack")
    # Xã Tân Lập's group acknowledges in chat; the page shows who, on reload.
    number = (await page.inner_text("h1")).split()[-1]
    assert "Đã ghi nhận" in await chat.text(f"/danhan {number}", user="10", chat="group-1")
    await page.reload()
    assert await page.inner_text("#acked-count") == "1/2"
    assert "Chủ tịch Hùng" in await page.inner_text("#communes tr[data-code='X1'] .ack")
    assert "chưa xác nhận" in await page.inner_text("#communes tr[data-code='X2'] .ack")
    await page.goto(f"{server.url}/dashboard/chi-dao")
    assert "Họp giao ban" in await page.inner_text("#directives")
    await context.close()


async def test_other_province_expired_link_and_tampered_cookie(
    app: BotApp, chat: ChatHarness, server: Server, browser: Browser, clock: FakeClock
) -> None:
    await _seed(app, chat)
    first = await browser.new_context(viewport=DESKTOP)
    page = await first.new_page()
    await _sign_in(page, await _link(chat, "s1"))
    # Someone of another province sees their own figures and none of the first province's.
    other = await browser.new_context(viewport=DESKTOP)
    theirs = await other.new_page()
    await _sign_in(theirs, await _link(chat, "s2"))
    assert await theirs.inner_text("#unit-name") == "Tỉnh Khác"
    assert await _cell(theirs, "totals", "vneid", ".cur") == "99"
    content = await theirs.content()
    assert "Tỉnh Thử" not in content and "Xã Tân Lập" not in content and "Thôn 3" not in content
    for path in ("/dashboard/don-vi/X1", "/dashboard/don-vi/P01", "/dashboard/tai/P01?dang=xlsx"):
        response = await theirs.goto(f"{server.url}{path}")
        assert response is not None and response.status == 404, path
        assert "Tân Lập" not in await theirs.content()
    # A tampered cookie: signed for session 2 but claiming session 1.
    cookies = await other.cookies()
    session_cookie = next(c for c in cookies if c["name"] == "tocns_dashboard")
    number, expires, sig = session_cookie["value"].split(".")
    forged = await browser.new_context()
    await forged.add_cookies([{**session_cookie, "value": f"1.{expires}.{sig}"}])
    stolen = await forged.new_page()
    response = await stolen.goto(f"{server.url}/dashboard/")
    assert response is not None and response.status == 401
    assert "Cần đăng nhập" in await stolen.content() and "Tỉnh" not in await stolen.inner_text("main")
    assert number != "1"
    # Signing out ends the session on the server: the same cookie no longer opens anything.
    await theirs.goto(f"{server.url}/dashboard/")
    await theirs.click("header button")
    copied = await browser.new_context()
    await copied.add_cookies([session_cookie])
    again = await (await copied.new_page()).goto(f"{server.url}/dashboard/")
    assert again is not None and again.status == 401
    # An expired link (over 15 minutes) says so in Vietnamese.
    late = await _link(chat, "s1")
    clock.advance(minutes=16)
    expired = await browser.new_context()
    shown = await expired.new_page()
    response = await shown.goto(late)
    assert response is not None and response.status == 410
    assert "hết hạn" in await shown.inner_text("#message")
    for ctx in (first, other, forged, copied, expired):
        await ctx.close()
