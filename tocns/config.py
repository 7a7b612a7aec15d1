"""Settings: one pydantic-settings class reading the environment and `.env`."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import PrivateAttr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from tocns.log_setup import register_secrets

SQLITE = "sqlite"


def is_sqlite_url(url: str) -> bool:
    """Whether a database URL names SQLite (the embedded default) rather than PostgreSQL."""
    return url.startswith(SQLITE)


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
    "zalo_oa_app_secret",
    "zalo_oa_secret_key",
    "zalo_oa_refresh_token",
    "gapowork_bot_token",
    "gapowork_webhook_secret",
    "link_signing_secret",
)

# The GapoWork webhook is protected by nothing but this secret at the end of its URL (the platform signs nothing).
GAPOWORK_SECRET_MIN_LENGTH = 24


def absolute_sqlite_url(url: str) -> tuple[str, bool]:
    """The URL with a relative SQLite file path made absolute against the working directory, and whether it was."""
    if not is_sqlite_url(url) or ":///" not in url:
        return url, False
    head, rest = url.split(":///", 1)
    path, sep, query = rest.partition("?")
    if not path or path == ":memory:" or path.startswith("file:") or Path(path).is_absolute():
        return url, False
    return f"{head}:///{os.path.abspath(path)}{sep}{query}", True


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
    # The bot's name as Zalo shows it (it starts with "Bot"): members type `@<name> ghi ...` in a group.
    zalo_bot_name: str = ""
    # Hours a Zalo message may wait out "quota exceeded" (429) pauses before it is given up.
    zalo_quota_give_up_hours: float = 12.0

    # Zalo Official Account with group chats (GMF), OA API v3 and OAuth v4 (docs/zalo.md). Empty app id: not served.
    zalo_oa_app_id: str = ""
    zalo_oa_app_secret: str = ""
    # "Khóa bí mật OA" from the app's webhook page: the key of X-ZEvent-Signature (not the app secret).
    zalo_oa_secret_key: str = ""
    # Which key signs X-ZEvent-Signature: `oa_secret` (the OA secret key above, as Zalo documents it) or `app_secret`
    # (one spec's claim). Only that variant is accepted; a call signed any other way is logged and refused.
    zalo_oa_signature_key: str = "oa_secret"
    # A refresh token to bootstrap the token store (`tocns zalo-oa authorize`); used once, Zalo rotates it.
    zalo_oa_refresh_token: str = ""
    zalo_oa_api_base_url: str = "https://openapi.zalo.me"
    zalo_oa_oauth_base_url: str = "https://oauth.zaloapp.com"
    # Requests a second to the OA API: the Growth package allows about 100 a minute (uploads count too).
    zalo_oa_global_rate: float = 1.5

    # GapoWork chatbot (docs/gapowork.md). Empty token: not served.
    # The bot's numeric id (up to 19 digits), sent as bot_id with every message and checked against to_bot_id.
    gapowork_bot_id: str = ""
    # The bot's key, sent in the x-gapo-api-key header.
    gapowork_bot_token: str = ""
    # The last segment of the webhook URL (/webhook/gapowork/<secret>): GapoWork signs nothing, so this is the lock.
    gapowork_webhook_secret: str = ""
    gapowork_api_base_url: str = "https://api.gapowork.vn"
    # Messages a second to GapoWork (no limit is published; a 429 slows the bot down further).
    gapowork_global_rate: float = 5.0

    public_base_url: str = "http://127.0.0.1:8000"
    link_signing_secret: str = ""
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # Processes `tocns serve` starts (PostgreSQL only; SQLite has a single writer). Roughly one per core.
    web_workers: int = 1

    # Tasks and reminders (issue 4). Local times in TIMEZONE; a commune can override the lead days with /caidat.
    task_reminder_hour: int = 8
    task_lead_days: str = "3,1,0"
    task_escalate_after_days: int = 2
    quiet_hours_start: int = 21
    quiet_hours_end: int = 7
    nudge_weekday: int = 4
    nudge_hour: int = 16

    # Activity logging (/ghi, /sua, /xoa).
    logging_edit_window_days: int = 31

    # Reports and digests (issue 5).
    weekly_summary_weekday: int = 0
    weekly_summary_time: str = "07:30"
    commune_digest_time: str = "07:00"
    commune_digest_frequency: str = "weekly"

    # Outbox sender and directives (issue 6)
    telegram_global_rate: float = 30.0
    telegram_chat_per_minute: int = 20
    # Telegram allows about one message per second to one private chat (its per-group limit is 20 a minute).
    telegram_private_per_second: float = 1.0
    telegram_request_timeout: float = 10.0
    # Telegram's paid broadcast (allow_paid_broadcast on every send): up to 1,000 messages a second instead of about
    # 30, for 0.1 Telegram Star a message from the bot's balance; the /chidao preview shows the time and the cost.
    telegram_paid_broadcast: bool = False
    telegram_paid_broadcast_rate: float = 1000.0
    zalo_global_rate: float = 10.0
    zalo_chat_per_minute: int = 20
    outbox_senders: int = 1
    outbox_lease_seconds: float = 300.0
    outbox_max_attempts: int = 8
    outbox_poll_seconds: float = 1.0
    directive_reminder_hours: float = 24.0

    # --- channels (issue 7): platform channels, webhooks, Zalo transport
    webhook_max_body_bytes: int = 1_000_000
    # Days a processed update's raw body (names, ids, messages) is kept; the records and audit stay.
    inbound_retention_days: int = 14
    # --- the inbound queue (issue 14): every worker claims pending updates under a lease and retries failures
    # Attempts at processing one update (an exception, a database error) before it is parked for the operator
    # (`tocns inbound failed` / `retry`); only then does the sender hear that the command failed.
    inbound_max_attempts: int = 5
    # Seconds before the first retry; each further retry waits twice as long (5, 10, 20, 40 s by default).
    inbound_retry_seconds: float = 5.0
    # Seconds a worker owns an update it took; after a crash another worker takes it again after this.
    inbound_lease_seconds: float = 120.0
    # Seconds between two looks for due updates when there is nothing to do.
    inbound_poll_seconds: float = 1.0
    # --- loops and health (issue 22): every background loop survives a database or network outage
    # Longest wait between two tries of a loop whose database (or network) is away; the waits double up to it.
    loop_backoff_max_seconds: float = 30.0
    # /healthz answers 503 when a loop with work due (the outbox has due messages, updates wait) made no
    # progress for this many seconds. Above the longest single send (uploads, request timeouts).
    loop_stall_seconds: float = 120.0
    polling_timeout_seconds: int = 30
    zalo_parse_mode: str = ""

    # --- imports (issue 22): `tocns org import-teams` and `tocns indicators import`, checked before parsing
    # Largest file accepted, in bytes (10 MB holds a province's sheet of teams many times over).
    import_max_file_bytes: int = 10_000_000
    # Largest total an .xlsx (a zip) may inflate to, in bytes, read from its directory before it is opened.
    import_max_uncompressed_bytes: int = 50_000_000
    # Largest compression ratio of one part of an .xlsx over 1 MB (real sheets: about 5-20; zip bombs: 1,000+).
    import_max_compression_ratio: float = 100.0
    # Most rows (besides the heading) one sheet may hold; a larger one is refused, not cut.
    import_max_rows: int = 20_000

    # --- integration: one directory for every file the bot sends (reports, attachments), one link lifetime
    files_dir: str = "./data/files"
    # Processes that draw the scheduled reports' charts and workbooks off the event loop (0: a thread instead, for
    # a console or tests; each process costs about 80 MB once matplotlib is loaded). 2: at 80,000 teams on 2 cores
    # the busy Monday took 60-85 s with 2 and 105 s with 1, the webhook's p99 37 ms either way (they run at a lower
    # priority, in the jobs process; bench/RESULTS.md, "The whole country after the third round").
    render_workers: int = 2
    signed_link_days: int = 7
    # Most raw rows a report workbook keeps on its "Dữ liệu gốc" sheet; above, every raw row goes as CSV in a zip
    # sent next to the workbook (openpyxl writes a row in ~150 µs, CSV in a zip in a fraction of it). 0: never.
    report_raw_sheet_max_rows: int = 5_000
    # Largest zip of raw rows, in bytes: past it the rows go on in the next zip (Telegram bots upload at most 50 MB).
    report_file_max_bytes: int = 45_000_000

    @field_validator(*SECRET_FIELDS)
    @classmethod
    def _reject_placeholders(cls, value: str, info: object) -> str:
        if value and _is_placeholder(value):
            name = getattr(info, "field_name", "secret").upper()
            raise PlaceholderSecretError(
                f"{name} vẫn là giá trị mẫu {value!r} của .env.example; hãy đặt giá trị thật hoặc để trống."
            )
        return value

    @field_validator("gapowork_bot_id")
    @classmethod
    def _gapowork_bot_id(cls, value: str) -> str:
        value = value.strip()
        if value and not (value.isascii() and value.isdigit() and len(value) <= 19):
            raise ValueError("GAPOWORK_BOT_ID là số id của bot GapoWork (tối đa 19 chữ số), ví dụ 5828367940457829714")
        return value

    @field_validator("gapowork_webhook_secret")
    @classmethod
    def _gapowork_secret(cls, value: str) -> str:
        if value and len(value) < GAPOWORK_SECRET_MIN_LENGTH:
            raise ValueError(
                f"GAPOWORK_WEBHOOK_SECRET quá ngắn ({len(value)} ký tự): cần ít nhất {GAPOWORK_SECRET_MIN_LENGTH} ký "
                "tự ngẫu nhiên, vì GapoWork không ký tin gửi tới, chỉ có bí mật này bảo vệ webhook. Tạo bằng: "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        if value and not re.fullmatch(r"[A-Za-z0-9_\-]+", value):
            raise ValueError("GAPOWORK_WEBHOOK_SECRET chỉ gồm chữ, số, '-' và '_' (nó nằm trong đường dẫn webhook)")
        return value

    @field_validator("database_url")
    @classmethod
    def _driver_installed(cls, value: str) -> str:
        # A trial install leaves out asyncpg (the `postgres` extra): one line instead of a driver traceback.
        if value.startswith("postgresql+asyncpg") and importlib.util.find_spec("asyncpg") is None:
            raise ValueError('DATABASE_URL là PostgreSQL nhưng chưa cài gói bổ sung: pip install "tocns[postgres]"')
        return value

    @field_validator("zalo_oa_signature_key")
    @classmethod
    def _documented_signature_key(cls, value: str) -> str:
        if value not in ("oa_secret", "app_secret"):
            raise ValueError(
                f"ZALO_OA_SIGNATURE_KEY={value!r} không có trong tài liệu của Zalo; dùng oa_secret (mặc định, "
                "Khóa bí mật OA) hoặc app_secret"
            )
        return value

    @field_validator(
        "import_max_file_bytes", "import_max_uncompressed_bytes", "import_max_compression_ratio", "import_max_rows"
    )
    @classmethod
    def _positive_limit(cls, value: float, info: object) -> float:
        if value <= 0:
            raise ValueError(f"{getattr(info, 'field_name', 'giới hạn').upper()} phải lớn hơn 0")
        return value

    @field_validator("inbound_max_attempts")
    @classmethod
    def _at_least_one_attempt(cls, value: int) -> int:
        if value < 1:
            raise ValueError("INBOUND_MAX_ATTEMPTS phải từ 1 trở lên")
        return value

    # Whether DATABASE_URL named a SQLite file relative to the working directory (now resolved): the CLI says
    # which file it opened, so a command run from another directory never works on a new, empty database.
    _sqlite_was_relative: bool = PrivateAttr(default=False)

    @model_validator(mode="after")
    def _absolute_sqlite_path(self) -> Settings:
        self.database_url, self._sqlite_was_relative = absolute_sqlite_url(self.database_url)
        return self

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        ZoneInfo(value)
        return value

    @field_validator("weekly_summary_time", "commune_digest_time")
    @classmethod
    def _valid_clock_time(cls, value: str) -> str:
        hour, _, minute = value.partition(":")
        if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
            raise ValueError(f"giờ {value!r} không hợp lệ; dạng HH:MM, ví dụ 07:30")
        return f"{int(hour):02d}:{int(minute):02d}"

    @field_validator("weekly_summary_weekday")
    @classmethod
    def _valid_weekday(cls, value: int) -> int:
        if not 0 <= value <= 6:
            raise ValueError("WEEKLY_SUMMARY_WEEKDAY là 0 (thứ Hai) đến 6 (Chủ nhật)")
        return value

    @field_validator("commune_digest_frequency")
    @classmethod
    def _valid_frequency(cls, value: str) -> str:
        if value not in ("weekly", "daily"):
            raise ValueError("COMMUNE_DIGEST_FREQUENCY là weekly hoặc daily")
        return value

    def model_post_init(self, _context: Any, /) -> None:
        """Register every secret of these settings with the log redaction before anything can log it."""
        register_secrets(self.secret_values())

    def secret_values(self) -> list[str]:
        """Every configured secret: tokens, webhook secrets, the link-signing key and the database password."""
        values = [getattr(self, name) for name in SECRET_FIELDS]
        # The password as written in DATABASE_URL (percent-encoded or not) and as decoded.
        written = re.match(r"[^:/]+://[^:/@]*:(?P<password>.*)@[^@]*$", self.database_url)
        if written:
            values.append(written.group("password"))
        # A URL the database layer cannot parse fails there, with its own message.
        with contextlib.suppress(ArgumentError):
            values.append(make_url(self.database_url).password or "")
        return [v for v in values if v]

    @property
    def default_lead_days(self) -> list[int]:
        """The default reminder lead times, in days before the deadline, largest first."""
        return sorted({int(p) for p in self.task_lead_days.split(",") if p.strip()}, reverse=True)

    @property
    def tz(self) -> ZoneInfo:
        """The local time zone of the bot's users."""
        return ZoneInfo(self.timezone)

    @property
    def is_sqlite(self) -> bool:
        """Whether the configured database is SQLite."""
        return is_sqlite_url(self.database_url)

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database file (absolute), or None for PostgreSQL and in-memory SQLite."""
        if not self.is_sqlite or ":///" not in self.database_url:
            return None
        path = self.database_url.split(":///", 1)[1].partition("?")[0]
        return Path(path) if path and path != ":memory:" and not path.startswith("file:") else None

    @property
    def sqlite_was_relative(self) -> bool:
        """Whether DATABASE_URL gave the SQLite file relative to the working directory."""
        return self._sqlite_was_relative

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
