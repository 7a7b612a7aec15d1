"""The in-memory indicator catalogue: changes reach /ghi at once in this process, never a stale or lost id."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlmodel import select

from tests.factories import MEMBER, ChatHarness, FakeClock, setup_group
from tocns.app import BotApp
from tocns.features.activity import store as activity_store
from tocns.features.activity.grammar import IndicatorSpec, default_specs
from tocns.features.activity.models import Indicator

CHUKY = IndicatorSpec(code="chuky", name="Chữ ký số", unit="người", aliases=("chu ky so", "ky so"))


async def test_imported_indicator_is_usable_by_the_next_ghi(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_group(app, chat, clock)
    assert "Định danh điện tử VNeID (vneid): 5 người" in await chat.text("/ghi vneid 5", user=MEMBER)
    assert "Không có chỉ tiêu" in await chat.text("/ghi ky so 2", user=MEMBER)
    async with app.db.session() as session:
        await activity_store.import_catalogue(session, [*default_specs(), CHUKY])
    assert "Chữ ký số (chuky): 2 người" in await chat.text("/ghi ky so 2", user=MEMBER)


async def test_rolled_back_import_leaves_the_catalogue_as_stored(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    await setup_group(app, chat, clock)
    assert "Đã ghi" in await chat.text("/ghi vneid 1", user=MEMBER)
    with pytest.raises(RuntimeError):
        async with app.db.session() as session:
            await activity_store.import_catalogue(session, [*default_specs(), CHUKY])
            # Reading inside the importing transaction sees the new row, which must not reach the cache.
            assert "chuky" in [r.code for r in await activity_store.indicators(session)]
            raise RuntimeError("import aborted")
    assert "Không có chỉ tiêu" in await chat.text("/ghi ky so 2", user=MEMBER)
    assert "VNeID (vneid): 3 người" in await chat.text("/ghi vneid 3", user=MEMBER)


async def test_deactivated_indicator_is_refused_at_once(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_group(app, chat, clock)
    assert "Đã ghi" in await chat.text("/ghi dvc 2", user=MEMBER)
    async with app.db.session() as session:
        row = (await session.exec(select(Indicator).where(Indicator.code == "dvc"))).one()
        row.active = False
        session.add(row)
    reply = await chat.text("/ghi dvc 2", user=MEMBER)
    assert "Đã ghi" not in reply and "dvc" in reply


async def test_change_from_another_process_is_seen_after_the_ttl(
    app: BotApp, chat: ChatHarness, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await setup_group(app, chat, clock)
    assert "Đã ghi" in await chat.text("/ghi dvc 2", user=MEMBER)
    # Raw SQL stands for another process: nothing in this one hears about it.
    async with app.db.engine.begin() as conn:
        await conn.execute(text("UPDATE indicator SET name = 'Dịch vụ công mới' WHERE code = 'dvc'"))
    monkeypatch.setattr(activity_store, "CATALOGUE_TTL_SECONDS", 0.0)
    assert "Dịch vụ công mới (dvc): 3" in await chat.text("/ghi dvc 3", user=MEMBER)
