"""Helpers for the end-to-end tests: a clock that moves at real speed, settings on the fakes, a group setup."""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import col, select

from tests.adapters_helpers import TG_HEADER, TG_SECRET, ZALO_HEADER, ZALO_SECRET, platform_settings
from tests.helpers import FakeClock, build_tree, join_code
from tocns.app import BotApp
from tocns.channels.base import Transport
from tocns.config import Settings
from tocns.core.roles import Role
from tocns.features.activity.models import ActivityItem, ActivityRecord
from tocns.outbox.sender import OutboxSender, PlatformLimits

LEADER = 9
MEMBER = 11


class RunningClock:
    """The fake clock's time, moving on at real speed (so the sender really waits out a retry_after)."""

    def __init__(self, base: FakeClock) -> None:
        self.base = base
        self.start = time.monotonic()

    def __call__(self) -> datetime:
        return self.base() + timedelta(seconds=time.monotonic() - self.start)


def e2e_settings(settings: Settings, tmp_path: Path, telegram_base: str) -> Settings:
    """Both platforms configured; Telegram pointed at a real local fake server; a fast-polling sender."""
    return platform_settings(settings, tmp_path).model_copy(
        update={"telegram_api_base_url": telegram_base, "outbox_poll_seconds": 0.05, "telegram_request_timeout": 3}
    )


def sender(app: BotApp, transports: dict[str, Transport]) -> OutboxSender:
    """A sender on the test database with generous limits (the limits have their own tests)."""
    limits = {name: PlatformLimits.build(30, 20, 1) for name in transports}
    return OutboxSender(app.db, app.settings, transports, clock=RunningClock(app.clock), limits=limits)  # type: ignore[arg-type]


async def post_telegram(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    """POST one Telegram update to the webhook; it must be accepted."""
    response = await client.post("/webhook/telegram", json=body, headers={TG_HEADER: TG_SECRET})
    assert response.status_code == 200, response.text


async def post_zalo(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    """POST one Zalo update to the webhook; it must be accepted."""
    response = await client.post("/webhook/zalo", json=body, headers={ZALO_HEADER: ZALO_SECRET})
    assert response.status_code == 200, response.text


async def commune_join_code(app: BotApp) -> str:
    """Build the test tree and return a commune-leader join code for Xã Tân Lập."""
    async with app.db.session() as session:
        tree = await build_tree(session)
        return await join_code(session, tree.commune, Role.COMMUNE_LEADER, app.clock())


async def logged_quantities(app: BotApp) -> list[tuple[str, str, int]]:
    """(platform, chat, quantity) of every stored /ghi item."""
    async with app.db.session() as session:
        query = select(ActivityRecord.platform, ActivityRecord.chat_id, ActivityItem.quantity).join(
            ActivityItem, col(ActivityItem.record_id) == col(ActivityRecord.id)
        )
        return [(p, c, q) for p, c, q in (await session.exec(query)).all()]


def stop_tocns(proc: subprocess.Popen[bytes], timeout: float = 20) -> str:
    """Stop a `tocns` subprocess as Ctrl-C would (killing it if it hangs); its stderr."""
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err.decode()
