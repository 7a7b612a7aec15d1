"""Redaction by value: with every secret configured and every logger at DEBUG, no secret reaches the log."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from uvicorn.logging import AccessFormatter

from tests.factories import RunningClock, bound_groups
from tests.fakes.platforms import (
    TG_HEADER,
    ZALO_HEADER,
    channels_for,
    platform_app,
    platform_settings,
    tg_message_update,
    web,
    zalo_update,
)
from tests.fakes.telegram_server import FakeTelegram, TelegramServer
from tests.fakes.zalo_api import FakeZaloApi
from tocns.app import BotApp
from tocns.channels.telegram import TelegramTransport
from tocns.channels.zalo import ZaloTransport
from tocns.config import Settings
from tocns.core.messages import Attachment
from tocns.log_setup import MASK, configure_logging, redact
from tocns.outbox import store as outbox_store
from tocns.outbox.sender import OutboxSender, PlatformLimits
from tocns.web.app import setup_platforms

DB_PASSWORD = "pg-S3cret/p@ss:word"
THIRD_PARTY = ("httpx", "httpcore", "telegram", "telegram.ext", "uvicorn", "uvicorn.access")


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Everything logged at DEBUG by any logger, through a handler added after the bot set up logging."""
    root = logging.getLogger()
    saved = root.level, {name: logging.getLogger(name).level for name in THIRD_PARTY}
    configure_logging(logging.DEBUG)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)  # no filter of ours: redaction must not depend on the handler
    handler.setLevel(logging.DEBUG)
    root.addHandler(handler)
    for name in THIRD_PARTY:  # the bot quietens these; here they talk, to prove redaction rather than silence
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        for name, level in saved[1].items():
            logging.getLogger(name).setLevel(level)


async def test_no_configured_secret_in_any_log_line(
    app: BotApp, settings: Settings, tmp_path: Path, captured: io.StringIO, tg_server: TelegramServer
) -> None:
    psettings = platform_settings(settings, tmp_path)
    papp = platform_app(app, psettings)
    secrets = papp.settings.secret_values()
    assert len(secrets) == 5  # both tokens, both webhook secrets, the signing key
    zalo = FakeZaloApi()
    channels = list(channels_for(papp, tg_server, zalo))

    # Start: channels, setWebhook with its secret, the command menu.
    async with web(papp, channels) as (client, web_app):
        await setup_platforms(list(web_app.state.channels.values()), papp.settings.public_base_url)
        # Webhooks: good and bad secrets on both platforms.
        tg_ok = await client.post(
            "/webhook/telegram",
            json=tg_message_update("/huongdan"),
            headers={TG_HEADER: psettings.telegram_webhook_secret},
        )
        zalo_ok = await client.post(
            "/webhook/zalo", json=zalo_update("/huongdan"), headers={ZALO_HEADER: psettings.zalo_webhook_secret}
        )
        bad = await client.post("/webhook/telegram", json=tg_message_update("/huongdan"), headers={TG_HEADER: "x"})
    assert (tg_ok.status_code, zalo_ok.status_code, bad.status_code) == (200, 200, 401)
    assert {"setWebhook", "setMyCommands"} <= set(tg_server.fake.methods())

    # Sends: Telegram through the outbox sender, Zalo with a document (a signed link).
    chats = await bound_groups(papp.db, 1)
    async with papp.db.session() as session:
        await outbox_store.enqueue(
            session, platform="telegram", chat_id=chats[0], text="Chỉ đạo số 1", kind="directive", now=papp.clock()
        )
    with TelegramServer(FakeTelegram()) as server:
        transport = TelegramTransport(psettings.telegram_bot_token, server.base_url, timeout=2)
        fast = psettings.model_copy(update={"outbox_poll_seconds": 0.05})
        limits = {"telegram": PlatformLimits.build(20, 20, 1)}
        # The app's clock (a weekday morning), not the wall clock: at night quiet hours would hold the directive.
        sender = OutboxSender(papp.db, fast, {"telegram": transport}, RunningClock(papp.clock), limits=limits)
        await sender.drain(until_empty=True)
    zalo_transport = ZaloTransport(psettings, client=zalo.client())
    document = Attachment(filename="bao-cao.xlsx", content=b"PK\x03\x04", mime_type="application/vnd.ms-excel")
    await zalo_transport.send("zgroup-1", "Báo cáo tuần", [document])
    link = re.search(r"https://\S+sig=([^&\s]+)", zalo.sent()[-1]["text"])
    assert link is not None
    signature = link.group(1)
    # The access log line uvicorn writes for a download, formatted by uvicorn's own formatter.
    access = logging.getLogger("uvicorn.access")
    access_stream = io.StringIO()
    access_handler = logging.StreamHandler(access_stream)
    access_handler.setFormatter(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s'))
    access.addHandler(access_handler)
    try:
        path = link.group(0).split("bot.example.vn", 1)[1]
        access.info('%s - "%s %s HTTP/%s" %d', "10.0.0.7:5123", "GET", path, "1.1", 200)
    finally:
        access.removeHandler(access_handler)
    # A failure whose message carries a secret (a library quoting its URL in an exception).
    try:
        raise RuntimeError(f"connect failed: {psettings.telegram_api_base_url}/bot{psettings.telegram_bot_token}/x")
    except RuntimeError:
        logging.getLogger("telegram.ext.Updater").exception("network error")

    log_text = captured.getvalue() + access_stream.getvalue()
    # The log did record all this (so the test can fail): the Bot API calls, the webhook, the download.
    assert "setWebhook" in log_text and "sendMessage" in log_text
    assert "GET /files/" in access_stream.getvalue() and f"sig={MASK}" in access_stream.getvalue()
    assert "network error" in log_text and "Traceback" in log_text
    for secret in [*secrets, signature]:
        assert secret not in log_text, secret


def test_database_password_is_redacted_as_written_and_decoded(captured: io.StringIO) -> None:
    from urllib.parse import quote

    written = quote(DB_PASSWORD, safe="")
    url = f"postgresql+asyncpg://tocns:{written}@db.internal:5432/tocns"
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    assert DB_PASSWORD in settings.secret_values()
    logging.getLogger("sqlalchemy.pool").warning("connecting to %s failed", url)
    logging.getLogger("asyncpg").warning("auth failed for password %r", DB_PASSWORD)
    text = captured.getvalue()
    assert "db.internal" in text
    assert written not in text and DB_PASSWORD not in text


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        (
            "GET /files/reports/a.xlsx?exp=1795000000&sig=0a1b2c3d4e HTTP/1.1",
            "GET /files/reports/a.xlsx?exp=1795000000&sig=*** HTTP/1.1",
        ),
        ("Authorization: Bearer tocns_abcdefghijklmnopqrstuvwx", "Authorization: Bearer ***"),
        ("token tocns_abcdefghijklmnopqrstuvwxyz0123 used", "token *** used"),
        ("POST https://api.telegram.org/bot123:abc/sendMessage", "POST https://api.telegram.org/bot***/sendMessage"),
        ("/thamgia thon 3", "/thamgia thon 3"),
    ],
)
def test_redaction_by_shape(line: str, kept: str) -> None:
    assert redact(line) == kept
