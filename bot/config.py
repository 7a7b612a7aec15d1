"""Settings: one pydantic-settings class reading the environment and `.env`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_VALUES = frozenset(
    {
        "changeme",
        "change-me",
        "change_me",
        "your-token-here",
        "your_token_here",
        "token",
        "secret",
        "xxx",
        "todo",
        "placeholder",
        "replace-me",
    }
)

SECRET_FIELDS = (
    "telegram_bot_token",
    "telegram_webhook_secret",
    "zalo_bot_token",
    "zalo_webhook_secret",
    "link_signing_secret",
)


class PlaceholderSecretError(ValueError):
    """A secret still holds the example value from `.env.example`."""


def _is_placeholder(value: str) -> bool:
    lowered = value.strip().lower()
    return lowered in PLACEHOLDER_VALUES or (lowered.startswith("<") and lowered.endswith(">"))


class Settings(BaseSettings):
    """Every setting of the bot; see `.env.example` for the documented list."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./data/tocns.db"
    timezone: str = "Asia/Ho_Chi_Minh"
    auto_migrate: bool = True
    log_level: str = "INFO"

    bot_username: str = "ToCNSBot"
    bot_display_name: str = "Tổ CNS"

    telegram_bot_token: str = ""
    telegram_webhook_secret: str = ""
    telegram_api_base_url: str = "https://api.telegram.org"

    zalo_bot_token: str = ""
    zalo_webhook_secret: str = ""
    zalo_api_base_url: str = "https://bot-api.zaloplatforms.com"

    public_base_url: str = "http://127.0.0.1:8000"
    link_signing_secret: str = ""
    http_host: str = "127.0.0.1"
    http_port: int = 8000

    # --- adapters (issue 7): platform adapters, webhooks, Zalo transport
    webhook_max_body_bytes: int = 1_000_000
    polling_timeout_seconds: int = 30
    zalo_parse_mode: str = "Markdown"
    files_dir: str = "./data/files"
    signed_link_ttl_hours: int = 72

    @field_validator(*SECRET_FIELDS)
    @classmethod
    def _reject_placeholders(cls, value: str, info: object) -> str:
        if value and _is_placeholder(value):
            name = getattr(info, "field_name", "secret").upper()
            raise PlaceholderSecretError(
                f"{name} still holds the placeholder value {value!r} from .env.example; "
                f"set a real value or leave it empty."
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        ZoneInfo(value)
        return value

    @property
    def tz(self) -> ZoneInfo:
        """The local time zone of the bot's users."""
        return ZoneInfo(self.timezone)

    @property
    def is_sqlite(self) -> bool:
        """Whether the configured database is SQLite."""
        return self.database_url.startswith("sqlite")

    def ensure_data_dir(self) -> None:
        """Create the directory of a SQLite database file if it is missing."""
        if self.is_sqlite and ":///" in self.database_url:
            path = self.database_url.split(":///", 1)[1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once."""
    return Settings()
