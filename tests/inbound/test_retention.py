"""Retention: processed inbound bodies are deleted after INBOUND_RETENTION_DAYS; records and audit stay."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import func, select

from tests.factories import build_tree, join_code
from tests.fakes.platforms import (
    TG_HEADER,
    TG_SECRET,
    channels_for,
    inbound_rows,
    platform_app,
    platform_settings,
    tg_message_update,
    web,
)
from tests.fakes.telegram_server import TelegramServer
from tests.fakes.zalo_api import FakeZaloApi
from tocns.app import BotApp, scheduled_jobs
from tocns.config import Settings
from tocns.core.roles import Role
from tocns.db.audit import AuditLog
from tocns.features.activity.models import ActivityRecord
from tocns.inbound import store as inbound_store
from tocns.inbound.jobs import inbound_retention as retention
from tocns.inbound.models import InboundUpdate


async def _count(app: BotApp, model: type[Any]) -> int:
    async with app.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_processed_bodies_go_after_the_retention_days_and_what_they_made_stays(
    app: BotApp, settings: Settings, tmp_path: Path, tg_server: TelegramServer
) -> None:
    papp = platform_app(app, platform_settings(settings, tmp_path))
    assert papp.settings.inbound_retention_days == 14
    assert "inbound_retention" in {j.name for j in scheduled_jobs()}
    async with papp.db.session() as session:
        tree = await build_tree(session)
        code = await join_code(session, tree.commune, Role.COMMUNE_LEADER, papp.clock())
    channels: list[Any] = list(channels_for(papp, tg_server, FakeZaloApi()))
    async with web(papp, channels) as (client, web_app):
        for text, user in ((f"/ketnoi {code}", 9), ("/thamgia thon 3", 11), ("/ghi vneid 2 họp thôn", 11)):
            response = await client.post(
                "/webhook/telegram", json=tg_message_update(text, user_id=user), headers={TG_HEADER: TG_SECRET}
            )
            assert response.status_code == 200
            await web_app.state.pipeline.drain()
    # An update that failed (kept for the operator) and one still waiting are not "processed".
    async with papp.db.session() as session:
        failed = await inbound_store.store_update(session, "telegram", "f-1", {"update_id": 1}, now=papp.clock())
        pending = await inbound_store.store_update(session, "telegram", "p-1", {"update_id": 2}, now=papp.clock())
        assert failed is not None and pending is not None
        await inbound_store.finish_update(session, failed.id or 0, error="ValueError: boom", now=papp.clock())
    rows = await inbound_rows(papp)
    assert [r.state for r in rows] == ["done", "done", "done", "failed", "pending"]
    assert "họp thôn" in rows[2].body  # the personal data this is about
    records, audits = await _count(papp, ActivityRecord), await _count(papp, AuditLog)
    assert records == 1 and audits > 0
    last: datetime = max(max(r.received_at, r.processed_at or r.received_at) for r in rows)

    assert await retention(papp, last + timedelta(days=13)) == []
    assert len(await inbound_rows(papp)) == 5
    lines = await retention(papp, last + timedelta(days=15))
    assert lines == ["đã xóa 3 bản tin nhận (inbound) đã xử lý quá 14 ngày"]
    assert [r.state for r in await inbound_rows(papp)] == ["failed", "pending"]
    assert await retention(papp, last + timedelta(days=16)) == []  # idempotent: nothing left to delete
    assert (await _count(papp, ActivityRecord), await _count(papp, AuditLog)) == (records, audits)


async def test_retention_deletes_in_batches_and_zero_days_keeps_everything(app: BotApp, settings: Settings) -> None:
    from tocns.inbound.store import purge_processed_updates

    now = app.clock()
    async with app.db.session() as session:
        for n in range(7):
            row = await inbound_store.store_update(session, "zalo", f"z-{n}", {"n": n}, now=now - timedelta(days=30))
            assert row is not None
            await inbound_store.finish_update(session, row.id or 0)
    keep_all = BotApp.build(settings.model_copy(update={"inbound_retention_days": 0}), app.db, app.clock)
    far = now + timedelta(days=3650)
    assert await retention(keep_all, far) == []
    assert await _count(app, InboundUpdate) == 7
    async with app.db.session() as session:
        assert await purge_processed_updates(session, far, batch=5) == 5
        assert await purge_processed_updates(session, far, batch=5) == 2
    assert await _count(app, InboundUpdate) == 0
