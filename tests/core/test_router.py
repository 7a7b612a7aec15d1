"""Issue 12 through the router: the console chat, and the Telegram and Zalo channels, understand each message
exactly or refuse it clearly with nothing recorded; /thamgia never joins a team the words do not name; /baocao
names a team or a commune within the sender's authority."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from tests.factories import MEMBER, ChatHarness, FakeClock, build_tree, join_code, setup_group
from tests.fakes.platforms import (
    TG_HEADER,
    TG_SECRET,
    ZALO_HEADER,
    ZALO_SECRET,
    channels_for,
    outbox,
    platform_app,
    platform_settings,
    tg_message_update,
    web,
    zalo_update,
)
from tests.fakes.telegram_server import TelegramServer
from tests.fakes.zalo_api import FakeZaloApi
from tocns.app import BotApp
from tocns.config import Settings
from tocns.core.roles import Level, Role
from tocns.features.activity.models import ActivityItem, ActivityRecord, Indicator
from tocns.features.org import store as org_store

WEDNESDAY = "2026-11-25 10:00"

# (message, items recorded (code, quantity) or None when refused, the day, a phrase of the reply)
CASES: list[tuple[str, list[tuple[str, int]] | None, date | None, str]] = [
    ("/ghi tuan truoc vneid 5", None, None, "'tuần trước' không phải một ngày"),
    ("/ghi hom truoc vneid 2", [("vneid", 2)], date(2026, 11, 24), "ngày 24/11/2026"),
    ("/ghi ngay mai vneid 5", None, None, "Ngày 26/11/2026 chưa tới"),
    ("/ghi thu 6 vneid 5", [("vneid", 5)], date(2026, 11, 20), "ngày 20/11/2026 (Thứ Sáu)"),
    ("/ghi vneid 3 cho ba con thon 2, dvc 1", [("vneid", 3), ("dvc", 1)], date(2026, 11, 25), "Ghi chú: “cho ba con"),
    ("/ghi vneid 3 + dvc 2", [("vneid", 3), ("dvc", 2)], date(2026, 11, 25), "(dvc): 2 hồ sơ"),
    ("/ghi thanh toan khong dung tien mat 3", [("thanhtoan", 3)], date(2026, 11, 25), "(thanhtoan): 3 tài khoản"),
    ("/ghi mo tai khoan 3", None, None, "Có phải bạn muốn ghi 'thanhtoan'"),
    ("/ghi vneid 5 hộ", None, None, "không tính theo hộ"),
    ("/ghi vneid 1e3", None, None, "Không đọc được số '1e3'"),
    # Issue 28: units must agree with the indicator (was recorded with a remark before).
    ("/ghi dvc 2 lượt", None, None, "tính theo hồ sơ, không tính theo 'lượt'"),
    ("/ghi vneid 7 tới 8 người", None, None, "'7 tới 8' là một khoảng, không phải một số"),
    ("/ghi mai ra xóm 2 dvc 3", None, None, "'mai' là việc sắp làm"),
    (
        "/ghi dvc 3 cùng [@5123987412345678901] tại UBND",
        [("dvc", 3)],
        date(2026, 11, 25),
        "cùng người được gắn thẻ tại UBND",
    ),
    ("/ghi hôm thứ 3 dvc 1, đt 0912 345 678", [("dvc", 1)], date(2026, 11, 24), "đt 0912 345 678"),
]


async def _records(app: BotApp) -> list[tuple[date, list[tuple[str, int]]]]:
    async with app.db.session() as session:
        records = (await session.exec(select(ActivityRecord).order_by(col(ActivityRecord.id)))).all()
        out = []
        for record in records:
            rows = await session.exec(
                select(ActivityItem, Indicator)
                .where(ActivityItem.record_id == record.id, ActivityItem.indicator_id == Indicator.id)
                .order_by(col(ActivityItem.id))
            )
            out.append((record.activity_date, [(ind.code, item.quantity) for item, ind in rows.all()]))
        return out


def _check(replies: list[str], records: list[tuple[date, list[tuple[str, int]]]]) -> None:
    expected_records = [(day, items) for _, items, day, _ in CASES if items is not None]
    assert records == expected_records
    for (message, items, _day, phrase), reply in zip(CASES, replies, strict=True):
        assert phrase in reply, (message, reply)
        assert "Traceback" not in reply
        if items is None:
            assert "Chưa có gì được ghi." in reply and "Ví dụ:" in reply, (message, reply)


async def test_console(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_group(app, chat, clock)
    clock.set_local(WEDNESDAY)
    replies = [await chat.text(message, user=MEMBER) for message, *_ in CASES]
    _check(replies, await _records(app))


@pytest.mark.parametrize("platform", ["telegram", "zalo"])
async def test_telegram_and_zalo(
    app: BotApp, settings: Settings, tmp_path: Path, clock: FakeClock, tg_server: TelegramServer, platform: str
) -> None:
    papp = platform_app(app, platform_settings(settings, tmp_path))
    channels: list[Any] = list(channels_for(papp, tg_server, FakeZaloApi()))
    async with papp.db.session() as session:
        tree = await build_tree(session)
        code = await join_code(session, tree.commune, Role.COMMUNE_LEADER, clock())

    def body(text: str, user: int) -> dict[str, Any]:
        if platform == "telegram":
            return tg_message_update(text, user_id=user)
        return zalo_update(text, user_id=f"zuser-{user}")

    headers = {TG_HEADER: TG_SECRET} if platform == "telegram" else {ZALO_HEADER: ZALO_SECRET}
    async with web(papp, channels) as (client, web_app):
        for text, user in [(f"/ketnoi {code}", 90), ("/thamgia thon 3", 11)]:
            response = await client.post(f"/webhook/{platform}", json=body(text, user), headers=headers)
            assert response.status_code == 200
            await web_app.state.pipeline.drain()
        clock.set_local(WEDNESDAY)
        for message, *_ in CASES:
            await client.post(f"/webhook/{platform}", json=body(message, 11), headers=headers)
            await web_app.state.pipeline.drain()
    replies = [row.text for row in await outbox(papp)][2:]
    _check(replies, await _records(papp))


async def _teams(app: BotApp, chat: ChatHarness, names: list[str]) -> None:
    async with app.db.session() as session:
        province = await org_store.create_unit(session, code="P7", name="Tỉnh Bảy", level=Level.PROVINCE)
        await org_store.create_unit(session, code="C7", name="Xã Lìa", level=Level.COMMUNE, parent=province)
        for name in names:
            await org_store.add_team(session, "C7", name)
        code = await join_code(session, await org_store.require_unit(session, "C7"), Role.COMMUNE_LEADER, app.clock())
    assert "Đã kết nối" in await chat.text(f"/ketnoi {code}", user="90", chat="lia")


async def _team_of(app: BotApp, user: str) -> str | None:
    async with app.db.session() as session:
        person = await org_store.get_person(session, "console", user)
        team = await org_store.team_of(session, person.id or 0) if person else None
        return team.name if team else None


async def test_thamgia_never_joins_a_team_the_words_do_not_name(app: BotApp, chat: ChatHarness) -> None:
    await _teams(app, chat, ["Thôn 3", "Thôn Y", "Tổ dân phố 5"])
    reply = await chat.text("/thamgia thon 9", user="1", chat="lia")
    assert "Không tìm thấy tổ “thon 9”" in reply and "Thôn Y" in reply and "chưa tham gia" in reply
    assert await _team_of(app, "1") is None
    reply = await chat.text("/thamgia thon yy", user="1", chat="lia")
    assert await _team_of(app, "1") is None
    assert "Có một tổ gần giống:\n- /thamgia C7-T02  (Thôn Y)" in reply
    assert "đã tham gia Thôn 3" in await chat.text("/thamgia 3", user="1", chat="lia")
    assert "đã tham gia Tổ dân phố 5" in await chat.text("/thamgia to dan pho 5", user="2", chat="lia")
    assert "đã tham gia Thôn Y" in await chat.text("/thamgia THON Y", user="3", chat="lia")


async def test_baocao_names_a_unit_within_authority(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    tree = await setup_group(app, chat, clock)  # group-1 is Xã Tân Lập; 9 leads it; 1 and 2 are in Thôn 3
    clock.set_local(WEDNESDAY)
    assert "Đã ghi" in await chat.text("/ghi vneid 4", user=MEMBER)
    reply = await chat.text("/baocao tổ Thôn 3", user="9")
    assert "BÁO CÁO THÔN 3" in reply and "4 người" in reply
    reply = await chat.text("/baocao to thon 3 tuan truoc", user="9")
    assert "BÁO CÁO THÔN 3" in reply and "tuần 16/11/2026 - 22/11/2026" in reply
    assert "BÁO CÁO THÔN 3" in await chat.text("/baocao tổ", user=MEMBER)  # the sender's own team
    refused = await chat.text("/baocao tổ Thôn 1", user=MEMBER)
    assert "không có quyền xem báo cáo của Thôn 1" in refused
    assert "Khoảng ngày bị ngược" in await chat.text("/baocao tổ Thôn 3 15/11-01/11", user="9")
    assert "Không tìm thấy tổ 'Thôn 9'" in await chat.text("/baocao tổ Thôn 9", user="9")
    assert "BÁO CÁO XÃ TÂN LẬP" in await chat.text("/baocao xã", user="9")
    # Department staff in the province's group read a commune by name.
    async with app.db.session() as session:
        staff = await org_store.upsert_person(session, platform="console", user_id="20", display_name="Cán bộ Sở")
        await org_store.set_membership(session, person=staff, unit=tree.province, role=Role.STAFF)
        await org_store.bind_chat(session, platform="console", chat_id="so", unit=tree.province, person=staff)
    reply = await chat.text("/baocao xã Tân Lập tháng này", user="20", chat="so")
    assert "BÁO CÁO XÃ TÂN LẬP" in reply and "tháng 11/2026" in reply
    assert "Không tìm thấy xã/phường 'Lìa'" in await chat.text("/baocao xã Lìa", user="20", chat="so")
