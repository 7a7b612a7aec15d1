"""Which platforms are configured, and how `tocns run` starts their long-polling loops."""

from __future__ import annotations

from bot.app import BotApp
from bot.config import Settings


def configured_platforms(settings: Settings) -> list[str]:
    """Platforms that have a token configured."""
    platforms = []
    if settings.telegram_bot_token:
        platforms.append("telegram")
    if settings.zalo_bot_token:
        platforms.append("zalo")
    return platforms


async def run_polling(app: BotApp, platforms: list[str]) -> None:
    """Run the long-polling loop of every configured platform until stopped."""
    raise NotImplementedError(
        f"Platform adapters ({', '.join(platforms)}) are not available yet; unset the tokens to use the console."
    )
