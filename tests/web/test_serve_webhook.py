"""`tocns serve` refuses to start a deaf Telegram webhook, and checks the one it registers (getWebhookInfo)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.cli.test_cli import TOCNS
from tests.fakes.platforms import TG_SECRET
from tests.fakes.telegram_server import TelegramServer
from tocns.channels.telegram import WebhookNotSet
from tocns.config import Settings
from tocns.web.app import register_platforms


def _env(tmp_path: Path, base_url: str, secret: str | None) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}",
        "TELEGRAM_BOT_TOKEN": "123456:serve-webhook-token",
        "TELEGRAM_API_BASE_URL": base_url,
        "PUBLIC_BASE_URL": "https://bot.example.vn",
        "LINK_SIGNING_SECRET": "serve-webhook-link-secret-0123456789",
        "FILES_DIR": str(tmp_path / "files"),
    }
    env.pop("TELEGRAM_WEBHOOK_SECRET", None)
    if secret is not None:
        env["TELEGRAM_WEBHOOK_SECRET"] = secret
    return env


@pytest.mark.parametrize("secret", [None, "", "bí mật", "a b", "x" * 257, "tocns:secret"])
def test_serve_without_a_valid_secret_exits_2_in_one_line_before_touching_telegram(
    tmp_path: Path, secret: str | None
) -> None:
    with TelegramServer() as server:
        done = subprocess.run(
            [*TOCNS, "serve"],
            env=_env(tmp_path, server.base_url, secret),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "TELEGRAM_WEBHOOK_SECRET" in lines[0] and "A-Z, a-z, 0-9" in lines[0]
    assert server.fake.methods() == []  # no webhook registered that would answer 401 to every update


async def test_the_registered_webhook_is_read_back_and_reported(settings: Settings, tmp_path: Path) -> None:
    with TelegramServer() as server:
        configured = settings.model_copy(
            update={
                "telegram_bot_token": "123456:serve-webhook-token",
                "telegram_api_base_url": server.base_url,
                "telegram_webhook_secret": TG_SECRET,
                "public_base_url": "https://bot.example.vn",
            }
        )
        urls = await register_platforms(configured)
    assert urls == {"telegram": "https://bot.example.vn/webhook/telegram"}
    # getMe first (the bot's name), then the webhook, read back at once.
    assert server.fake.methods()[:3] == ["getMe", "setWebhook", "getWebhookInfo"]


async def test_a_webhook_telegram_does_not_report_stops_the_start(settings: Settings) -> None:
    with TelegramServer() as server:
        server.fake.reported_url = "https://other.example.vn/hook"
        configured = settings.model_copy(
            update={
                "telegram_bot_token": "123456:serve-webhook-token",
                "telegram_api_base_url": server.base_url,
                "telegram_webhook_secret": TG_SECRET,
                "public_base_url": "https://bot.example.vn",
            }
        )
        with pytest.raises(WebhookNotSet, match=r"other\.example\.vn"):
            await register_platforms(configured)
