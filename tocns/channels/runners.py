"""Which platforms are configured, and how `tocns run` starts their long-polling loops."""

from __future__ import annotations

import asyncio
from typing import Any

from tocns.app import BotApp
from tocns.config import Settings
from tocns.core.pipeline import Inbound


def configured_platforms(settings: Settings) -> list[str]:
    """Platforms that have a token configured."""
    platforms = []
    if settings.telegram_bot_token:
        platforms.append("telegram")
    if settings.zalo_bot_token:
        platforms.append("zalo")
    return platforms


def build_adapters(app: BotApp, platforms: list[str]) -> list[Any]:
    """The adapter of each named platform."""
    adapters: list[Any] = []
    if "telegram" in platforms:
        from tocns.channels.telegram import TelegramAdapter

        adapters.append(TelegramAdapter(app))
    if "zalo" in platforms:
        from tocns.channels.zalo import ZaloAdapter

        adapters.append(ZaloAdapter(app))
    return adapters


async def run_polling(
    app: BotApp, platforms: list[str], adapters: list[Any] | None = None, stop: asyncio.Event | None = None
) -> None:
    """Run the long-polling loop of every configured platform until stopped."""
    adapters = adapters if adapters is not None else build_adapters(app, platforms)
    from tocns.core.metrics import METRICS

    inbound = Inbound(app)
    inbound.metrics = METRICS
    for adapter in adapters:
        inbound.add(adapter)
        await adapter.start()
        if adapter.platform == "telegram":
            await adapter.set_menu()
    try:
        await inbound.recover()
        await asyncio.gather(*(adapter.poll(lambda a, u: inbound.receive(a, u), stop) for adapter in adapters))
    finally:
        for adapter in adapters:
            await adapter.close()
