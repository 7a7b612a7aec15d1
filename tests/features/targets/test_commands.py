"""/muctieu, /kehoach and /caidat hộ in chat: who may set what, refusals with the reason, nothing half-saved."""

from __future__ import annotations

from datetime import date

from sqlmodel import col, select

from tests.factories import ChatHarness, FakeClock, make_logger, setup_commune
from tests.features.reports.test_service import local
from tests.features.targets.test_progress_everywhere import STAFF, _staff
from tocns.app import BotApp
from tocns.db.audit import AuditLog
from tocns.features.targets.models import Target


async def _targets(app: BotApp) -> list[Target]:
    async with app.db.session() as session:
        return list((await session.exec(select(Target))).all())


async def test_who_may_set_targets(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    commune = await setup_commune(app, chat, clock)
    await _staff(app, commune.tree.province)
    # A member and a team leader set nothing; a commune leader sets teams, not the commune.
    assert "không có quyền" in await chat.text("/muctieu 2026 tổ Thôn 1 vneid 10", user="21")
    assert "không có quyền" in await chat.text("/muctieu 2026 tổ Thôn 1 vneid 10", user="20")
    reply = await chat.text("/muctieu 2026 vneid 300", user="10")
    assert "mục tiêu của tỉnh và xã/phường do cán bộ Sở đặt" in reply
    assert await _targets(app) == []
    assert "Đã đặt mục tiêu năm 2026 của Thôn 1" in await chat.text("/muctieu 2026 tổ Thôn 1 vneid 10", user="10")
    # Staff set the commune's target from their private chat; an unknown unit is named back.
    assert "Không tìm thấy xã/phường 'Không Có'" in await chat.text(
        "/muctieu 2026 xã Không Có vneid 5", user=STAFF, chat=STAFF, private=True
    )
    assert "Đã đặt" in await chat.text("/muctieu 2026 xã Tân Lập vneid 300", user=STAFF, chat=STAFF, private=True)
    # A team of another commune is outside the commune group's reach: not found, nothing saved.
    assert "Không tìm thấy tổ" in await chat.text("/muctieu 2026 tổ Thôn 9 vneid 10", user="10")
    rows = await _targets(app)
    assert sorted(t.value for t in rows) == [10, 300]
    async with app.db.session() as session:
        audit = (await session.exec(select(AuditLog).where(AuditLog.entity == "target"))).all()
    assert [a.action for a in audit] == ["create", "create"]
    # Changing a target is audited with the value before and after.
    await chat.text("/muctieu 2026 tổ Thôn 1 vneid 12", user="10")
    async with app.db.session() as session:
        query = select(AuditLog).where(AuditLog.entity == "target").order_by(col(AuditLog.id))
        last = (await session.exec(query)).all()[-1]
    assert last.action == "edit" and '"value": 10' in (last.before or "") and '"value": 12' in (last.after or "")


async def test_split_refused_whole_when_a_team_has_no_households(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    commune = await setup_commune(app, chat, clock)
    await _staff(app, commune.tree.province)
    await chat.text("/caidat tổ Thôn 1 hộ 200", user="10")
    reply = await chat.text("/muctieu 2026 xã Tân Lập vneid 300 chia theo hộ", user=STAFF, chat=STAFF, private=True)
    assert "2 tổ chưa có số hộ (Bản Nà Hin, Thôn 3)" in reply and "Chưa có gì được lưu" in reply
    assert await _targets(app) == []  # not even the commune's own target
    reply = await chat.text("/muctieu 2026 xã Tân Lập vneid 301 chia đều", user=STAFF, chat=STAFF, private=True)
    assert "Bản Nà Hin 101, Thôn 1 100, Thôn 3 100" in reply
    assert sum(t.value for t in await _targets(app)) == 301 * 2


async def test_share_of_households_needs_the_households(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_commune(app, chat, clock)
    reply = await chat.text("/muctieu 2026 tổ Thôn 1 thanhtoan 50% hộ", user="10")
    assert "Chưa có số hộ của Thôn 1" in reply and await _targets(app) == []
    assert "Đã lưu Thôn 1: 180 hộ" in await chat.text("/caidat tổ Thôn 1 hộ 180", user="10")
    reply = await chat.text("/muctieu 2026 tổ Thôn 1 thanhtoan 50% hộ", user="10")
    assert "90" in reply and "(50% hộ)" in reply
    assert "Đã lưu" not in await chat.text("/caidat tổ Thôn 1 hộ 10", user="21")  # a member changes nothing


async def test_kehoach_shows_targets_progress_and_months(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    commune = await setup_commune(app, chat, clock)
    async with app.db.session() as session:
        logger = await make_logger(session, clock())
        await logger.log(commune.tree.teams[0], date(2026, 11, 2), {"vneid": 40}, local(date(2026, 11, 2)))
    await chat.text("/muctieu 2026 tổ Thôn 1 vneid 50", user="10")
    await chat.text("/giaoviec 30/11 Hướng dẫn VNeID tổ Thôn 1", user="10")
    plan = await chat.text("/kehoach tổ Thôn 1", user="10")
    assert "KẾ HOẠCH NĂM 2026: THÔN 1" in plan
    assert "Kích hoạt VNeID: 40/50" in plan and "(80%)" in plan
    assert "Tháng 11: 1 việc, 0 hoàn thành" in plan
    # A monthly target: November's records against November's goal.
    await chat.text("/muctieu 2026 tháng 11 tổ Thôn 1 vneid 30", user="10")
    plan = await chat.text("/kehoach tổ Thôn 1", user="10")
    assert "• tháng 11, Kích hoạt VNeID: 40/30" in plan and "(133%)" in plan
    assert "Chưa có mục tiêu năm 2027" in await chat.text("/kehoach 2027", user="10")
